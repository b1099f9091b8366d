import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** One client request as the forwarders see it, whichever protocol the client spoke. */
export interface ProxiedRequest {
  readonly method: string;
  /** Origin-form path with query. */
  readonly path: string;
  /** What the upstream is sent as Host / :authority: the authority the request was routed by (authority.ts). */
  readonly authority: string;
  /** End-to-end headers without Host: a flat [name, value, …] list from HTTP/1.1, an object from HTTP/2. */
  readonly headers: readonly string[] | OutgoingHttpHeaders;
  /** The request body, or null when the request has none. */
  readonly body: Readable | null;
  readonly grpc: boolean;
  readonly sourceAddress: string;
  /** An HTTP/2 stream, which its client may reset in the very read that brought it (endpoint-gate.ts). */
  readonly multiplexed: boolean;
}

/** Header lookup that works on both header shapes; for the few reads done per request. */
export function headerValue(headers: ProxiedRequest['headers'], name: string): string | undefined {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
    return undefined;
  }
  const value = (headers as OutgoingHttpHeaders)[name];
  return Array.isArray(value) ? value[0] : value === undefined ? undefined : String(value);
}

/** `request` with the headers in `set` replacing any of the same name; the request itself is left as it is. */
export function withHeaders(request: ProxiedRequest, set: Readonly<Record<string, string>>): ProxiedRequest {
  const source = request.headers;
  let headers: ProxiedRequest['headers'];
  if (Array.isArray(source)) {
    const flat: string[] = [];
    for (let i = 0; i < source.length; i += 2) if (!Object.hasOwn(set, source[i]!)) flat.push(source[i]!, source[i + 1]!);
    for (const name in set) flat.push(name, set[name]!);
    headers = flat;
  } else {
    headers = { ...(source as OutgoingHttpHeaders), ...set };
  }
  return { ...request, headers };
}
