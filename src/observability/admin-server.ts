// The admin HTTP API: liveness and readiness probes, Prometheus metrics, JSON views of the
// agent, and operator actions (forcing a circuit breaker, rotating gossip keys). An action needs
// `authorization: Bearer <admin.token>` when the config sets one; without one it is taken only
// on a listener bound to loopback. It listens on its own address so probes and scrapes never
// compete with proxied traffic.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock.ts';
import type { DecisionLog } from './decisions.ts';
import { serveDecisionStream } from './decision-stream.ts';
import type { Logger } from './logger.ts';
import type { MeshletMetrics } from './metrics.ts';

export interface AdminSource {
  /** GET /healthz: 200 while the process can serve at all. */
  isLive(): boolean;
  /** GET /readyz: false until listeners are up and while draining. */
  isReady(): boolean;
  /** GET /api/v1/upstreams body. */
  upstreams(): unknown[];
  /** GET /api/v1/config body, already redacted by the caller. */
  effectiveConfig(): unknown;
  /** GET /api/v1/stats body (node-stats.ts): each upstream's and endpoint's recent traffic, breakers and ejections. */
  stats(): unknown;
  /** GET /api/v1/breakers body: every upstream that has breakers. */
  breakers(): unknown[];
  /** POST /api/v1/breakers/<upstream>/<endpoint>: forces one endpoint's breaker, or gives it back to itself. */
  forceBreaker(upstream: string, endpoint: string, state: BreakerOverrideRequest): 'forced' | 'no_upstream' | 'no_endpoint' | 'no_breaker';
  /** GET /api/v1/members body; undefined without gossip. */
  members(): unknown;
  /** GET /api/v1/gossip/keys body (fingerprints, never keys); undefined without gossip. */
  gossipKeys(): unknown;
  /** POST /api/v1/gossip/keys/<action> {"key": base64}: rotates the keyring, as `serf keys`. */
  changeGossipKey(action: GossipKeyAction, key: string): GossipKeyChangeResult;
}

export type GossipKeyAction = 'install' | 'use' | 'remove';
const KEY_ACTIONS: readonly string[] = ['install', 'use', 'remove'] satisfies GossipKeyAction[];
const KEYS_PREFIX = '/api/v1/gossip/keys/';

export type GossipKeyChangeResult =
  | { readonly ok: true; readonly keys: unknown }
  | { readonly ok: false; readonly status: 400 | 404 | 409; readonly error: string };

/** What POST /api/v1/breakers/... takes as {"state": ...}. */
export type BreakerOverrideRequest = 'open' | 'closed' | 'auto';
const OVERRIDES: readonly string[] = ['open', 'closed', 'auto'] satisfies BreakerOverrideRequest[];
const BREAKERS_PREFIX = '/api/v1/breakers/';
/** An override body is a few bytes; anything longer is not one. */
const MAX_ACTION_BODY = 1024;

export interface AdminServer {
  /** The bound address; port 0 in the options becomes the port the OS chose. */
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export interface AdminServerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly metrics: MeshletMetrics;
  readonly source: AdminSource;
  readonly logger: Logger;
  readonly decisions: DecisionLog;
  readonly clock: Clock;
  /** Fixed documents served on GET, such as the dashboard's page (src/dashboard/). */
  readonly pages?: readonly StaticPage[];
  /** admin.token in force now (a reload may change it); undefined: the loopback rule. */
  readonly token?: () => string | undefined;
}

/** A fixed document at a path; the dashboard's routes have this shape, so any HTTP server can mount them. */
export interface StaticPage {
  readonly path: string;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

type Route = (res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const { metrics, source, logger } = opts;
  const streams = new Set<ServerResponse>();
  const routes = new Map<string, Route>([
    ['/healthz', (res) => (source.isLive() ? sendText(res, 200, 'ok') : sendText(res, 503, 'not live'))],
    ['/readyz', (res) => (source.isReady() ? sendText(res, 200, 'ready') : sendText(res, 503, 'not ready'))],
    ['/metrics', async (res) => send(res, 200, metrics.contentType, await metrics.metricsText())],
    ['/api/v1/upstreams', (res) => sendJson(res, 200, source.upstreams())],
    ['/api/v1/config', (res) => sendJson(res, 200, source.effectiveConfig())],
    ['/api/v1/stats', (res) => sendJson(res, 200, source.stats())],
    ['/api/v1/breakers', (res) => sendJson(res, 200, source.breakers())],
    ['/api/v1/events', (res, req) => serveDecisionStream(req, res, opts.decisions, opts.clock, streams)],
    ['/api/v1/members', (res) => sendGossipView(res, source.members())],
    ['/api/v1/gossip/keys', (res) => sendGossipView(res, source.gossipKeys())],
  ]);
  for (const page of opts.pages ?? []) routes.set(page.path, (res) => sendPage(res, page));

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url ?? '/');
    if (path.startsWith(BREAKERS_PREFIX)) return forceBreaker(req, res, path.slice(BREAKERS_PREFIX.length));
    if (path.startsWith(KEYS_PREFIX)) return changeKey(req, res, path.slice(KEYS_PREFIX.length));
    const route = routes.get(path);
    if (route === undefined) return sendJson(res, 404, { error: 'not found', path });
    // HEAD is answered like GET (node:http drops the body), as HTTP requires of any GET resource.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed', method: req.method });
    }
    await route(res, req);
  }

  /** Whether an operator action may go ahead; answered with 405, 401 or 403 when not. */
  function actionAllowed(req: IncomingMessage, res: ServerResponse, what: string): boolean {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      sendJson(res, 405, { error: 'method not allowed', method: req.method });
      return false;
    }
    const token = opts.token?.();
    if (token !== undefined) {
      const given = bearerToken(req.headers.authorization);
      if (given === undefined) {
        res.setHeader('www-authenticate', 'Bearer realm="meshlet-admin"');
        sendJson(res, 401, { error: `${what} only with the agent's admin.token: send "authorization: Bearer <token>"` });
        return false;
      }
      if (!sameToken(given, token)) {
        sendJson(res, 403, { error: `the bearer token is not this agent's admin.token; ${what} only with it` });
        return false;
      }
      return true;
    }
    if (!isLoopback(bound.address)) {
      sendJson(res, 403, { error: `${what} only through an admin listener bound to loopback; this one is bound to ${bound.address}` });
      return false;
    }
    return true;
  }

  async function changeKey(req: IncomingMessage, res: ServerResponse, action: string): Promise<void> {
    if (!KEY_ACTIONS.includes(action)) return sendJson(res, 404, { error: 'expected /api/v1/gossip/keys/install, /use or /remove' });
    if (!actionAllowed(req, res, 'gossip keys are changed')) return;
    const key = jsonField(await readBody(req), 'key');
    if (typeof key !== 'string') return sendJson(res, 400, { error: 'expected a JSON body {"key": "<base64 of 32 bytes>"}' });
    const result = source.changeGossipKey(action as GossipKeyAction, key);
    if (result.ok) return sendJson(res, 200, result.keys);
    return sendJson(res, result.status, { error: result.error });
  }

  async function forceBreaker(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    if (!actionAllowed(req, res, 'breakers are forced')) return;
    const parts = rest.split('/');
    const [upstream, endpoint] = parts.map((p) => safeDecode(p));
    if (parts.length !== 2 || !upstream || !endpoint) return sendJson(res, 404, { error: 'expected /api/v1/breakers/<upstream>/<endpoint address>' });
    const state = jsonField(await readBody(req), 'state');
    if (typeof state !== 'string' || !OVERRIDES.includes(state)) return sendJson(res, 400, { error: 'expected a JSON body {"state": "open" | "closed" | "auto"}' });
    const result = source.forceBreaker(upstream, endpoint, state as BreakerOverrideRequest);
    if (result === 'forced') return sendJson(res, 200, { upstream, endpoint, state });
    const why = { no_upstream: `no upstream ${upstream}`, no_endpoint: `upstream ${upstream} has no endpoint ${endpoint}`, no_breaker: `upstream ${upstream} has no circuitBreaker policy` }[result];
    return sendJson(res, 404, { error: why });
  }

  let bound: AddressInfo = { address: opts.listen.host, family: '', port: opts.listen.port };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ err }, 'admin server error'));

  bound = server.address() as AddressInfo;
  logger.info({ host: bound.address, port: bound.port }, 'admin server listening');

  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Event streams never end on their own.
        for (const stream of streams) stream.end();
        // close() stops accepting; keep-alive sockets that sit idle would hold it open.
        server.closeIdleConnections();
      }),
  };
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: only processes on this host reach such a listener. */
export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** The token of an `authorization: Bearer <token>` header; undefined for any other or none. */
function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

/** Compared as digests in constant time: neither the token's length nor its bytes leak through timing. */
function sameToken(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** `field` of a JSON object body; undefined when the body is missing, not JSON or not an object. */
function jsonField(body: string | undefined, field: string): unknown {
  if (body === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)[field] : undefined;
  } catch {
    return undefined;
  }
}

function sendGossipView(res: ServerResponse, view: unknown): void {
  if (view === undefined) sendJson(res, 404, { error: 'gossip is not configured on this agent' });
  else sendJson(res, 200, view);
}

function safeDecode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** The request body as text; undefined past MAX_ACTION_BODY. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ACTION_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendPage(res: ServerResponse, page: StaticPage): void {
  res.writeHead(200, { 'content-type': page.contentType, 'content-length': Buffer.byteLength(page.body), ...page.headers });
  res.end(page.body);
}

function sendText(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/plain; charset=utf-8', body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}
