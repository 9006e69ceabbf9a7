/**
 * A loopback HTTPS server with a self-signed certificate made by openssl at test time, standing
 * in for the Kubernetes API server: tests get its base URL, its CA (the certificate itself), and
 * every request it received.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SelfSigned {
  readonly key: string;
  readonly cert: string;
}

/** A key and a certificate for 127.0.0.1, valid for a day (EC P-256: quick to make). */
export function selfSigned(): SelfSigned {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-tls-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
    return { key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(cert, 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

export interface LoopbackHttps {
  readonly baseUrl: string;
  readonly port: number;
  readonly requests: ReceivedRequest[];
  close(): Promise<void>;
}

/** Serves `handler` on 127.0.0.1 at a free port with the given certificate. */
export async function startLoopbackHttps(tls: SelfSigned, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<LoopbackHttps> {
  const requests: ReceivedRequest[] = [];
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    baseUrl: `https://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A pod's service account directory (`token`, `ca.crt` trusting `tls`) under a new temporary
 * folder; `remove` deletes the folder.
 */
export function fakeServiceAccountDir(tls: SelfSigned, prefix: string): { readonly dir: string; readonly saDir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const saDir = path.join(dir, 'serviceaccount');
  fs.mkdirSync(saDir);
  fs.writeFileSync(path.join(saDir, 'token'), 'token-1');
  fs.writeFileSync(path.join(saDir, 'ca.crt'), tls.cert);
  return { dir, saDir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
