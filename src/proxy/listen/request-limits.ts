// How many header fields a request may carry, as Envoy (max_headers_count) and HAProxy
// (tune.http.maxhdr) bound it. Node caps what it parses instead, and node:http drops the
// fields past its cap without a word, so the servers are set to parse past this limit and a
// request over it is answered 431 by the agent.

export const MAX_REQUEST_HEADERS = 100;

/** node:http's maxHeadersCount: one field over the limit, enough to see that it was passed. */
export const HTTP1_PARSED_HEADERS = MAX_REQUEST_HEADERS + 1;

/**
 * node:http2's maxHeaderListPairs (pseudo-headers included). Past it, node resets the stream
 * with ENHANCE_YOUR_CALM before the agent sees it (counted as a rejected stream); up to it,
 * the agent answers 431.
 */
export const HTTP2_PARSED_HEADER_PAIRS = 4 * MAX_REQUEST_HEADERS;

/** For node:http's rawHeaders ([name, value, …], capped at HTTP1_PARSED_HEADERS fields). */
export function http1HasTooManyHeaders(rawHeaders: readonly string[]): boolean {
  return rawHeaders.length > 2 * MAX_REQUEST_HEADERS;
}

/** For node:http2's rawHeaders, whose pseudo-headers do not count. */
export function http2HasTooManyHeaders(rawHeaders: readonly string[]): boolean {
  if (rawHeaders.length <= 2 * MAX_REQUEST_HEADERS) return false;
  let fields = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.charCodeAt(0) !== 58 /* ':' */) fields++;
  return fields > MAX_REQUEST_HEADERS;
}
