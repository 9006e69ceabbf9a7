/**
 * The store's certificates, from cert-manager (installed by the cluster stack,
 * constructs/aws/kv-cert-manager.ts): a cluster CA of the store's own, the node certificate every
 * store pod presents (to clients, and to its peers for mutual TLS), and one client certificate
 * for each in-cluster client of the chart (the gateways, the backup jobs). docs/security.md has
 * the whole picture.
 *
 * - The CA is self-signed by cert-manager, and its key never rotates (`rotationPolicy: Never`), so a
 *   renewed CA certificate has the same key and subject and every certificate issued earlier still
 *   chains to it: its renewal changes nothing for a running cluster.
 * - The node certificate is one for all pods: a wildcard name under the headless Service (peers
 *   dial `<pod>.<peer service>`), the client Service's names, and the node marker URI the nodes
 *   check before they serve kv.v1.Peer (app/rpc/tls.ts NODE_CERT_URI). Its key rotates on every
 *   renewal. The kubelet refreshes the mounted Secret, and the node re-reads the files for new
 *   connections (--tls-reload-interval-ms): a rotation restarts nothing.
 * - A client certificate's common name is what the client auth file (a ConfigMap here) lists
 *   with a role.
 */
import * as kplus from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { CLIENT_SECURITY_ENV } from '../../app/cli/security';
import { settingEnv } from '../../app/node/config';
import { NODE_CERT_URI } from '../../app/rpc/tls';
import { Certificate, CertificateSpecPrivateKeyAlgorithm, CertificateSpecPrivateKeyRotationPolicy, CertificateSpecUsages, Issuer } from './imports/cert-manager.io';

const k8s = kplus.k8s;

/** Where a certificate Secret is mounted in a pod: tls.crt, tls.key and ca.crt (cert-manager's keys). */
export const TLS_DIR = '/etc/kv/tls';
export const TLS_FILES = { cert: `${TLS_DIR}/tls.crt`, key: `${TLS_DIR}/tls.key`, ca: `${TLS_DIR}/ca.crt` } as const;
/** Where the client auth file's ConfigMap is mounted. */
export const CLIENT_AUTH_DIR = '/etc/kv/clients';
export const CLIENT_AUTH_FILE = `${CLIENT_AUTH_DIR}/clients.jsonl`;

/** Roles of the client auth file (app/api/client-auth.ts). */
export type KvClientRole = 'read-only' | 'read-write' | 'admin';

/** A client of the store allowed by the client auth file. */
export interface KvClientGrant {
  /** Name in logs and errors. */
  readonly name: string;
  readonly role: KvClientRole;
  /** The common name of its client certificate (one of this CA's). */
  readonly certificateCommonName?: string;
  /** SHA-256 (hex) of its bearer token; the token itself never appears in a manifest. */
  readonly tokenSha256?: string;
  /**
   * Keys it may touch start with one of these.
   * @default - every key
   */
  readonly prefixes?: readonly string[];
}

export interface KvTlsProps {
  /** The store's name: every object here is `<name>-...`. */
  readonly name: string;
  readonly namespace: string;
  readonly peerServiceName: string;
  readonly clientServiceName: string;
  readonly clusterDomain: string;
  readonly labels: Readonly<Record<string, string>>;
  /** In-cluster clients that get a certificate from this CA (common name `<name>-<client>`), with their role. */
  readonly clientCertificates: Readonly<Record<string, KvClientRole>>;
  /** More clients for the client auth file (applications, with tokens or their own certificates). */
  readonly grants: readonly KvClientGrant[];
  /**
   * Lifetime of node and client certificates, hours; renewed when a third is left.
   * @default 2160 - 90 days, renewed 30 days before the end
   */
  readonly certificateHours?: number;
}

/** Hours of the CA certificate: ten years (its key stays across renewals, see above). */
const CA_HOURS = 87_600;

export class KvTls extends Construct {
  /** Secret holding the node certificate, its key and the CA. */
  public readonly nodeSecretName: string;
  /** Secret name of each in-cluster client's certificate, by client. */
  public readonly clientSecretNames: Readonly<Record<string, string>>;
  /** ConfigMap holding the client auth file (key clients.jsonl). */
  public readonly clientAuthConfigMapName: string;
  /** The CA issuer, for certificates of other clients (applications in other namespaces use their own copy of ca.crt). */
  public readonly caIssuerName: string;

  constructor(scope: Construct, id: string, props: KvTlsProps) {
    super(scope, id);
    const hours = props.certificateHours ?? 2160;
    if (!Number.isInteger(hours) || hours < 24 || hours > 8760) throw new Error(`tls.certificateHours: ${hours} is not a whole number of hours within 24..8760 (a day to a year)`);
    const renewHours = Math.floor(hours / 3);
    const { name, namespace, labels } = props;
    const metadata = (objectName: string) => ({ name: objectName, namespace, labels: { ...labels } });

    const selfSigned = new Issuer(this, 'SelfSignedIssuer', { metadata: metadata(`${name}-selfsigned`), spec: { selfSigned: {} } });
    const caSecret = `${name}-ca`;
    const ca = new Certificate(this, 'CaCertificate', {
      metadata: metadata(`${name}-ca`),
      spec: {
        isCa: true,
        commonName: `${name}.${namespace} cluster CA`,
        secretName: caSecret,
        duration: `${CA_HOURS}h`,
        renewBefore: `${CA_HOURS / 10}h`,
        privateKey: { algorithm: CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256, rotationPolicy: CertificateSpecPrivateKeyRotationPolicy.NEVER },
        issuerRef: { kind: 'Issuer', name: selfSigned.name },
      },
    });
    const caIssuer = new Issuer(this, 'CaIssuer', { metadata: metadata(`${name}-ca-issuer`), spec: { ca: { secretName: caSecret } } });
    caIssuer.node.addDependency(ca);
    this.caIssuerName = caIssuer.name;

    const leaf = (certId: string, certName: string, secretName: string, spec: { commonName: string; usages: CertificateSpecUsages[]; dnsNames?: string[]; ipAddresses?: string[]; uris?: string[] }) =>
      new Certificate(this, certId, {
        metadata: metadata(certName),
        spec: {
          ...spec,
          secretName,
          duration: `${hours}h`,
          renewBefore: `${renewHours}h`,
          privateKey: { algorithm: CertificateSpecPrivateKeyAlgorithm.ECDSA, size: 256, rotationPolicy: CertificateSpecPrivateKeyRotationPolicy.ALWAYS },
          issuerRef: { kind: 'Issuer', name: caIssuer.name },
        },
      });

    const svc = (service: string) => [`${service}.${namespace}.svc.${props.clusterDomain}`, `${service}.${namespace}.svc`, `${service}.${namespace}`, service];
    this.nodeSecretName = `${name}-node-tls`;
    leaf('NodeCertificate', `${name}-node`, this.nodeSecretName, {
      commonName: `${name}-node`,
      // Peers dial <pod>.<headless service>; clients the client Service; a pod's own hooks 127.0.0.1.
      dnsNames: [`*.${props.peerServiceName}.${namespace}.svc.${props.clusterDomain}`, ...svc(props.clientServiceName), 'localhost'],
      ipAddresses: ['127.0.0.1'],
      uris: [NODE_CERT_URI],
      usages: [CertificateSpecUsages.SERVER_AUTH, CertificateSpecUsages.CLIENT_AUTH, CertificateSpecUsages.DIGITAL_SIGNATURE],
    });

    const clientSecretNames: Record<string, string> = {};
    const grants: KvClientGrant[] = [];
    for (const [client, role] of Object.entries(props.clientCertificates)) {
      const commonName = `${name}-${client}`;
      clientSecretNames[client] = `${commonName}-tls`;
      // A client that also serves (a gateway) presents the same certificate to its own clients.
      leaf(`ClientCertificate-${client}`, commonName, clientSecretNames[client]!, {
        commonName,
        dnsNames: svc(commonName),
        usages: [CertificateSpecUsages.CLIENT_AUTH, CertificateSpecUsages.SERVER_AUTH, CertificateSpecUsages.DIGITAL_SIGNATURE],
      });
      grants.push({ name: client, role, certificateCommonName: commonName });
    }
    this.clientSecretNames = clientSecretNames;

    const all = [...grants, ...props.grants];
    const names = new Set<string>();
    for (const g of all) {
      if (names.has(g.name)) throw new Error(`tls.clients: the name ${JSON.stringify(g.name)} is given twice (each client needs its own)`);
      names.add(g.name);
      if (g.certificateCommonName === undefined && g.tokenSha256 === undefined) throw new Error(`tls.clients: ${JSON.stringify(g.name)} has neither certificateCommonName nor tokenSha256: nothing could ever authenticate as it`);
      if (g.tokenSha256 !== undefined && !/^[0-9a-f]{64}$/.test(g.tokenSha256)) throw new Error(`tls.clients: ${JSON.stringify(g.name)} tokenSha256 is not 64 lowercase hex digits (printf %s "$TOKEN" | sha256sum)`);
    }
    this.clientAuthConfigMapName = `${name}-clients`;
    const lines = all.map((g) => JSON.stringify({ name: g.name, role: g.role, ...(g.certificateCommonName ? { certificateCommonName: g.certificateCommonName } : {}), ...(g.tokenSha256 ? { tokenSha256: g.tokenSha256 } : {}), ...(g.prefixes ? { prefixes: g.prefixes } : {}) }));
    new k8s.KubeConfigMap(this, 'ClientAuth', { metadata: metadata(this.clientAuthConfigMapName), data: { 'clients.jsonl': `${lines.join('\n')}\n` } });
  }
}

/** What a pod needs to use a certificate Secret: its volume, the mount and the variables naming the files. */
export interface TlsPodParts {
  readonly volumes: kplus.k8s.Volume[];
  readonly volumeMounts: kplus.k8s.VolumeMount[];
  readonly env: kplus.k8s.EnvVar[];
}

const TLS_VOLUME = 'tls';
const CLIENT_AUTH_VOLUME = 'clients';

function secretVolume(secretName: string): Pick<TlsPodParts, 'volumes' | 'volumeMounts'> {
  // A whole-directory mount (never subPath): the kubelet updates it in place when cert-manager renews.
  return { volumes: [{ name: TLS_VOLUME, secret: { secretName, defaultMode: 0o440 } }], volumeMounts: [{ name: TLS_VOLUME, mountPath: TLS_DIR, readOnly: true }] };
}

/** A client of the store (`kv backup`, `kv chaos check`): presents the Secret's certificate, trusts its CA (the CLI's KV_CLIENT_TLS_* variables). */
export function clientTlsParts(secretName: string): TlsPodParts {
  return {
    ...secretVolume(secretName),
    env: [
      { name: CLIENT_SECURITY_ENV['tls-ca'], value: TLS_FILES.ca },
      { name: CLIENT_SECURITY_ENV['tls-cert'], value: TLS_FILES.cert },
      { name: CLIENT_SECURITY_ENV['tls-key'], value: TLS_FILES.key },
    ],
  };
}

/**
 * A server of kv.v1.KV (a gateway): serves TLS with the Secret's certificate, presents it upstream,
 * and admits the clients of the client auth file (the node's settings).
 */
export function serverTlsParts(secretName: string, clientAuthConfigMapName: string): TlsPodParts {
  const files = secretVolume(secretName);
  return {
    volumes: [...files.volumes, { name: CLIENT_AUTH_VOLUME, configMap: { name: clientAuthConfigMapName } }],
    volumeMounts: [...files.volumeMounts, { name: CLIENT_AUTH_VOLUME, mountPath: CLIENT_AUTH_DIR, readOnly: true }],
    env: Object.entries(nodeTlsSettings()).map(([name, value]) => ({ name, value })),
  };
}

/** The node settings (KV_* variables) that turn TLS and client authorization on, with the files where the parts above mount them. */
export function nodeTlsSettings(): Record<string, string> {
  return {
    [settingEnv('tlsCertFile')]: TLS_FILES.cert,
    [settingEnv('tlsKeyFile')]: TLS_FILES.key,
    [settingEnv('tlsCaFile')]: TLS_FILES.ca,
    [settingEnv('clientAuthFile')]: CLIENT_AUTH_FILE,
  };
}
