/**
 * The stateless gateway tier in front of the store (`kv node --role gateway`, app/gateway): a
 * Deployment, its Service, a PodDisruptionBudget and a HorizontalPodAutoscaler that scales it on
 * CPU and on operations in flight per pod (`kv_operations_in_flight`, served to the HPA by the
 * Prometheus adapter of the monitoring stack; metrics-server serves CPU). The storage tier never
 * scales by an HPA: its pods hold data and change through membership (docs/operations.md).
 *
 * Gateways prefer spot capacity (a preferred node affinity on EKS's capacity-type label): losing
 * one costs in-flight operations only, which clients retry.
 */
import * as kplus from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { LIVE_PATH, READY_PATH } from '../../observability/probe-paths';
import { checkIntProp } from './int-prop';
import type { TlsPodParts } from './kv-tls';

const k8s = kplus.k8s;

/** The component label of gateway pods (the store's NetworkPolicy admits them to the client port). */
export const GATEWAY_COMPONENT = 'gateway';

export interface KvGatewayOptions {
  /** @default 2 */
  readonly minReplicas?: number;
  /** @default 10 */
  readonly maxReplicas?: number;
  /** Average CPU utilization (of the request) the HPA holds. @default 70 */
  readonly cpuTargetPercent?: number;
  /** Average operations in flight per gateway pod the HPA holds. @default 256 */
  readonly inFlightTarget?: number;
  /** @default 500 */
  readonly cpuRequestMillis?: number;
  /** @default 512 */
  readonly memoryMiB?: number;
}

export interface KvGatewayProps extends KvGatewayOptions {
  readonly name: string;
  readonly image: string;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly metricsPortName: string;
  /** host:port of the store's client Service: the gateways' --upstream. */
  readonly clientEndpoint: string;
  readonly podLabels: Readonly<Record<string, string>>;
  readonly clientNamespaceLabel: string;
  readonly metricsNamespaceLabel: string;
  readonly runAsId: number;
  /**
   * TLS: the certificate it serves and presents upstream, and the client auth file it applies
   * (constructs/k8s/kv-tls.ts serverTlsParts).
   * @default - plaintext, every client may do everything
   */
  readonly tls?: TlsPodParts;
}

/**
 * The taint of the spot node group (lib/cluster-stack.ts): only pods that tolerate it (gateways,
 * load tests) run there; the store's pods never do.
 */
export const SPOT_TAINT = { key: 'dynamo-kv/spot', value: 'true' } as const;

/** What lets a pod run on the spot nodes, and have it prefer them. */
export const SPOT_SCHEDULING = {
  tolerations: [{ key: SPOT_TAINT.key, operator: 'Equal', value: SPOT_TAINT.value, effect: 'NoSchedule' }],
  affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: 'eks.amazonaws.com/capacityType', operator: 'In', values: ['SPOT'] }] } }] } },
};

/** The metric the HPA scales on besides CPU, as the Prometheus adapter names it. */
export const GATEWAY_IN_FLIGHT_METRIC = 'kv_operations_in_flight';

export class KvGateway extends Construct {
  public readonly deploymentName: string;
  public readonly serviceName: string;
  public readonly labels: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: KvGatewayProps) {
    super(scope, id);
    const minReplicas = props.minReplicas ?? 2;
    const maxReplicas = props.maxReplicas ?? 10;
    const cpuTargetPercent = props.cpuTargetPercent ?? 70;
    const inFlightTarget = props.inFlightTarget ?? 256;
    const cpuRequestMillis = props.cpuRequestMillis ?? 500;
    const memoryMiB = props.memoryMiB ?? 512;
    const check = (prop: string, v: number, min: number, max: number) => checkIntProp('KvStoreChart', `gateway.${prop}`, v, min, max);
    check('minReplicas', minReplicas, 1, 1000);
    check('maxReplicas', maxReplicas, minReplicas, 1000);
    check('cpuTargetPercent', cpuTargetPercent, 10, 100);
    check('inFlightTarget', inFlightTarget, 1, 1_000_000);
    check('cpuRequestMillis', cpuRequestMillis, 50, 64_000);
    check('memoryMiB', memoryMiB, 128, 65_536);

    this.deploymentName = `${props.name}-gateway`;
    this.serviceName = `${props.name}-gateway`;
    this.labels = { ...props.podLabels, 'app.kubernetes.io/component': GATEWAY_COMPONENT };
    const labels = this.labels;
    const namespace = undefined; // the chart's namespace is stamped on every object
    const env = (name: string, value: string) => ({ name, value });

    new k8s.KubeDeployment(this, 'Deployment', {
      metadata: { name: this.deploymentName, labels, namespace },
      spec: {
        // The HPA owns the count from here; this is where it starts.
        replicas: minReplicas,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) } },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            // Long enough to finish what is in flight (the gateway drains for shutdownGraceMs, 10 s by default).
            terminationGracePeriodSeconds: 30,
            // fsGroup: the mounted certificate key (mode 0440) is readable by the pod's group.
            securityContext: { runAsNonRoot: true, runAsUser: props.runAsId, runAsGroup: props.runAsId, fsGroup: props.runAsId, seccompProfile: { type: 'RuntimeDefault' } },
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } }],
            ...SPOT_SCHEDULING,
            volumes: props.tls?.volumes,
            containers: [
              {
                name: 'gateway',
                image: props.image,
                imagePullPolicy: 'IfNotPresent',
                args: ['node'],
                ports: [
                  { name: 'grpc', containerPort: props.grpcPort },
                  { name: props.metricsPortName, containerPort: props.metricsPort },
                ],
                env: [
                  env('KV_ROLE', 'gateway'),
                  { name: 'KV_NODE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'KV_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                  env('KV_HOST', '0.0.0.0'),
                  env('KV_PORT', String(props.grpcPort)),
                  env('KV_ADVERTISE', `$(KV_POD_IP):${props.grpcPort}`),
                  env('KV_UPSTREAM', props.clientEndpoint),
                  env('KV_METRICS_PORT', String(props.metricsPort)),
                  ...(props.tls?.env ?? []),
                ],
                volumeMounts: props.tls?.volumeMounts,
                // Ready once the store answered it (a gateway that cannot reach the store is not).
                // Over plain HTTP on the metrics port, as the store's pods (the kubelet's gRPC probes cannot speak TLS).
                readinessProbe: { httpGet: { path: READY_PATH, port: k8s.IntOrString.fromNumber(props.metricsPort) }, periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 2 },
                livenessProbe: { httpGet: { path: LIVE_PATH, port: k8s.IntOrString.fromNumber(props.metricsPort) }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
                resources: {
                  requests: { cpu: k8s.Quantity.fromString(`${cpuRequestMillis}m`), memory: k8s.Quantity.fromString(`${memoryMiB}Mi`) },
                  limits: { memory: k8s.Quantity.fromString(`${memoryMiB}Mi`) },
                },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      },
    });

    new k8s.KubeService(this, 'Service', {
      metadata: { name: this.serviceName, labels },
      spec: { selector: labels, ports: [{ name: 'grpc', port: props.grpcPort, targetPort: k8s.IntOrString.fromNumber(props.grpcPort) }] },
    });

    new k8s.KubePodDisruptionBudget(this, 'PodDisruptionBudget', {
      metadata: { name: this.deploymentName, labels },
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: labels } },
    });

    new k8s.KubeHorizontalPodAutoscalerV2(this, 'Autoscaler', {
      metadata: { name: this.deploymentName, labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deploymentName },
        minReplicas,
        maxReplicas,
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpuTargetPercent } } },
          { type: 'Pods', pods: { metric: { name: GATEWAY_IN_FLIGHT_METRIC }, target: { type: 'AverageValue', averageValue: k8s.Quantity.fromString(String(inFlightTarget)) } } },
        ],
        behavior: {
          // Up fast (a load step), down slowly (no flapping on a bursty load).
          scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 30 }] },
          scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
        },
      },
    });

    new k8s.KubeNetworkPolicy(this, 'NetworkPolicy', {
      metadata: { name: this.deploymentName, labels },
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress'],
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { [props.clientNamespaceLabel]: 'true' } } }], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(props.grpcPort) }] },
          { from: [{ namespaceSelector: { matchLabels: { [props.metricsNamespaceLabel]: 'true' } } }], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(props.metricsPort) }] },
        ],
      },
    });
  }
}
