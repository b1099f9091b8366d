import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagedProcess } from './processes.ts';

const POLL_MS = 100;

/** Waits until `ready()` is true, polling; fails if the process exits first or time runs out. */
async function waitFor(what: string, process: ManagedProcess, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += POLL_MS) {
    if (!process.isRunning()) throw new Error(`${process.name} exited before ${what}: ${lastError(process.outputTail())}`);
    if (await ready()) return;
    await sleep(POLL_MS);
  }
  throw new Error(`${process.name}: no ${what} within ${timeoutMs} ms`);
}

export function waitForPort(process: ManagedProcess, port: number, timeoutMs = 15_000): Promise<void> {
  return waitFor(`listening on ${port}`, process, timeoutMs, () => canConnect(port));
}

export function waitForHttpOk(process: ManagedProcess, url: string, timeoutMs = 20_000): Promise<void> {
  return waitFor(`200 from ${url}`, process, timeoutMs, async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The most telling line of a crashed process's output: the first error line, else the last line. */
export function lastError(output: string): string {
  const lines = output.split('\n').map((line) => line.trim()).filter(Boolean);
  const line = lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? 'no output';
  return line.length > 240 ? `${line.slice(0, 237)}...` : line;
}
