/**
 * The Job that creates the store's context keys Secret (`kv k8s context-keys`,
 * app/k8s/context-keys-secret.ts) when it does not exist yet, so that a deploy needs no kubectl
 * step: the store's pods wait in ContainerCreating only until it has run. The key is made inside
 * the cluster, by the node image, so no key is ever in the synthesized YAML or the CloudFormation
 * template; an existing Secret is never changed (rotation stays by hand, docs/deploy.md).
 *
 * The Job runs as a ServiceAccount of its own whose token only its pod mounts, and which may
 * `create` Secrets in the namespace (the API cannot narrow a create to one name) and `get` the one
 * Secret it makes, nothing else. It reaches the API as the store's zone init container does: the
 * kubelet's KUBERNETES_SERVICE_HOST and the mounted token; the store's NetworkPolicy restricts
 * ingress only and does not select this pod.
 */
import { createHash } from 'node:crypto';
import * as kplus from 'cdk8s-plus-34';
import { Construct } from 'constructs';

const k8s = kplus.k8s;

/** The component label of the Job's pod: not a store pod (the StatefulSet, Services, PDB and NetworkPolicy select `node`). */
export const CONTEXT_KEYS_COMPONENT = 'context-keys';
/** Pods the Job may start before it counts as failed (each with the Job controller's growing back-off). */
export const CONTEXT_KEYS_JOB_BACKOFF_LIMIT = 4;
/** Wall-clock budget of the whole Job, seconds: a few API calls, with room for the retries. */
export const CONTEXT_KEYS_JOB_DEADLINE_SECONDS = 600;
/** How long a finished Job (and its pods' logs) stays for inspection, seconds: a day. */
export const CONTEXT_KEYS_JOB_TTL_SECONDS = 86_400;
/** A Job (and the label its pods get) is named with at most this many characters. */
const JOB_NAME_LENGTH_MAX = 63;
/** Hex digits of the spec hash in the Job's name. */
const JOB_NAME_HASH_DIGITS = 8;

export interface KvContextKeysProps {
  /** The store's name; the Job, its ServiceAccount and Role are named `<name>-context-keys...`. */
  readonly name: string;
  /** The store's namespace, where the Secret is made. */
  readonly namespace: string;
  /** The node image (it has `kv k8s context-keys`). */
  readonly image: string;
  /** The Secret the store's pods mount. */
  readonly secretName: string;
  /** Labels of the store's pods, to which the component label is added. */
  readonly podLabels: Readonly<Record<string, string>>;
  readonly runAsId: number;
}

export class KvContextKeys extends Construct {
  public readonly jobName: string;
  public readonly serviceAccountName: string;
  public readonly roleName: string;

  constructor(scope: Construct, id: string, props: KvContextKeysProps) {
    super(scope, id);
    const labels = { ...props.podLabels, 'app.kubernetes.io/component': CONTEXT_KEYS_COMPONENT };
    this.serviceAccountName = `${props.name}-context-keys`;
    this.roleName = `${props.name}-context-keys-creator`;

    // Only the Job's pod mounts the token (below), not anything else that might run as this account.
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { name: this.serviceAccountName, labels }, automountServiceAccountToken: false });
    new k8s.KubeRole(this, 'Role', {
      metadata: { name: this.roleName, labels },
      rules: [
        // RBAC cannot limit a create to a name (the object does not exist yet), so this is any
        // Secret of the namespace: the Job's image and arguments decide which one.
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        // Whether it is there already (and, after a 409, that it has the item the pods mount).
        { apiGroups: [''], resources: ['secrets'], resourceNames: [props.secretName], verbs: ['get'] },
      ],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name: this.roleName, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: this.roleName },
      subjects: [{ kind: 'ServiceAccount', name: this.serviceAccountName, namespace: props.namespace }],
    });

    const podSpec: kplus.k8s.PodSpec = {
      serviceAccountName: this.serviceAccountName,
      // The token for its two API calls; the Role above limits it.
      automountServiceAccountToken: true,
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: props.runAsId, runAsGroup: props.runAsId, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'context-keys',
          image: props.image,
          // Tags are immutable in ECR (git SHA), so a cached image is always the right one.
          imagePullPolicy: 'IfNotPresent',
          args: ['k8s', 'context-keys', '--namespace', props.namespace, '--secret', props.secretName],
          resources: {
            requests: { cpu: k8s.Quantity.fromString('50m'), memory: k8s.Quantity.fromString('256Mi') },
            limits: { cpu: k8s.Quantity.fromString('500m'), memory: k8s.Quantity.fromString('256Mi') },
          },
          // The store's containers' settings: non-root, read-only root, nothing to escalate.
          securityContext: {
            runAsNonRoot: true,
            runAsUser: props.runAsId,
            runAsGroup: props.runAsId,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            privileged: false,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
      ],
    };
    // A Job's pod template cannot change once the Job exists, and every deploy brings a new image
    // tag: the name carries a hash of the template, so a changed template is a new Job (the old one
    // is pruned, or gone after its TTL) rather than an apply the API server refuses. Running it
    // again is harmless: it finds the Secret and leaves it.
    const hash = createHash('sha256').update(JSON.stringify(podSpec)).digest('hex').slice(0, JOB_NAME_HASH_DIGITS);
    const suffix = `-context-keys-${hash}`;
    this.jobName = `${props.name.slice(0, JOB_NAME_LENGTH_MAX - suffix.length)}${suffix}`;
    new k8s.KubeJob(this, 'Job', {
      metadata: { name: this.jobName, labels },
      spec: {
        backoffLimit: CONTEXT_KEYS_JOB_BACKOFF_LIMIT,
        activeDeadlineSeconds: CONTEXT_KEYS_JOB_DEADLINE_SECONDS,
        ttlSecondsAfterFinished: CONTEXT_KEYS_JOB_TTL_SECONDS,
        template: { metadata: { labels }, spec: podSpec },
      },
    });
  }
}
