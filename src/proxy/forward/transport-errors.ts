// Sorts what node:net, node:http2 and undici report into the attempt reasons of outcome.ts,
// so everything after the forwarder acts on a field, never on message text.

import type { AttemptReason } from '../call/outcome.ts';
import { undiciErrors } from './undici-parts.ts';

const CONNECT_TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
const CONNECT_ERROR_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** Codes of responses that break HTTP: the upstream answered, but not with a message we can relay. */
const BAD_RESPONSE_CODES = new Set([
  'UND_ERR_INFO', 'UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_HTTP2_ERROR', 'ERR_HTTP2_INVALID_HEADER_VALUE',
]);

/** node:http2 refuses a new stream on a session that is closing or gone: it was never sent. */
const SESSION_GONE_CODES = new Set(['ERR_HTTP2_GOAWAY_SESSION', 'ERR_HTTP2_INVALID_SESSION']);

/**
 * undici reports a 101 the request did not ask for, and a 100 as a final response, as a
 * SocketError with these messages (lib/dispatcher/client-h1.js) and no code of their own.
 */
const UNDICI_PROTOCOL_VIOLATIONS = new Set(['bad upgrade', 'bad response']);

const { NGHTTP2_PROTOCOL_ERROR, NGHTTP2_REFUSED_STREAM } = { NGHTTP2_PROTOCOL_ERROR: 1, NGHTTP2_REFUSED_STREAM: 7 };

/**
 * Sorts a transport error. `connected` is false while the connection (an HTTP/2 session) has
 * never come up, so any failure then is a connect failure; `headersReceived` tells a reset
 * before the response head from one after it.
 */
export function classifyTransportError(err: unknown, connected: boolean, headersReceived: boolean): AttemptReason {
  // undici's HTTPParserError carries no code for most parse failures (it looks the numeric
  // llhttp error up in a table keyed by name), so the class is what marks a response not HTTP.
  if (err instanceof undiciErrors.HTTPParserError) return 'bad_response';
  if (err instanceof undiciErrors.SocketError && UNDICI_PROTOCOL_VIOLATIONS.has(err.message)) return 'bad_response';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (CONNECT_TIMEOUT_CODES.has(code)) return 'connect_timeout';
    if (CONNECT_ERROR_CODES.has(code)) return 'connect_failed';
    if (code.startsWith('HPE_') || BAD_RESPONSE_CODES.has(code)) return 'bad_response';
    if (code === 'UND_ERR_INVALID_ARG') return 'bad_request';
    if (SESSION_GONE_CODES.has(code)) return 'goaway';
  }
  if (!connected) return 'connect_failed';
  return headersReceived ? 'reset_after_headers' : 'reset_before_headers';
}

/**
 * Sorts an HTTP/2 stream that closed with `rstCode` before its response ended. RST_STREAM
 * (PROTOCOL_ERROR) is what nghttp2 sends itself when a response is malformed (RFC 9113
 * §8.1.1: a bad header block, a body longer or shorter than its content-length); node:http2
 * does not say which side sent it, and either way the exchange broke HTTP rather than being
 * cut off. REFUSED_STREAM comes from the endpoint, or from nghttp2 for a stream above a
 * GOAWAY's last stream id: either way it was not processed.
 */
export function classifyStreamReset(rstCode: number, connected: boolean, headersReceived: boolean): AttemptReason {
  if (!connected) return 'connect_failed';
  if (rstCode === NGHTTP2_REFUSED_STREAM) return 'refused_stream';
  if (rstCode === NGHTTP2_PROTOCOL_ERROR) return 'bad_response';
  return headersReceived ? 'reset_after_headers' : 'reset_before_headers';
}
