// The process harness behind startUpstream/startAgent, on small `node -e` children.
import { describe, expect, it } from 'vitest';
import { ManagedChild } from '../../src/cli/demo/managed-child.ts';

function child(script: string): ManagedChild {
  return ManagedChild.spawnNode('test child', ['-e', script], { cwd: process.cwd() });
}

describe('ManagedChild', () => {
  it('parses JSON lines, keeps other lines as text, and finds past and future lines', async () => {
    const c = child(`
      console.log(JSON.stringify({ msg: 'first' }));
      console.log('not json');
      setTimeout(() => console.log(JSON.stringify({ msg: 'later', n: 2 })), 100);
      setInterval(() => {}, 1000);`);
    try {
      expect(await c.waitForLine((l) => l.msg === 'later', 5_000)).toEqual({ msg: 'later', n: 2 });
      expect(await c.waitForLine((l) => l.msg === 'first', 5_000)).toEqual({ msg: 'first' });
      expect(c.lines()).toEqual([{ msg: 'first' }, { text: 'not json' }, { msg: 'later', n: 2 }]);
      await expect(c.waitForLine((l) => l.msg === 'first', 200, c.lineCount)).rejects.toThrow(/no matching line within 200 ms/);
    } finally {
      await c.stop();
    }
  });

  it('rejects a wait when the process exits first, with its stderr', async () => {
    const c = child(`console.error('boom: port in use'); process.exit(3);`);
    const error = (await c.waitForLine(() => false, 5_000).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('exited (code 3');
    expect(error.message).toContain('boom: port in use');
  });

  it('stops by SIGTERM, and by SIGKILL when SIGTERM is ignored', async () => {
    const polite = child(`setInterval(() => {}, 1000); console.log('{"up":true}')`);
    await polite.waitForLine((l) => l.up === true, 5_000);
    expect(await polite.stop()).toEqual({ code: null, signal: 'SIGTERM' });

    const stubborn = child(`process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('{"up":true}')`);
    await stubborn.waitForLine((l) => l.up === true, 5_000);
    expect(await stubborn.stop('SIGTERM', 200)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(() => process.kill(stubborn.pid, 0)).toThrow();
  });
});
