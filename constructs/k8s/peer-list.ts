/**
 * Pure helpers that turn StatefulSet facts (name, founding members, headless service, namespace)
 * into the node's `KV_PEERS` / `KV_ADVERTISE` values. A StatefulSet pod is named `<set>-<ordinal>`
 * and is reachable at `<pod>.<headless-service>.<namespace>.svc.<cluster-domain>`, so the founding
 * members' addresses are known before any pod starts. The list names the founding members only,
 * never the replica count: it is part of the pod template, and a template that changed with
 * `replicas` would restart every pod on each scale.
 */
import { settingEnv } from '../../app/node/config';

export interface PeerListOptions {
  /** StatefulSet name; the founding members are pods `<setName>-0 .. <setName>-(foundingMembers-1)`. */
  readonly setName: string;
  readonly foundingMembers: number;
  /** Name of the headless Service that gives each pod its DNS name. */
  readonly headlessServiceName: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly port: number;
}

/** DNS name of one pod, e.g. `kv-0.kv-peer.kv.svc.cluster.local`. */
export function podHost(podName: string, o: Omit<PeerListOptions, 'setName' | 'foundingMembers' | 'port'>): string {
  return `${podName}.${o.headlessServiceName}.${o.namespace}.svc.${o.clusterDomain}`;
}

/**
 * `kv-0=kv-0.kv-peer.kv.svc.cluster.local:7001,kv-1=...`: the founding members. With KV_JOIN=auto a
 * pod listed here starts the cluster with the others; any other pod joins through them (seeds).
 */
export function peerList(o: PeerListOptions): string {
  const members: string[] = [];
  for (let ordinal = 0; ordinal < o.foundingMembers; ordinal++) {
    const id = `${o.setName}-${ordinal}`;
    members.push(`${id}=${podHost(id, o)}:${o.port}`);
  }
  return members.join(',');
}

/**
 * `KV_ADVERTISE` as a Kubernetes dependent environment variable: `$(KV_NODE_ID)` is expanded by the
 * kubelet because KV_NODE_ID is defined earlier in the same container's env list.
 */
export function advertiseAddress(o: Omit<PeerListOptions, 'setName' | 'foundingMembers'>): string {
  return `${podHost(`$(${settingEnv('nodeId')})`, o)}:${o.port}`;
}
