// Which upstream a request reaches and what authority that upstream is sent: the name the
// client addressed, matched as DNS names are (any case, an optional trailing dot), from the
// request target when it names one; a Host header that disagrees with it, and userinfo, are
// refused rather than routed.
import http2, { type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { h2Request, h2Session, http1Stats, metricsText, rawExchange, rawHeader, rawStatus, sampleValue, splitAddress } from './http-support.ts';

let catalog: SampleUpstream;
/** An h2c upstream that answers with the :authority and Host it was sent. */
let pricing: http2.Http2Server;
let agent: RunningAgent;
let proxy: string;
const dispatcher = new Agent();
const sessions: ClientHttp2Session[] = [];

beforeAll(async () => {
  catalog = await startUpstream({ kind: 'http1', id: 'catalog-a' });
  pricing = http2.createServer();
  pricing.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ authority: headers[':authority'], host: headers.host ?? null }));
  });
  await new Promise<void>((resolve) => pricing.listen(0, '127.0.0.1', resolve));
  agent = await startAgent({
    node: 'authority-test',
    admin: { listen: '127.0.0.1:0' },
    proxy: { listen: '127.0.0.1:0' },
    upstreams: [
      { name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [catalog.address] },
      { name: 'Pricing.Mesh', protocol: 'http2', endpoints: [`127.0.0.1:${(pricing.address() as net.AddressInfo).port}`] },
    ],
  });
  proxy = agent.listeners.proxy!;
});

afterAll(async () => {
  for (const session of sessions) session.close();
  await dispatcher.close();
  await agent?.stop();
  await catalog?.stop();
  await new Promise((resolve) => pricing?.close(resolve));
});

function session(address: string): ClientHttp2Session {
  const opened = h2Session(address);
  sessions.push(opened);
  return opened;
}

/** The JSON body of a raw HTTP/1.1 exchange. */
function jsonBody(response: string): Record<string, unknown> {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
}

async function malformedCount(reason: string): Promise<number> {
  return sampleValue(await metricsText(agent), 'meshlet_malformed_requests_total', { listener: 'proxy', reason });
}

describe('absolute-form requests on the proxy port', () => {
  it('are routed by the URI and send its authority upstream, over a Host that names the same one', async () => {
    const response = await rawExchange(proxy, 'GET http://CATALOG./items HTTP/1.1\r\nhost: catalog:80\r\nconnection: close\r\n\r\n');
    expect(rawStatus(response)).toBe(200);
    expect(jsonBody(response)).toMatchObject({ instance: 'catalog-a', path: '/items', headers: { host: 'CATALOG.' } });
  });

  it('refuse a Host header that names another authority, and forward nothing', async () => {
    const before = await http1Stats(catalog.address);
    const counted = await malformedCount('authority_mismatch');
    const response = await rawExchange(proxy, 'GET http://catalog/items HTTP/1.1\r\nhost: evil.example\r\n\r\n');
    expect(rawStatus(response)).toBe(400);
    expect(rawHeader(response, 'x-meshlet-error')).toBe('MESHLET_BAD_REQUEST');
    expect(await malformedCount('authority_mismatch')).toBe(counted + 1);
    expect((await http1Stats(catalog.address)).requests).toBe(before.requests);
  });

  it('refuse userinfo in the URI instead of routing by what precedes the @', async () => {
    const before = await http1Stats(catalog.address);
    const response = await rawExchange(proxy, 'GET http://catalog:pw@evil.example/ HTTP/1.1\r\nhost: evil.example\r\n\r\n');
    expect(rawStatus(response)).toBe(400);
    expect(rawHeader(response, 'x-meshlet-error')).toBe('MESHLET_BAD_REQUEST');
    expect(await malformedCount('userinfo')).toBe(1);
    expect((await http1Stats(catalog.address)).requests).toBe(before.requests);
  });
});

describe('upstream names', () => {
  it('match Host in any case and with a trailing dot, and the upstream is sent the name as the client wrote it', async () => {
    const res = await request(`http://${proxy}/`, { dispatcher, headers: { host: 'PRICING.mesh.:9000' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ authority: 'PRICING.mesh.:9000', host: null });
  });

  it('match :authority the same way', async () => {
    const res = await h2Request(session(proxy), { ':path': '/', ':authority': 'pricing.MESH' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ authority: 'pricing.MESH', host: null });
  });

  it('match a CONNECT target the same way', async () => {
    const { host, port } = splitAddress(proxy);
    const socket = net.connect({ host, port });
    socket.on('error', () => undefined);
    const read: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => read.push(chunk));
    socket.write('CONNECT Catalog.:443 HTTP/1.1\r\nhost: Catalog.:443\r\n\r\nGET /tunnelled HTTP/1.1\r\nhost: Catalog.\r\nconnection: close\r\n\r\n');
    await new Promise((resolve) => socket.once('close', resolve));
    const all = Buffer.concat(read).toString('latin1');
    expect(all.startsWith('HTTP/1.1 200 Connection Established\r\n\r\n')).toBe(true);
    const inner = all.slice('HTTP/1.1 200 Connection Established\r\n\r\n'.length);
    expect(rawStatus(inner)).toBe(200);
    expect(jsonBody(inner)).toMatchObject({ instance: 'catalog-a', path: '/tunnelled' });
  });
});

describe('the authority an upstream is sent', () => {
  it('is the :authority an h2c client addressed, as Host to an HTTP/1.1 upstream (not the endpoint address)', async () => {
    const res = await h2Request(session(proxy), { ':path': '/h', ':authority': 'catalog:8080' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ instance: 'catalog-a', headers: { host: 'catalog:8080' } });
  });

  it('refuses an h2c request whose Host names another authority than :authority', async () => {
    const res = await h2Request(session(proxy), { ':path': '/', ':authority': 'catalog', host: 'evil.example' });
    expect(res.status).toBe(400);
    expect(res.headers['x-meshlet-error']).toBe('MESHLET_BAD_REQUEST');
  });

  it('on an upstream port, is the authority the client sent, from h2c as from HTTP/1.1', async () => {
    const address = agent.listeners['upstream:catalog']!;
    const res = await h2Request(session(address), { ':path': '/p' });
    expect(JSON.parse(res.body)).toMatchObject({ headers: { host: address } });
    const viaHttp1 = await request(`http://${address}/p`, { dispatcher });
    expect(await viaHttp1.body.json()).toMatchObject({ headers: { host: address } });
  });
});
