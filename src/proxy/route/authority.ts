// Which authority a request names, and so which upstream it routes to and what the upstream
// is sent as Host / :authority: one rule for HTTP/1.1 and HTTP/2 clients.
//
// The upstream is sent the authority the client addressed (the upstream's name, with any port,
// as written), which is what Envoy and Linkerd send by default: name-based virtual hosts and
// absolute links on the upstream keep working, and the endpoint's own address says nothing
// about the service. It is never the client's Host header when the request target names
// another authority (RFC 9112 §3.2.2), and never carries userinfo.

import { hostNameKey } from '../../config/address.ts';

/** A request the authority rules refuse: the metric reason and the client's message. */
export interface AuthorityRefusal {
  readonly reason: string;
  readonly message: string;
}

function refusal(reason: string, message: string): AuthorityRefusal {
  return { reason, message };
}

const USERINFO = refusal('userinfo', 'the request target must not carry userinfo (user:password@)');
const MISMATCH = refusal('authority_mismatch', 'the Host header names another authority than the request target');
const BAD_AUTHORITY = refusal('bad_authority', 'the authority is not a host with an optional port');
const BAD_TARGET = refusal('bad_request', 'the request target is not an http:// URI or a path');

/** host = [IPv6] | IPv4 | reg-name (RFC 3986 §3.2.2, unreserved / pct-encoded / sub-delims), then an optional port. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]{0,5})?$/;

/** The upstream a host or authority names: no port, no IPv6 brackets, in hostNameKey form. */
export function routingName(authority: string): string {
  let host: string;
  if (authority.charCodeAt(0) === 91 /* '[' */) {
    const close = authority.indexOf(']');
    host = authority.slice(1, close < 0 ? undefined : close);
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
  }
  return hostNameKey(host);
}

function portOf(authority: string): string {
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  // Only the http scheme is proxied, so a missing (or empty) port is 80.
  return colon > close && colon < authority.length - 1 ? String(Number(authority.slice(colon + 1))) : '80';
}

/** Whether two authorities name the same host and port. */
function sameAuthority(a: string, b: string): boolean {
  return routingName(a) === routingName(b) && portOf(a) === portOf(b);
}

/**
 * The authority a request is routed by and sends upstream, or why it is refused. `target` is
 * the authority the request itself names (an absolute-form URI's, or HTTP/2's :authority);
 * `host` the Host header. The target wins; a Host that disagrees with it is refused (RFC 9112
 * §3.2.2, RFC 9113 §8.3.1), as is userinfo (RFC 9110 §4.2.4). '' means the request names none.
 */
export function requestAuthority(target: string | undefined, host: string | undefined): string | AuthorityRefusal {
  if (target) {
    if (target.includes('@')) return USERINFO;
    if (!AUTHORITY.test(target)) return BAD_AUTHORITY;
    if (host && !sameAuthority(target, host)) return MISMATCH;
    return target;
  }
  if (!host) return '';
  return AUTHORITY.test(host) ? host : BAD_AUTHORITY;
}

/** An HTTP/1.1 request target in absolute form (HTTP_PROXY clients): its authority and origin-form path. */
export interface AbsoluteTarget {
  readonly authority: string;
  readonly path: string;
}

/**
 * Splits `http://authority/path?query`; the scheme is matched case-insensitively, and only
 * http is proxied (the agent speaks plain HTTP to upstreams; TLS clients use CONNECT).
 */
export function parseAbsoluteTarget(target: string): AbsoluteTarget | AuthorityRefusal {
  if (target.length < 8 || target.slice(0, 7).toLowerCase() !== 'http://') return BAD_TARGET;
  let end = 7;
  while (end < target.length && !'/?#'.includes(target[end]!)) end++;
  const authority = target.slice(7, end);
  if (!authority) return BAD_TARGET;
  const rest = target.slice(end);
  return { authority, path: rest.charCodeAt(0) === 47 /* '/' */ ? rest : `/${rest}` };
}

export function isRefusal(value: unknown): value is AuthorityRefusal {
  return typeof value === 'object' && value !== null && 'reason' in value;
}
