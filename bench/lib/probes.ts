import { connect } from 'node:http2';
import { RESPONSE_BODY } from './body.ts';
import { echoOnce } from './echo-client.ts';
import type { Protocol } from './scenarios.ts';

// One request per protocol through a row before any load, so a broken path is reported as
// "unavailable (why)" instead of as a row of zeros.

const TIMEOUT_MS = 3000;

async function probeH1(port: number): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200 || !body.equals(RESPONSE_BODY)) throw new Error(`HTTP/1.1 probe got ${response.status} with ${body.length} bytes`);
}

function probeH2c(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`);
    const fail = (error: Error): void => {
      session.destroy();
      reject(error);
    };
    session.on('error', fail);
    session.setTimeout(TIMEOUT_MS, () => fail(new Error('h2c probe timed out')));
    const request = session.request({ ':path': '/' }, { endStream: true });
    const chunks: Buffer[] = [];
    let status = 0;
    request.on('response', (headers) => { status = Number(headers[':status']); });
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('error', fail);
    request.on('end', () => {
      session.close();
      const body = Buffer.concat(chunks);
      if (status === 200 && body.equals(RESPONSE_BODY)) resolve();
      else reject(new Error(`h2c probe got ${status} with ${body.length} bytes`));
    });
  });
}

export function probe(protocol: Protocol, port: number): Promise<void> {
  switch (protocol) {
    case 'h1': return probeH1(port);
    case 'h2c': return probeH2c(port);
    case 'grpc': return echoOnce(port);
  }
}
