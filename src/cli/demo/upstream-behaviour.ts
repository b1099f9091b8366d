// What the sample upstreams do, shared by the HTTP/1.1 and h2c kinds: request headers steer
// the response, so a test or the demo can ask for a slow, failing, resetting or endless reply
// without a server of its own.
import { setTimeout as sleep } from 'node:timers/promises';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** What one request asked for, read once from its headers. */
export interface Steering {
  /** x-delay-ms: wait this long before answering. */
  readonly delayMs: number;
  /** x-status: the response status. */
  readonly status: number;
  /** x-trailer: name=value, sent as an HTTP trailer after the body. */
  readonly trailer?: { readonly name: string; readonly value: string };
  /** x-reset: 1 — destroy the connection (h1) or stream (h2) after the headers. */
  readonly reset: boolean;
  /** x-stream-ms: N — send a chunk every N ms until the client goes away. */
  readonly streamEveryMs: number;
  /** x-count-body: 1 — consume the body and answer with its size instead of echoing it. */
  readonly countBody: boolean;
}

export function readSteering(headers: Headers): Steering {
  const trailer = parseTrailer(first(headers['x-trailer']));
  return {
    delayMs: nonNegativeInt(first(headers['x-delay-ms'])),
    status: statusOrOk(first(headers['x-status'])),
    ...(trailer ? { trailer } : {}),
    reset: first(headers['x-reset']) === '1',
    streamEveryMs: nonNegativeInt(first(headers['x-stream-ms'])),
    countBody: first(headers['x-count-body']) === '1',
  };
}

/** Counters behind GET /_stats; `aborted` counts requests whose client went away first. */
export class UpstreamStats {
  requests = 0;
  aborted = 0;

  constructor(readonly instance: string) {}

  toJSON(): { instance: string; requests: number; aborted: number } {
    return { instance: this.instance, requests: this.requests, aborted: this.aborted };
  }
}

export const statsPath = '/_stats';

/** The JSON body of a request that carries no body: what the server saw. */
export function describeRequest(instance: string, method: string, path: string, headers: Headers): string {
  const plain: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(':')) plain[name] = value;
  }
  return JSON.stringify({ instance, method, path, headers: plain });
}

export function carriesBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

export async function delay(ms: number): Promise<void> {
  if (ms > 0) await sleep(ms);
}

/** Reads a body to its end without keeping it, returning its size in bytes. */
export async function countBytes(body: AsyncIterable<Buffer>): Promise<number> {
  let bytes = 0;
  for await (const chunk of body) bytes += chunk.length;
  return bytes;
}

/** The first part of a streamed or reset response, so the client has seen something. */
export const partialChunk = 'partial response\n';

export function ignoreError(): void {
  // A client that goes away mid-response is what these servers are for; not a crash.
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function nonNegativeInt(text: string | undefined): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function statusOrOk(text: string | undefined): number {
  const n = Number(text);
  return Number.isInteger(n) && n >= 200 && n <= 599 ? n : 200;
}

function parseTrailer(text: string | undefined): { name: string; value: string } | undefined {
  if (!text) return undefined;
  const eq = text.indexOf('=');
  if (eq <= 0) return undefined;
  return { name: text.slice(0, eq).trim().toLowerCase(), value: text.slice(eq + 1).trim() };
}
