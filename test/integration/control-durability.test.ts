// An acknowledged apply survives kill -9 of `meshlet control`: the apply returns, the process
// is killed at once with SIGKILL, a new process on the same data dir serves that version, and
// no version file is torn.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { apply, call, controlClient, RawAgent, startControl, type RunningControl } from '../helpers/control-plane.ts';

const started: RunningControl[] = [];

afterAll(async () => {
  for (const control of started) await control.stop('SIGKILL');
  if (started[0]) await rm(started[0].dataDir, { recursive: true, force: true });
});

describe('meshlet control durability', () => {
  it('kill -9 right after applies return: the restarted server has every acknowledged version, whole', async () => {
    let control = await startControl();
    started.push(control);
    const dataDir = control.dataDir;
    let expected = 0;
    for (let round = 0; round < 5; round++) {
      const client = controlClient(control.address);
      // Several applies back to back; the kill lands right after the last one returns.
      for (let i = 0; i < 4; i++) {
        const result = await apply(client, { upstreams: { payments: { timeout: `${round * 10 + i + 1}s` } } }, expected);
        expect(result.ok).toBe(true);
        expected = result.version;
      }
      control.child.signal('SIGKILL');
      expect((await control.child.exited).signal).toBe('SIGKILL');
      client.close();

      control = await startControl({ dataDir });
      started.push(control);
      const again = controlClient(control.address);
      const current = await call(again, 'GetPolicy', { version: 0 });
      expect(current.version).toBe(expected);
      expect(JSON.parse(current.documentJson)).toEqual({ upstreams: { payments: { timeout: `${round * 10 + 4}s` } } });
      // An agent connecting to the restarted server is given that version.
      const agent = new RawAgent(again).hello(`after-kill-${round}`);
      expect((await agent.snapshot(expected)).version).toBe(expected);
      agent.close();
      again.close();
    }
    const names = (await readdir(join(dataDir, 'policy'))).sort();
    expect(names).toEqual(Array.from({ length: expected }, (_, i) => `v${String(i + 1).padStart(20, '0')}.json`));
    for (const name of names) {
      const [header, document] = (await readFile(join(dataDir, 'policy', name), 'utf8')).split('\n');
      expect(JSON.parse(header!).bytes).toBe(Buffer.byteLength(document!));
      JSON.parse(document!);
    }
  }, 120_000);
});
