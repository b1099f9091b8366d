// The policy cache is read back only as written: whole, checksummed, of its own format.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPolicyCache, writePolicyCache } from '../../../src/control/policy-cache.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshlet-policy-cache-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('policy cache', () => {
  it('reads back what was written, replacing the previous entry and leaving no temp file', async () => {
    const path = join(dir, 'agent.yaml.policy-cache.json');
    await writePolicyCache(path, { version: 3, documentJson: '{"defaults":{"timeout":"2s"}}', createdAtMs: 1 });
    await writePolicyCache(path, { version: 4, documentJson: '{"defaults":{"timeout":"3s"}}', createdAtMs: 2 });
    expect(await readPolicyCache(path)).toEqual({ ok: true, policy: { version: 4, documentJson: '{"defaults":{"timeout":"3s"}}', createdAtMs: 2 } });
    expect(await readdir(dir)).toEqual(['agent.yaml.policy-cache.json']);
  });

  it('says a missing cache is missing, and refuses a torn, edited or foreign file with a reason', async () => {
    expect(await readPolicyCache(join(dir, 'none.json'))).toEqual({ ok: false, missing: true });
    const path = join(dir, 'bad.json');
    await writePolicyCache(path, { version: 5, documentJson: '{"upstreams":{}}', createdAtMs: 1 });
    const whole = await readFile(path, 'utf8');
    const cases: [string, RegExp][] = [
      [whole.slice(0, whole.length - 5), /not JSON/],
      [whole.replace('"version":5', '"version":6').replace('{\\"upstreams\\":{}}', '{\\"upstreams\\":{\\"a\\":{}}}'), /checksum/],
      ['{"version":5}', /format-1/],
      [whole.replace('"version":5', '"version":"5"'), /wrong type/],
    ];
    for (const [text, reason] of cases) {
      await writeFile(path, text);
      const read = await readPolicyCache(path);
      expect(read).toMatchObject({ ok: false, missing: false, reason: expect.stringMatching(reason) });
    }
  });
});
