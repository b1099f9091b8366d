// Which answers stale-if-error may keep, and the key it keeps them by. A shared cache's rules
// (RFC 9111 §3, §3.5) decide: a 200 to a GET, not marked no-store or private, setting no
// cookie, not varying by request headers (Vary is not matched here), and not an answer to a
// request that carried credentials; and small enough to keep whole.

import type { OutgoingHttpHeaders } from 'node:http';
import { headerValue, type ProxiedRequest } from '../proxy/call/proxied-request.ts';

/** The key of a request whose answer may be kept: method GET, authority, path and query; undefined for any other. */
export function staleKeyOf(request: ProxiedRequest): string | undefined {
  if (request.method !== 'GET' || request.grpc) return undefined;
  if (headerValue(request.headers, 'authorization') !== undefined) return undefined;
  // The authority holds no '/', so authority + path cannot collide across authorities.
  return request.authority + request.path;
}

const NOT_SHARED = /(?:^|[\s,])(?:no-store|private)(?:$|[\s,=])/i;

/** Whether a 200's head allows keeping it, with a body no larger than `maxEntryBytes` where it says its length. */
export function keepable(headers: OutgoingHttpHeaders, maxEntryBytes: number): boolean {
  if (headers['set-cookie'] !== undefined || headers['vary'] !== undefined) return false;
  const cacheControl = headers['cache-control'];
  if (cacheControl !== undefined && NOT_SHARED.test(String(cacheControl))) return false;
  const length = headers['content-length'];
  return length === undefined || Number(length) <= maxEntryBytes;
}

/** The `age` an answer arrived with, seconds (RFC 9111 §5.1); 0 when it had none or a bad one. */
export function ageOf(headers: OutgoingHttpHeaders): number {
  const value = Number(headers['age']);
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** The kept headers: the response's own, less what the stale answer sets itself. */
export function keptHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const kept: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (name === 'content-length' || name === 'age' || name === 'trailer' || name.charCodeAt(0) === 58 /* ':' */) continue;
    kept[name] = headers[name];
  }
  return kept;
}
