// One `meshlet control` per --data directory: a second server on the same directory refuses to
// start and names the directory and the PID that holds it; a lock left by a server killed with
// -9, or whose PID another process has since been given, does not block the next start; a
// clean stop removes the lock.
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AGENT_TOKEN, OPERATOR_TOKEN, apply, call, controlClient, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { meshlet } from '../helpers/meshlet-cli.ts';

const started: RunningControl[] = [];
const env = { ...process.env, MESHLET_OPERATOR_TOKEN: OPERATOR_TOKEN, MESHLET_AGENT_TOKEN: AGENT_TOKEN };

afterAll(async () => {
  for (const control of started) await control.stop('SIGKILL');
  if (started[0]) await rm(started[0].dataDir, { recursive: true, force: true });
});

describe('meshlet control data-directory lock', () => {
  it('a second server on the same --data refuses with the directory and the holder PID; kill -9 leaves no blocking lock', async () => {
    const first = await startControl();
    started.push(first);
    const dataDir = first.dataDir;
    const client = controlClient(first.address);
    expect((await apply(client, { upstreams: { payments: { timeout: '3s' } } }, 0)).ok).toBe(true);

    const second = await meshlet(['control', '--listen', '127.0.0.1:0', '--data', dataDir, '--admin', '127.0.0.1:0'], env);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(dataDir);
    expect(second.stderr).toContain(`PID ${first.pid}`);
    // The refused start changed nothing for the running one.
    expect((await call(client, 'GetPolicy', { version: 0 })).version).toBe(1);
    client.close();

    first.child.signal('SIGKILL');
    await first.child.exited;
    expect(await readFile(join(dataDir, 'control.lock'), 'utf8')).toMatch(new RegExp(`^${first.pid}\n\\d+\n$`));

    const third = await startControl({ dataDir });
    started.push(third);
    expect(await readFile(join(dataDir, 'control.lock'), 'utf8')).toMatch(new RegExp(`^${third.pid}\n\\d+\n$`));
    const again = controlClient(third.address);
    expect((await call(again, 'GetPolicy', { version: 0 })).version).toBe(1);
    again.close();

    expect((await third.stop('SIGTERM')).code).toBe(0);
    await expect(stat(join(dataDir, 'control.lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  }, 60_000);

  it('takes over a lock whose PID now belongs to another process (it started at another time)', async () => {
    const dataDir = started[0]!.dataDir;
    // This test process is alive, but it is not the server that wrote the lock.
    await writeFile(join(dataDir, 'control.lock'), `${process.pid}\n1\n`);
    const control = await startControl({ dataDir });
    started.push(control);
    expect(await readFile(join(dataDir, 'control.lock'), 'utf8')).toMatch(new RegExp(`^${control.pid}\n`));
    await control.stop('SIGTERM');
  }, 60_000);
});
