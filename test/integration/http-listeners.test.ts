// How an application reaches the agent: an upstream's own port (HTTP/1.1 and h2c on one
// port), the proxy port (Host routing, absolute form, CONNECT tunnels), the inbound listener,
// and either client protocol in front of either upstream protocol.
import type { ClientHttp2Session } from 'node:http2';
import { connect as connectH2 } from 'node:http2';
import net from 'node:net';
import { Agent, ProxyAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { h2Request, h2Session, rawExchange, rawHeader, rawStatus, splitAddress } from './http-support.ts';

let catalog: SampleUpstream[];
let pricing: SampleUpstream;
let orders: SampleUpstream;
let agent: RunningAgent;
const dispatcher = new Agent();
const sessions: ClientHttp2Session[] = [];

const catalogIds = ['cat-a', 'cat-b', 'cat-c'];

beforeAll(async () => {
  [catalog, pricing, orders] = await Promise.all([
    Promise.all(catalogIds.map((id) => startUpstream({ kind: 'http1', id }))),
    startUpstream({ kind: 'h2c', id: 'price-a' }),
    startUpstream({ kind: 'http1', id: 'orders-local' }),
  ]);
  agent = await startAgent({
    node: 'listeners-test',
    admin: { listen: '127.0.0.1:0' },
    proxy: { listen: '127.0.0.1:0' },
    services: [{ name: 'orders', protocol: 'http', target: orders.address, listen: '127.0.0.1:0' }],
    upstreams: [
      { name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: catalog.map((u) => u.address), policy: { lb: { algorithm: 'round_robin' } } },
      { name: 'pricing', protocol: 'http2', listen: '127.0.0.1:0', endpoints: [pricing.address] },
    ],
  });
});

afterAll(async () => {
  for (const session of sessions) session.close();
  await dispatcher.close();
  await agent?.stop();
  await Promise.all([...(catalog ?? []), pricing, orders].map((u) => u?.stop()));
});

function session(address: string): ClientHttp2Session {
  const opened = h2Session(address);
  sessions.push(opened);
  return opened;
}

async function instanceOf(url: string, headers: Record<string, string> = {}, via: Agent | ProxyAgent = dispatcher): Promise<string> {
  const res = await request(url, { dispatcher: via, headers });
  await res.body.dump();
  expect(res.statusCode).toBe(200);
  return String(res.headers['x-instance']);
}

/** Opens a CONNECT tunnel through the proxy port and resolves with the socket once it is established. */
function openTunnel(proxy: string, target: string): Promise<net.Socket> {
  const { host, port } = splitAddress(proxy);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.once('error', reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const head = seen.subarray(0, end).toString();
      if (!head.startsWith('HTTP/1.1 200')) {
        socket.destroy();
        reject(new Error(`CONNECT refused: ${head}`));
        return;
      }
      if (seen.length > end + 4) socket.unshift(seen.subarray(end + 4));
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

describe('upstream port', () => {
  it('serves HTTP/1.1 and h2c with prior knowledge on the same port', async () => {
    const address = agent.listeners['upstream:catalog']!;
    expect(catalogIds).toContain(await instanceOf(`http://${address}/items/1`));

    const res = await h2Request(session(address), { ':path': '/items/2' });
    expect(res.status).toBe(200);
    expect(catalogIds).toContain(res.headers['x-instance']);
    expect(JSON.parse(res.body)).toMatchObject({ method: 'GET', path: '/items/2' });
  });

  it('carries an HTTP/1.1 body with a Content-Length to an HTTP/1.1 upstream and back', async () => {
    const res = await request(`http://${agent.listeners['upstream:catalog']}/echo`, {
      dispatcher, method: 'POST', headers: { 'content-type': 'text/plain', 'content-length': '12' }, body: 'sized body!!',
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('sized body!!');
  });

  it('carries an h2c client to an HTTP/1.1 upstream and back', async () => {
    const res = await h2Request(session(agent.listeners['upstream:catalog']!), { ':method': 'POST', ':path': '/echo', 'content-type': 'text/plain' }, 'from h2c');
    expect(res.status).toBe(200);
    expect(res.body).toBe('from h2c');
  });

  it('carries an HTTP/1.1 client to an HTTP/2 upstream and back', async () => {
    const res = await request(`http://${agent.listeners['upstream:pricing']}/quote`, {
      dispatcher, method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'from http/1.1',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-instance']).toBe('price-a');
    expect(await res.body.text()).toBe('from http/1.1');
  });
});

describe('proxy port', () => {
  it('routes by Host, with or without a port', async () => {
    const proxy = agent.listeners.proxy!;
    expect(catalogIds).toContain(await instanceOf(`http://${proxy}/a`, { host: 'catalog' }));
    expect(catalogIds).toContain(await instanceOf(`http://${proxy}/b`, { host: 'catalog:8080' }));
    expect(await instanceOf(`http://${proxy}/c`, { host: 'pricing' })).toBe('price-a');
  });

  it('routes an h2c request by :authority', async () => {
    const res = await h2Request(session(agent.listeners.proxy!), { ':path': '/d', ':authority': 'pricing:9000' });
    expect(res.status).toBe(200);
    expect(res.headers['x-instance']).toBe('price-a');
  });

  it('takes absolute-form requests (HTTP_PROXY) and passes on only the path', async () => {
    const viaProxy = new ProxyAgent({ uri: `http://${agent.listeners.proxy}`, proxyTunnel: false });
    try {
      const res = await request('http://catalog/items/9?x=1', { dispatcher: viaProxy });
      expect(res.statusCode).toBe(200);
      expect(catalogIds).toContain(res.headers['x-instance']);
      expect(await res.body.json()).toMatchObject({ path: '/items/9?x=1' });
    } finally {
      await viaProxy.close();
    }

    const raw = await rawExchange(agent.listeners.proxy!, 'GET http://pricing/x HTTP/1.1\r\nhost: pricing\r\nconnection: close\r\n\r\n');
    expect(rawStatus(raw)).toBe(200);
    expect(rawHeader(raw, 'x-instance')).toBe('price-a');
  });

  it('balances the HTTP/1.1 requests inside one CONNECT tunnel across instances', async () => {
    // One connection only, so every request rides the same tunnel.
    const viaTunnel = new ProxyAgent({ uri: `http://${agent.listeners.proxy}`, connections: 1 });
    try {
      const seen: string[] = [];
      for (let i = 0; i < 6; i++) seen.push(await instanceOf(`http://catalog/t${i}`, {}, viaTunnel));
      expect(new Set(seen)).toEqual(new Set(catalogIds));
    } finally {
      await viaTunnel.close();
    }
  });

  it('speaks h2c inside a CONNECT tunnel too, balancing its streams', async () => {
    const socket = await openTunnel(agent.listeners.proxy!, 'catalog:443');
    const tunnelled = connectH2('http://catalog', { createConnection: () => socket });
    sessions.push(tunnelled);
    const replies = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => h2Request(tunnelled, { ':path': `/s${i}` })));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(replies.map((r) => r.headers['x-instance']))).toEqual(new Set(catalogIds));
  });

  it('answers 404 naming an unknown host, for plain requests and CONNECT alike', async () => {
    const res = await request(`http://${agent.listeners.proxy}/`, { dispatcher, headers: { host: 'nowhere.example:81' } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['x-meshlet-error']).toBe('MESHLET_UNKNOWN_HOST');
    expect(await res.body.text()).toContain('nowhere.example');

    const h2 = await h2Request(session(agent.listeners.proxy!), { ':path': '/', ':authority': 'nowhere.example' });
    expect(h2.status).toBe(404);
    expect(h2.headers['x-meshlet-error']).toBe('MESHLET_UNKNOWN_HOST');

    const raw = await rawExchange(agent.listeners.proxy!, 'CONNECT nowhere.example:443 HTTP/1.1\r\nhost: nowhere.example:443\r\n\r\n');
    expect(rawStatus(raw)).toBe(404);
    expect(rawHeader(raw, 'x-meshlet-error')).toBe('MESHLET_UNKNOWN_HOST');
    expect(raw).toContain('nowhere.example');
  });

  it('does not route to inbound services by Host', async () => {
    const res = await request(`http://${agent.listeners.proxy}/`, { dispatcher, headers: { host: 'orders' } });
    await res.body.dump();
    expect(res.statusCode).toBe(404);
    // The agent's internal key for the service is no host name at all.
    const internal = await request(`http://${agent.listeners.proxy}/`, { dispatcher, headers: { host: 'inbound:orders' } });
    await internal.body.dump();
    expect(internal.statusCode).toBe(400);
  });
});

describe('inbound listener', () => {
  it('forwards to the local service it fronts, whatever the Host', async () => {
    expect(await instanceOf(`http://${agent.listeners['service:orders']}/orders/1`, { host: 'orders.internal' })).toBe('orders-local');
    const res = await h2Request(session(agent.listeners['service:orders']!), { ':path': '/orders/2' });
    expect(res.headers['x-instance']).toBe('orders-local');
  });
});
