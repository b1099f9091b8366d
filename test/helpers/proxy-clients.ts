// One request through the agent as each kind of client makes it, reduced to what the tests
// compare: an answer (status, x-meshlet-error, gRPC status, body, trailers) or a clean
// failure (the connection or stream was closed or reset). Anything else throws.
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { connect as connectH2 } from 'node:http2';
import { Agent, request } from 'undici';

export type ClientKind = 'http1' | 'h2c' | 'grpc';
export const CLIENT_KINDS: readonly ClientKind[] = ['http1', 'h2c', 'grpc'];

export interface Answer {
  readonly kind: 'answer';
  readonly status: number;
  readonly code: string | undefined;
  /** grpc-status from trailers, or from the headers of a trailers-only response. */
  readonly grpcStatus: string | undefined;
  readonly body: string;
  readonly trailers: Readonly<Record<string, unknown>>;
}

export interface CleanFailure {
  readonly kind: 'reset';
  readonly error: string;
}

export type Outcome = Answer | CleanFailure;

/** Transport-level endings a client may see from a proxy that gave up: all are clean. */
const CLEAN_ERRORS = new Set([
  'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_STREAM_CANCEL', 'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_RESPONSE_STATUS_CODE', 'HPE_INVALID_CHUNK_SIZE', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ECONNREFUSED',
]);

export function cleanFailure(err: unknown): CleanFailure {
  const code = (err as { code?: string }).code ?? '';
  if (!CLEAN_ERRORS.has(code)) throw err;
  return { kind: 'reset', error: code };
}

/** Clients that keep their connections for many requests; close() ends them all. */
export class ProxyClients {
  private readonly dispatcher = new Agent({ pipelining: 1 });
  private readonly sessions = new Map<string, ClientHttp2Session>();

  async send(kind: ClientKind, address: string, options: { path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Outcome> {
    return kind === 'http1' ? this.http1(address, options) : this.http2(kind === 'grpc', address, options);
  }

  async close(): Promise<void> {
    for (const session of this.sessions.values()) session.destroy();
    this.sessions.clear();
    await this.dispatcher.close();
  }

  private async http1(address: string, options: { path?: string; headers?: Record<string, string>; body?: string }): Promise<Outcome> {
    try {
      const res = await request(`http://${address}${options.path ?? '/'}`, {
        dispatcher: this.dispatcher,
        method: options.body === undefined ? 'GET' : 'POST',
        headers: options.headers ?? {},
        body: options.body,
      });
      const body = await res.body.text();
      return {
        kind: 'answer', status: res.statusCode, code: res.headers['x-meshlet-error'] as string | undefined,
        grpcStatus: (res.trailers['grpc-status'] ?? res.headers['grpc-status']) as string | undefined, body, trailers: res.trailers,
      };
    } catch (err) {
      return cleanFailure(err);
    }
  }

  private session(address: string): ClientHttp2Session {
    let session = this.sessions.get(address);
    if (!session || session.closed || session.destroyed) {
      session = connectH2(`http://${address}`);
      session.on('error', () => undefined);
      this.sessions.set(address, session);
    }
    return session;
  }

  private http2(grpc: boolean, address: string, options: { path?: string; headers?: Record<string, string>; body?: string }): Promise<Outcome> {
    const headers: OutgoingHttpHeaders = { ':method': options.body === undefined && !grpc ? 'GET' : 'POST', ':path': options.path ?? '/', ...options.headers };
    if (grpc) Object.assign(headers, { 'content-type': 'application/grpc', te: 'trailers' });
    return new Promise((resolve, reject) => {
      let stream;
      try {
        stream = this.session(address).request(headers, { endStream: options.body === undefined && !grpc });
      } catch (err) {
        resolve(cleanFailure(err));
        return;
      }
      let responseHeaders: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        responseHeaders = h;
      });
      stream.on('trailers', (t) => {
        trailers = t;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err) => {
        try {
          resolve(cleanFailure(err));
        } catch (unexpected) {
          reject(unexpected as Error);
        }
      });
      // After 'end' or 'error' this changes nothing; alone, it is a reset with NO_ERROR or CANCEL.
      stream.on('close', () => resolve({ kind: 'reset', error: `RST_STREAM ${stream.rstCode}` }));
      stream.on('end', () => {
        resolve({
          kind: 'answer',
          status: Number(responseHeaders[':status']),
          code: responseHeaders['x-meshlet-error'] as string | undefined,
          grpcStatus: (trailers['grpc-status'] ?? responseHeaders['grpc-status']) as string | undefined,
          body: Buffer.concat(chunks).toString('latin1'),
          trailers,
        });
      });
      if (grpc) stream.end(Buffer.from([0, 0, 0, 0, 0]));
      else if (options.body !== undefined) stream.end(options.body);
    });
  }
}
