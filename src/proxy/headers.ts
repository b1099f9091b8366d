// Hop-by-hop header handling (RFC 9110 §7.6.1): these describe one connection, not the
// message, so a proxy removes them, along with every header the Connection field names.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade',
  'proxy-authorization', 'proxy-authenticate', 'expect', 'http2-settings',
]);

function connectionNamed(value: string | undefined): Set<string> | undefined {
  // The common values name no other header; skip the split for them.
  if (!value || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return undefined;
  const names = new Set<string>();
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name && name !== 'close' && name !== 'keep-alive') names.add(name);
  }
  return names.size > 0 ? names : undefined;
}

/**
 * End-to-end request headers from an HTTP/1.1 request's raw list, as a flat [name, value, …]
 * array undici takes as is. `te: trailers` survives because gRPC needs it end to end; Host
 * is dropped: the forwarder sends the request's authority (see authority.ts) in its place.
 */
export function endToEndRequestHeaders(raw: readonly string[]): string[] {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') named = connectionNamed(raw[i + 1]);
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === 'host') continue;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'te' && value.trim().toLowerCase() === 'trailers') out.push(name, value);
      continue;
    }
    if (named?.has(name)) continue;
    out.push(name, value);
  }
  return out;
}

/** End-to-end headers of an HTTP/2 message: pseudo-headers and connection-specific ones dropped. */
export function endToEndFromHttp2(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    if (HOP_BY_HOP.has(name) && !(name === 'te' && headers[name] === 'trailers')) continue;
    out[name] = headers[name];
  }
  return out;
}

/** Response headers from undici's raw Buffer list, without hop-by-hop ones. */
export function endToEndResponseHeaders(raw: readonly Buffer[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (name === 'connection') {
      named = connectionNamed(value);
      continue;
    }
    if (HOP_BY_HOP.has(name)) continue;
    const prior = out[name];
    if (prior === undefined) out[name] = value;
    else if (Array.isArray(prior)) prior.push(value);
    else out[name] = [String(prior), value];
  }
  if (named) for (const name of named) delete out[name];
  return out;
}

/**
 * Fields a trailer section never passes on: hop-by-hop ones (TE included: it is a request
 * header) and pseudo-headers, which HTTP/2 allows only in a header block's head (RFC 9113
 * §8.1). node:http2 refuses to send either, from inside its write path.
 */
function droppedFromTrailers(name: string): boolean {
  return name.charCodeAt(0) === 58 /* ':' */ || HOP_BY_HOP.has(name);
}

/** Trailers from undici's raw list (null when the response had none), hop-by-hop ones dropped. */
export function trailersFromRaw(raw: readonly (Buffer | string)[] | null): OutgoingHttpHeaders | undefined {
  if (!raw || raw.length === 0) return undefined;
  const out: OutgoingHttpHeaders = {};
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (name === 'connection') named = connectionNamed(value);
    if (!droppedFromTrailers(name)) out[name] = value;
  }
  if (named) for (const name of named) delete out[name];
  return out;
}

/** Trailers of an HTTP/2 message, without pseudo-headers and connection-specific fields. */
export function trailersFromHttp2(trailers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in trailers) if (!droppedFromTrailers(name)) out[name] = trailers[name];
  return out;
}

/**
 * A 1xx a proxy may drop: interim responses (100 Continue, 103 Early Hints, …). 101 is not
 * one, and a status below 100 is no HTTP status at all; both fail the call instead.
 */
export function isSkippableInformational(status: number): boolean {
  return status >= 100 && status <= 199 && status !== 101;
}

export function isGrpcContentType(value: string | string[] | undefined): boolean {
  return typeof value === 'string' && value.startsWith('application/grpc');
}
