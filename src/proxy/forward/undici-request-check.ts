// The checks undici's Request makes before it sends anything (lib/core/request.js), made
// before the request is handed to the pool: what undici refuses there it refuses from inside
// dispatch, which leaves the pool's connection marked busy (see Http1Forwarder.forward).

import type { OutgoingHttpHeaders } from 'node:http';
import type { ProxiedRequest } from '../call/proxied-request.ts';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Characters undici allows in a request path. */
const INVALID_PATH = /[^\u0021-\u00ff]/;
/** Characters undici allows in a header value. */
const INVALID_VALUE = /[^\t\u0020-\u007e\u0080-\u00ff]/;

function invalidHeader(name: string, value: unknown): boolean {
  if (!TOKEN.test(name)) return true;
  if (Array.isArray(value)) return value.some((item) => INVALID_VALUE.test(String(item)));
  return value !== undefined && INVALID_VALUE.test(String(value));
}

/** Why undici would refuse to send `request`, or undefined when it would send it. */
export function undiciRefusal(request: ProxiedRequest): string | undefined {
  const { path, method, headers } = request;
  if (path.charCodeAt(0) !== 47 /* '/' */ && !path.startsWith('http://') && !path.startsWith('https://')) {
    return `request target ${JSON.stringify(path.slice(0, 32))} cannot be sent to an HTTP/1.1 upstream (origin-form paths only)`;
  }
  if (INVALID_PATH.test(path)) return 'request path has characters an HTTP/1.1 upstream cannot be sent';
  if (!TOKEN.test(method)) return 'request method is not a token';
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) if (invalidHeader(headers[i]!, headers[i + 1])) return `request header ${JSON.stringify(headers[i]!.slice(0, 32))} cannot be sent to an HTTP/1.1 upstream`;
  } else {
    for (const name in headers) if (invalidHeader(name, (headers as OutgoingHttpHeaders)[name])) return `request header ${JSON.stringify(name.slice(0, 32))} cannot be sent to an HTTP/1.1 upstream`;
  }
  return undefined;
}
