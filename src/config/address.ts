// "host:port" and "[v6]:port" → HostPort, parsed once at config time. Port 0 ("any free
// port") is allowed only where the agent listens; a place it connects to needs a real port.

import { isIPv4, isIPv6 } from 'node:net';
import type { HostPort } from './types.ts';

export type HostPortResult =
  | { readonly ok: true; readonly value: HostPort }
  | { readonly ok: false; readonly reason: string };

export interface HostPortRules {
  /** True for listen addresses, where port 0 means "any free port". */
  readonly allowPortZero: boolean;
}

const BRACKETED = /^\[([^\]]*)\]:(.*)$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const ALL_NUMERIC_LABELS = /^[\d.]+$/;
const DIGITS = /^\d+$/;

export function parseHostPort(text: string, rules: HostPortRules): HostPortResult {
  const bracketed = BRACKETED.exec(text);
  if (bracketed) {
    const [, host = '', port = ''] = bracketed;
    if (!isIPv6(host)) return fail(`"${host}" in "${text}" is not an IPv6 address`);
    return withPort(host, port, text, rules);
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return fail(`expected "host:port", got "${text}"`);
  const host = text.slice(0, colon);
  if (host.includes(':')) {
    return fail(`an IPv6 address needs brackets, as in "[::1]:9001", got "${text}"`);
  }
  if (host === '') {
    return fail(`the host is missing in "${text}"; write 0.0.0.0${text} for every interface or 127.0.0.1${text} for this host only`);
  }
  if (ALL_NUMERIC_LABELS.test(host) ? !isIPv4(host) : !HOSTNAME.test(host)) {
    return fail(`"${host}" in "${text}" is not a valid host name or IPv4 address`);
  }
  return withPort(host, text.slice(colon + 1), text, rules);
}

/** 0.0.0.0 and :: take the port on every interface, so they collide with any host on it. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function withPort(host: string, portText: string, text: string, rules: HostPortRules): HostPortResult {
  const lowest = rules.allowPortZero ? 0 : 1;
  const port = DIGITS.test(portText) ? Number(portText) : NaN;
  if (!(port >= lowest && port <= 65535)) {
    return fail(`the port must be a number from ${lowest} to 65535, got "${portText}" in "${text}"`);
  }
  return { ok: true, value: { host, port, text } };
}

function fail(reason: string): HostPortResult {
  return { ok: false, reason };
}

/** The inverse of parseHostPort: brackets an IPv6 host, so the result parses back. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The form two host names are compared in: DNS names match case-insensitively, and a name
 * with one trailing dot (fully qualified) is the same name. Upstream names and the hosts
 * clients address them by both go through this.
 */
export function hostNameKey(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
