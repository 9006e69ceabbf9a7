/**
 * Malformed requests are answered INVALID_ARGUMENT on every service the node serves: one that
 * does not decode as protobuf (naming the method, the message type, the size and what failed),
 * and one that brings no whole message, or two, to a method that takes one.
 *
 * grpc-js answers a request its deserializer throws on with INTERNAL ("Error deserializing
 * request"), and the README keeps INTERNAL for bugs: a client that sent garbage would be told the
 * node is broken. grpc-js reports such a failure before any handler or interceptor can choose the
 * status, so the cut is in two parts: guardDecoding wraps each method's deserializer so that a
 * failure becomes an UndecodableRequest value instead of an exception, and the rejectMalformed
 * interceptor answers that value with INVALID_ARGUMENT before a handler sees it. Handlers
 * therefore only ever receive decoded messages, for unary and streaming methods alike; on a
 * stream, the first undecodable message ends the stream with the status.
 */
import * as grpc from '@grpc/grpc-js';
import { WRITE_MAY_HAVE_APPLIED_TRAILER } from './status-map';

/** Characters of the decoder's own message kept in the status (protobufjs's are short). */
const DECODE_REASON_CHARS_MAX = 200;

/** What a method's handler would have received, had the request decoded. */
export class UndecodableRequest {
  constructor(
    /** The message type the bytes were decoded as (kv.v1.PutRequest). */
    readonly typeName: string,
    readonly bytes: number,
    /** The decoder's error message. */
    readonly reason: string,
  ) {}

  /** The status details: the method, the type, the size and the decoder's reason. */
  describe(path: string): string {
    const reason = this.reason.length > DECODE_REASON_CHARS_MAX ? `${this.reason.slice(0, DECODE_REASON_CHARS_MAX)}...` : this.reason;
    return `${path}: the request (${this.bytes} bytes) does not decode as a ${this.typeName} protobuf message: ${reason}; nothing was changed`;
  }
}

/** The request type's full name, from proto-loader's method definition (else the path's service). */
function requestTypeName(method: grpc.MethodDefinition<unknown, unknown>): string {
  const typeName = (method as { requestType?: { type?: { name?: unknown } } }).requestType?.type?.name;
  // '/kv.v1.KV/Put': the package is what precedes the service's own name.
  const service = method.path.split('/')[1] ?? '';
  const pkg = service.includes('.') ? service.slice(0, service.lastIndexOf('.')) : '';
  if (typeof typeName !== 'string') return `request of ${method.path}`;
  return pkg ? `${pkg}.${typeName}` : typeName;
}

/** A copy of a service definition whose deserializers answer UndecodableRequest instead of throwing. */
export function guardDecoding(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const guarded: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition) as [string, grpc.MethodDefinition<unknown, unknown>][]) {
    const decode = method.requestDeserialize;
    const typeName = requestTypeName(method);
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (e) {
          return new UndecodableRequest(typeName, bytes.length, e instanceof Error ? e.message : String(e));
        }
      },
    };
  }
  return guarded as grpc.ServiceDefinition;
}

/**
 * Answers with INVALID_ARGUMENT (and the write-may-have-applied trailer 'false': nothing was done)
 * a request that is not a well-formed protobuf message, and, on a method that takes one message
 * (unary, server-streaming), a request that ends without a whole message (empty, or its last frame
 * cut short) or brings a second one, where grpc-js would answer UNIMPLEMENTED. What the call sends
 * after that is dropped. `rejected` is told the method's path, for the status metric.
 * `passThrough` names streaming methods (paths) left alone: their handlers must answer an
 * UndecodableRequest message themselves (see decodeRefusal).
 */
export function rejectMalformed(rejected?: (path: string) => void, passThrough: ReadonlySet<string> = new Set()): grpc.ServerInterceptor {
  return (method, call) => {
    // A method whose handler answers UndecodableRequest itself: no interception layer on each of
    // its messages (the node's two busiest streams, Batch and Peer/Exchange).
    // (grpc-js chains interceptors through the call interface; its type asks for the class.)
    if (passThrough.has(method.path)) return call as grpc.ServerInterceptingCall;
    let done = false;
    let messages = 0;
    const reject = (details: string) => {
      done = true;
      const metadata = new grpc.Metadata();
      metadata.set(WRITE_MAY_HAVE_APPLIED_TRAILER, 'false');
      rejected?.(method.path);
      intercepting.sendStatus({ code: grpc.status.INVALID_ARGUMENT, details, metadata });
    };
    const intercepting: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message: unknown, pass: (message: unknown) => void) => {
            if (done) return;
            if (message instanceof UndecodableRequest) return reject(message.describe(method.path));
            if (++messages > 1 && !method.requestStream) return reject(`${method.path}: the request brought a second message; the method takes exactly one; nothing was changed`);
            pass(message);
          },
          onReceiveHalfClose: (pass: () => void) => {
            if (done) return;
            if (messages === 0 && !method.requestStream) return reject(`${method.path}: the request ended without a whole message (it was empty, or its frame was cut short); the method takes exactly one; nothing was changed`);
            pass();
          },
        }),
    });
    return intercepting;
  };
}

/**
 * A stand-in for the server that guards every service added through it: for the libraries that
 * add their own services (health, reflection) with `addToServer(server)`.
 */
export function guardedAdder(server: grpc.Server): grpc.Server {
  return { addService: (definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation) => server.addService(guardDecoding(definition), implementation) } as unknown as grpc.Server;
}

/**
 * For a streaming handler the interceptor passes through: the INVALID_ARGUMENT details for a
 * message that did not decode, or undefined for a decoded one.
 */
export function decodeRefusal(message: unknown, path: string): string | undefined {
  return message instanceof UndecodableRequest ? message.describe(path) : undefined;
}
