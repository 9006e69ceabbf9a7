/**
 * gRPC calls written byte by byte over HTTP/2 (node:http2), for requests no gRPC library sends:
 * bodies that do not decode, truncated frames, length prefixes that lie, frames over the size
 * limit, compressed flags without an encoding. What comes back is the status the server chose.
 */
import * as http2 from 'node:http2';

export interface RawAnswer {
  /** grpc-status, or undefined when the server sent none (the stream was reset or cut). */
  readonly code: number | undefined;
  /** grpc-message, percent-decoded. */
  readonly message: string;
  /** Response bytes (the length-prefixed messages, as sent). */
  readonly body: Buffer;
}

/** One gRPC message frame: the compressed flag, a 4-byte length (the message's, unless told), the message. */
export function frame(message: Uint8Array, options: { compressed?: boolean; length?: number } = {}): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(options.compressed ? 1 : 0, 0);
  head.writeUInt32BE(options.length ?? message.length, 1);
  return Buffer.concat([head, message]);
}

/** The whole messages of a response body (length-prefixed frames); a frame still arriving is left out. */
export function messagesOf(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    if (at + 5 + length > body.length) break;
    out.push(body.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return out;
}

export interface CallOptions {
  /** End the request after the body (default), or leave it open, as a stream that sends more. */
  readonly end?: boolean;
  /** How long to wait for the status. @default 5000 */
  readonly waitMs?: number;
  /** Extra request headers (grpc-timeout, kv-from ...). */
  readonly metadata?: Record<string, string>;
  /** For a stream left open: resolve (code undefined, message 'answered') once this holds for the messages received. */
  readonly until?: (messages: Buffer[]) => boolean;
}

/** An HTTP/2 session to a gRPC server; `call` sends one request body and waits for the status. */
export class RawGrpc {
  private session: http2.ClientHttp2Session;

  constructor(private readonly address: string) {
    this.session = this.connect();
  }

  private connect(): http2.ClientHttp2Session {
    const session = http2.connect(`http://${this.address}`);
    session.on('error', () => {});
    return session;
  }

  /**
   * Sends `body` to `path` and ends the request (unless `end` is false, for a stream left open);
   * resolves with the status, or with code undefined if none came within `waitMs`.
   */
  call(path: string, body: Buffer, options: CallOptions = {}): Promise<RawAnswer> {
    // A session the server ended (GOAWAY) is replaced: each call stands on its own.
    if (this.session.closed || this.session.destroyed) this.session = this.connect();
    return new Promise((resolve) => {
      const req = this.session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...options.metadata });
      const chunks: Buffer[] = [];
      let settled = false;
      const settle = (code: number | undefined, message: string, cancel = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // Only a stream that has to be cut is reset: Node's HTTP/2 server ends a session that
        // resets streams often (its rapid-reset defence), which would fail the calls after it.
        if (cancel && !req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
        resolve({ code, message: decodeURIComponent(message), body: Buffer.concat(chunks) });
      };
      const timer = setTimeout(() => settle(undefined, 'no status', true), options.waitMs ?? 5000);
      const fromHeaders = (headers: http2.IncomingHttpHeaders) => {
        const status = headers['grpc-status'];
        if (status !== undefined) settle(Number(status), String(headers['grpc-message'] ?? ''));
      };
      req.on('response', fromHeaders);
      req.on('trailers', fromHeaders);
      req.on('data', (c: Buffer) => {
        chunks.push(c);
        // A stream the caller keeps open: done once its answers are in (then cancelled).
        if (!settled && options.until?.(messagesOf(Buffer.concat(chunks)))) {
          // Answered: end our side, as a client that is done would (the server then ends the call).
          if (req.writable) req.end();
          settle(undefined, 'answered');
        }
      });
      req.on('error', (e) => settle(undefined, e.message));
      req.on('close', () => settle(undefined, `stream closed without a status (rst code ${req.rstCode})`));
      req.write(body);
      if (options.end ?? true) req.end();
    });
  }

  close(): void {
    this.session.close();
  }
}
