/**
 * Pure helpers that turn StatefulSet facts (name, replicas, headless service, namespace) into the
 * node's `KV_PEERS` / `KV_ADVERTISE` values. A StatefulSet pod is named `<set>-<ordinal>` and is
 * reachable at `<pod>.<headless-service>.<namespace>.svc.<cluster-domain>`, so the full member list
 * is known from the replica count alone, before any pod starts.
 */
import { settingEnv } from '../../app/node/config';

export interface PeerListOptions {
  /** StatefulSet name; pods are `<setName>-0 .. <setName>-(replicas-1)`. */
  readonly setName: string;
  readonly replicas: number;
  /** Name of the headless Service that gives each pod its DNS name. */
  readonly headlessServiceName: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly port: number;
}

/** DNS name of one pod, e.g. `kv-0.kv-peer.kv.svc.cluster.local`. */
export function podHost(podName: string, o: Omit<PeerListOptions, 'setName' | 'replicas' | 'port'>): string {
  return `${podName}.${o.headlessServiceName}.${o.namespace}.svc.${o.clusterDomain}`;
}

/** `kv-0=kv-0.kv-peer.kv.svc.cluster.local:7001,kv-1=...`, every member including the pod itself. */
export function peerList(o: PeerListOptions): string {
  const members: string[] = [];
  for (let ordinal = 0; ordinal < o.replicas; ordinal++) {
    const id = `${o.setName}-${ordinal}`;
    members.push(`${id}=${podHost(id, o)}:${o.port}`);
  }
  return members.join(',');
}

/**
 * `KV_ADVERTISE` as a Kubernetes dependent environment variable: `$(KV_NODE_ID)` is expanded by the
 * kubelet because KV_NODE_ID is defined earlier in the same container's env list.
 */
export function advertiseAddress(o: Omit<PeerListOptions, 'setName' | 'replicas'>): string {
  return `${podHost(`$(${settingEnv('nodeId')})`, o)}:${o.port}`;
}
