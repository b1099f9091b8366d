// fast-check generators of what peers may send the agent: HTTP/1.1 request bytes and HTTP/2
// frames from clients, HTTP/1.1 responses and HTTP/2 frame sequences from upstreams. Each
// mixes the well-formed, the nearly well-formed (where bugs live) and plain garbage.
import fc from 'fast-check';
import { CLIENT_PREFACE, FrameType, SETTINGS_FRAME, encodeFrame, encodeHeaderBlock, goawayFrame, rstStreamFrame } from '../h2-wire.ts';
import type { ConnectionEnd, Http1Script, Http2Action } from '../scripted-upstreams.ts';

/** One latin1 character, control characters and obs-text included. */
const latin1Char = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));
const latin1 = (maxLength: number) => fc.string({ unit: latin1Char, maxLength });
const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

const HEADER_NAMES = [
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'upgrade', 'expect', 'trailer',
  'content-type', 'proxy-connection', 'http2-settings', 'x-user-id', 'cookie', 'set-cookie', 'grpc-status', 'grpc-message',
  'Content-Length', 'TRANSFER-ENCODING', 'location', 'date', 'authorization',
];
const HEADER_VALUES = [
  '', '0', '5', '-1', '99999999999999999999', 'chunked', 'gzip, chunked', 'chunked, gzip', 'close', 'keep-alive', 'trailers',
  'upgrade', 'h2c', 'x-user-id, te', '100-continue', 'application/grpc', 'text/plain', 'healthy', 'healthy:80', ' healthy ',
  '14', 'abc', 'a\x01b', 'a\x7fb', 'caf\xe9', 'a\r\nb: c', 'a\nb', 'a\0b', 'a\tb',
];

const headerName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HEADER_NAMES) }, { weight: 1, arbitrary: token }, { weight: 1, arbitrary: latin1(8) });
const headerValue = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HEADER_VALUES) }, { weight: 1, arbitrary: latin1(16) });
const headerList = (max: number) => fc.array(fc.tuple(headerName, headerValue), { maxLength: max });

/** A chunked body: well-formed chunks, bad sizes, missing terminators, trailers. */
const chunkedBody = fc.record({
  chunks: fc.array(fc.tuple(fc.oneof(fc.nat(40).map((n) => n.toString(16)), fc.constantFrom('zz', '-1', '', 'fffffffffffffffff', '5;ext=1')), latin1(40)), { maxLength: 4 }),
  trailers: headerList(3),
  terminated: fc.boolean(),
}).map(({ chunks, trailers, terminated }) =>
  chunks.map(([size, data]) => `${size}\r\n${data}\r\n`).join('') +
  (terminated ? `0\r\n${trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n` : ''));

const body = fc.oneof(fc.constant(''), latin1(64), chunkedBody);

/** HTTP/1.1 request bytes as a client might send them (routing to `upstream` most of the time). */
export function http1RequestBytes(upstream: string): fc.Arbitrary<Buffer> {
  const method = fc.oneof({ weight: 5, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'OPTIONS', 'DELETE', 'PATCH') }, { weight: 1, arbitrary: fc.constantFrom('CONNECT', 'PRI', 'TRACE', 'get', '') }, { weight: 1, arbitrary: token });
  const target = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('/', '/x?y=1', '*', `http://${upstream}/p`, `http://${upstream}:80/p`, `${upstream}:80`, `http://user:pw@${upstream}/`, '//x', '/%00', 'http://[::1/') },
    { weight: 1, arbitrary: latin1(24) },
  );
  const version = fc.oneof({ weight: 6, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', '', 'HTTP/1.1 ', 'http/1.1', 'HTTP/9.9') });
  const request = fc.record({
    method, target, version,
    host: fc.oneof(fc.constant(`Host: ${upstream}\r\n`), fc.constant(''), fc.constant(`Host: ${upstream}\r\nHost: other\r\n`)),
    headers: headerList(6),
    body,
  }).map((r) => `${r.method} ${r.target} ${r.version}\r\n${r.host}${r.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n${r.body}`);
  return fc.oneof(
    { weight: 6, arbitrary: fc.array(request, { minLength: 1, maxLength: 3 }).map((rs) => Buffer.from(rs.join(''), 'latin1')) },
    { weight: 1, arbitrary: bytes(128) },
  );
}

/** Header fields of an HTTP/2 request: pseudo-headers right, wrong, missing or repeated. */
function http2RequestFields(upstream: string): fc.Arbitrary<Array<[string, string]>> {
  const pseudo = fc.array(fc.tuple(
    fc.constantFrom(':method', ':path', ':scheme', ':authority', ':status', ':protocol', ':bogus'),
    fc.constantFrom('GET', 'POST', 'CONNECT', '/', '*', '', 'http', upstream, `${upstream}:80`, '200', 'x y'),
  ), { maxLength: 3 });
  const wellFormed: Array<[string, string]> = [[':method', 'GET'], [':path', '/'], [':scheme', 'http'], [':authority', upstream]];
  return fc.record({ base: fc.boolean(), pseudo, headers: headerList(4), grpc: fc.boolean() }).map(({ base, pseudo: p, headers, grpc }) => [
    ...(base ? wellFormed : []),
    ...p,
    ...(grpc ? [['content-type', 'application/grpc'] as [string, string], ['te', 'trailers'] as [string, string]] : []),
    ...headers.map(([n, v]) => [n, v] as [string, string]),
  ]);
}

/** A client's HTTP/2 connection: preface, SETTINGS, then frames on a few streams. */
export function http2ClientBytes(upstream: string): fc.Arbitrary<Buffer> {
  const streamId = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(1, 3, 5) }, { weight: 1, arbitrary: fc.constantFrom(0, 2, 0x7fffffff) });
  const frame = fc.oneof(
    { weight: 4, arbitrary: fc.record({ id: streamId, fields: http2RequestFields(upstream), end: fc.boolean() }).map(({ id, fields, end }) => encodeFrame(FrameType.HEADERS, 0x4 | (end ? 0x1 : 0), id, encodeHeaderBlock(fields))) },
    { weight: 2, arbitrary: fc.record({ id: streamId, data: bytes(64), end: fc.boolean() }).map(({ id, data, end }) => encodeFrame(FrameType.DATA, end ? 0x1 : 0, id, data)) },
    { weight: 1, arbitrary: fc.record({ id: streamId, code: fc.nat(15) }).map(({ id, code }) => rstStreamFrame(id, code)) },
    { weight: 1, arbitrary: fc.record({ id: fc.nat(5), code: fc.nat(15) }).map(({ id, code }) => goawayFrame(id, code)) },
    { weight: 2, arbitrary: fc.record({ type: fc.nat(12), flags: fc.nat(255), id: streamId, payload: bytes(24) }).map(({ type, flags, id, payload }) => encodeFrame(type, flags, id, payload)) },
  );
  return fc.record({ preface: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), frames: fc.array(frame, { maxLength: 6 }) })
    .map(({ preface, frames }) => Buffer.concat([preface ? CLIENT_PREFACE : Buffer.from('PRI * HTTP/2.0\r\n\r\n'), SETTINGS_FRAME, ...frames]));
}

const statusText = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('200', '204', '304', '404', '503', '099', '000', '101', '100', '103', '199', '600', '999', '2000', '20', 'abc', '') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 999 }).map((n) => String(n).padStart(3, '0')) },
);

const connectionEnd: fc.Arbitrary<ConnectionEnd> = fc.constantFrom('close', 'reset');

/** An upstream's HTTP/1.1 answer: any status, headers, a body by length or chunks (trailers too). */
export const http1Response: fc.Arbitrary<Http1Script> = fc.record({
  interim: fc.option(fc.constantFrom('100 Continue', '103 Early Hints', '199 Odd', '099 Low'), { nil: undefined }),
  version: fc.oneof({ weight: 9, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2', 'ICY') }),
  status: statusText,
  headers: headerList(6),
  framing: fc.constantFrom('length', 'chunked', 'none'),
  body: latin1(48),
  chunked: chunkedBody,
  end: connectionEnd,
}).map((r) => {
  const framing = r.framing === 'length' ? `content-length: ${r.body.length}\r\n` : r.framing === 'chunked' ? 'transfer-encoding: chunked\r\n' : '';
  const head = `${r.version} ${r.status} X\r\n${framing}${r.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  const interim = r.interim ? `HTTP/1.1 ${r.interim}\r\n\r\n` : '';
  const payload = r.framing === 'chunked' ? r.chunked : r.body;
  return { response: Buffer.from(interim + head + payload, 'latin1'), end: r.end };
});

// Header blocks as malformed as the HTTP/1.1 ones: no :status, pseudo-headers repeated, out of
// place or unknown, next to the plausible.
const h2Fields = (withStatus: boolean) => fc.record({
  status: fc.option(statusText, { nil: undefined, freq: 4 }),
  pseudo: fc.oneof(
    { weight: 1, arbitrary: fc.constant([] as Array<[string, string]>) },
    { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom(':status', ':path', ':method', ':bogus', ':authority'), fc.constantFrom('200', '/', 'GET', '', '999')), { minLength: 1, maxLength: 3 }) },
  ),
  headers: headerList(4),
}).map(({ status, pseudo, headers }) => [
  ...(withStatus && status !== undefined ? [[':status', status] as [string, string]] : []),
  ...pseudo,
  ...headers,
] as Array<[string, string]>);

/** An upstream's HTTP/2 answer on one stream: interim and final HEADERS, DATA, trailers, resets, GOAWAY. */
export const http2Response: fc.Arbitrary<Http2Action[]> = fc.record({
  interim: fc.option(h2Fields(true), { nil: undefined, freq: 4 }),
  head: h2Fields(true),
  headEnds: fc.boolean(),
  data: fc.array(bytes(48), { maxLength: 3 }),
  trailers: fc.option(h2Fields(false), { nil: undefined }),
  ending: fc.constantFrom('end', 'rst', 'goaway', 'close', 'data-end'),
  code: fc.nat(14),
  extra: fc.option(fc.record({ type: fc.nat(12), flags: fc.nat(255), payload: bytes(16) }), { nil: undefined }),
}).map((r) => {
  const actions: Http2Action[] = [];
  if (r.interim) actions.push({ kind: 'headers', fields: r.interim, endStream: false });
  actions.push({ kind: 'headers', fields: r.head, endStream: r.headEnds });
  if (r.extra) actions.push({ kind: 'frame', type: r.extra.type, flags: r.extra.flags, payload: r.extra.payload });
  for (const data of r.data) actions.push({ kind: 'data', bytes: data, endStream: false });
  if (r.trailers && r.ending === 'end') actions.push({ kind: 'headers', fields: r.trailers, endStream: true });
  else if (r.ending === 'end' || r.ending === 'data-end') actions.push({ kind: 'data', bytes: Buffer.alloc(0), endStream: true });
  else if (r.ending === 'rst') actions.push({ kind: 'rst', code: r.code });
  else if (r.ending === 'goaway') actions.push({ kind: 'goaway', code: r.code }, { kind: 'close' });
  else actions.push({ kind: 'close' });
  return actions;
});
