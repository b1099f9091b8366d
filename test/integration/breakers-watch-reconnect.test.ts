// `meshlet breakers --watch` outlives the control plane: a real `meshlet control` is killed -9
// under a running watch and started again on the same port; the watch says on stderr that it
// lost the stream, reconnects by itself, and prints a breaker change made after the restart.
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { OPERATOR_TOKEN, RawAgent, controlClient, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { RunningCommand } from '../helpers/meshlet-cli.ts';
import { until } from '../helpers/until.ts';
import { unusedPort } from './http-support.ts';

const started: RunningControl[] = [];

afterAll(async () => {
  for (const control of started) await control.stop('SIGKILL');
  if (started[0]) await rm(started[0].dataDir, { recursive: true, force: true });
});

function breakerReport(state: 'BREAKER_STATE_OPEN' | 'BREAKER_STATE_HALF_OPEN' | 'BREAKER_STATE_CLOSED', reason: string) {
  return { report: { atMs: Date.now(), breakers: [{ upstream: 'payments', endpoint: '127.0.0.1:9001', state, reason, sinceMs: Date.now() }] } };
}

describe('meshlet breakers --watch across a control-plane restart', () => {
  it('reports the lost stream, reconnects, and prints a breaker change made after the restart', async () => {
    const listen = `127.0.0.1:${await unusedPort()}`;
    const first = await startControl({ listen });
    started.push(first);
    const agent = new RawAgent(controlClient(listen)).hello('node-r');
    const watch = new RunningCommand(['breakers', '--watch', '--server', listen], { ...process.env, MESHLET_TOKEN: OPERATOR_TOKEN });
    try {
      agent.send(breakerReport('BREAKER_STATE_OPEN', '5 consecutive failures (before the restart)'));
      await until(async () => watch.stdout.includes('before the restart'), 15_000, 'the open breaker printed');

      first.child.signal('SIGKILL');
      await first.child.exited;
      agent.close();
      await until(async () => watch.stderr.includes('lost the watch stream'), 15_000, 'the loss reported on stderr');
      // Down for a while: several retries fail before the server is back.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const second = await startControl({ listen, dataDir: first.dataDir });
      started.push(second);
      await until(async () => watch.stderr.includes('watching'), 20_000, 'the watch reconnected');

      const again = new RawAgent(controlClient(listen)).hello('node-r');
      const sent = Date.now();
      again.send(breakerReport('BREAKER_STATE_HALF_OPEN', 'trial after 10s open (after the restart)'));
      await until(async () => watch.stdout.includes('after the restart'), 15_000, 'the change after the restart printed');
      console.log(`breaker change after the restart printed ${Date.now() - sent} ms after the agent reported it`);
      expect(watch.stdout).toMatch(/node-r {2}payments 127\.0\.0\.1:9001 {2}half-open {2}trial after 10s open \(after the restart\)\n/);
      expect(watch.stderr).toMatch(/meshlet: lost the watch stream: .*; reconnecting for up to 1m/);
      expect(watch.stderr).toMatch(new RegExp(`meshlet: watching ${listen} again \\(the stream was lost for \\d+\\.\\d s\\)`));
      again.close();

      watch.signal('SIGINT');
      expect(await watch.exited).toBe(0);
    } finally {
      watch.signal('SIGKILL');
    }
  }, 90_000);
});
