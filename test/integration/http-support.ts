// Small clients shared by the agent's HTTP data-plane integration tests (http-*.test.ts):
// raw sockets, h2c requests, the admin API and the sample upstreams' /_stats, all on loopback.
import { connect as connectH2, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Decision } from '../../src/observability/decisions.ts';
import type { RunningAgent } from '../helpers/processes.ts';

export interface H2Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly trailers: IncomingHttpHeaders | undefined;
}

/** Opens an h2c (prior knowledge) session to "host:port". */
export function h2Session(address: string): ClientHttp2Session {
  const session = connectH2(`http://${address}`);
  session.on('error', () => {
    // Streams report their own errors; a session error only ends the session.
  });
  return session;
}

/** One h2c request on `session`, read to its end; rejects when the stream is reset. */
export function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('end', () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks).toString(), trailers }));
    if (body !== undefined) stream.end(body);
  });
}

/** A loopback port with nothing listening: bound by the OS, then released. */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Sends `bytes` on a fresh connection and resolves with everything read until the peer closes. */
export function rawExchange(address: string, bytes: string | Buffer, timeoutMs = 5_000): Promise<string> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close from ${address} within ${timeoutMs} ms; read so far: ${Buffer.concat(chunks).toString().slice(0, 500)}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The agent may close while the request is still being written (an oversized header).
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(bytes);
  });
}

/** The status code of a raw HTTP/1.1 response's status line (0 when there is none). */
export function rawStatus(response: string): number {
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(response);
  return match ? Number(match[1]) : 0;
}

/** A header of a raw HTTP/1.1 response, matched case-insensitively. */
export function rawHeader(response: string, name: string): string | undefined {
  const head = response.slice(0, response.indexOf('\r\n\r\n'));
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return undefined;
}

export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

export async function adminJson<T>(agent: RunningAgent, path: string): Promise<T> {
  const res = await request(`http://${agent.admin}${path}`);
  return (await res.body.json()) as T;
}

/** The decisions the agent has taken so far: the backlog /api/v1/events sends a new reader, read for 500 ms. */
export async function decisionBacklog(agent: RunningAgent): Promise<Decision[]> {
  const controller = new AbortController();
  const res = await request(`http://${agent.admin}/api/v1/events`, { signal: controller.signal });
  let text = '';
  const done = sleep(500).then(() => controller.abort());
  try {
    for await (const chunk of res.body) text += String(chunk);
  } catch {
    // The abort ends the endless stream.
  }
  await done;
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)) as Decision);
}

export async function metricsText(agent: RunningAgent): Promise<string> {
  const res = await request(`http://${agent.admin}/metrics`);
  return res.body.text();
}

/** The value of one Prometheus sample whose labels include `labels` (0 when absent). */
export function sampleValue(text: string, name: string, labels: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const open = line.indexOf('{');
    const close = line.lastIndexOf('}');
    const labelText = open >= 0 && open < close ? line.slice(open + 1, close) : '';
    const matches = Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`));
    if (matches) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export interface UpstreamStats {
  readonly instance: string;
  readonly requests: number;
  readonly aborted: number;
}

/** GET /_stats straight from a sample HTTP/1.1 upstream, bypassing the agent. */
export async function http1Stats(address: string): Promise<UpstreamStats> {
  const res = await request(`http://${address}/_stats`);
  return (await res.body.json()) as UpstreamStats;
}

/** Calls `read` until `done` holds for its result (at most `tries` times, 20 ms apart: 5 s and more under load). */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, tries = 250): Promise<T> {
  let value = await read();
  for (let i = 1; i < tries && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await read();
  }
  return value;
}

/** The process's resident set size in bytes (Linux /proc). */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Counts how often each value occurs. */
export function tally(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
