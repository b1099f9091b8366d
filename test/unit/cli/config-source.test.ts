// A config document held in memory (what the control plane will push) is validated in the
// same child process and by the same checks as a config file with that text; the warm loader
// thread of an agent with a control plane gives the same answers, and a load that exhausts its
// heap fails that load only.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The child process runs the compiled worker: load the compiled module, as the agent does.
type ConfigSourceModule = typeof import('../../../src/cli/config-source.ts');
const { readConfig, readConfigDocument, keepConfigWorkerWarm } = (await import(new URL('../../../dist/cli/config-source.js', import.meta.url).href)) as ConfigSourceModule;

const valid = 'upstreams:\n  - name: catalog\n    endpoints: [127.0.0.1:8081]\n    policy: { lb: { algorithm: least_request, choiceCount: 3 } }\n';
const invalid = 'upstreams:\n  - name: catalog\n    endpoints: [127.0.0.1:8081]\n    policy: { lb: { algorithm: least_request, choiceCount: 1 }, retires: 2 }\n';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshlet-config-source-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a config document held in memory', () => {
  it('is validated and defaulted exactly as a file with its text', async () => {
    const path = join(dir, 'valid.yaml');
    await writeFile(path, valid);
    const fromMemory = await readConfigDocument(valid);
    expect(fromMemory).toEqual(await readConfig(path));
    expect(fromMemory.ok && fromMemory.config.upstreams[0]!.policy.lb).toMatchObject({ algorithm: 'least_request', choiceCount: 3 });
  });

  it('is refused with every issue named by its field, as a file is', async () => {
    const path = join(dir, 'invalid.yaml');
    await writeFile(path, invalid);
    const fromMemory = await readConfigDocument(invalid);
    expect(fromMemory).toEqual(await readConfig(path));
    const issues = fromMemory.ok ? [] : fromMemory.issues;
    expect(issues).toHaveLength(2);
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'upstreams[0].policy.retires', message: 'unknown field' },
        { path: 'upstreams[0].policy.lb.choiceCount', message: 'must be at least 2, got 1' },
      ]),
    );
  });

  it('reports text that is not YAML as an issue, not an exception', async () => {
    const result = await readConfigDocument('upstreams: [\n');
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.issues[0]!.message).toMatch(/^YAML syntax error at line/);
  });
});

describe('the warm loader thread', () => {
  afterAll(() => keepConfigWorkerWarm(false));

  it('answers as the one-shot process does; a document that exhausts its heap fails that load, and the next load works', async () => {
    const fromProcess = await readConfigDocument(valid);
    keepConfigWorkerWarm(true);
    expect(await readConfigDocument(valid)).toEqual(fromProcess);
    // Three million endpoints: far past the thread's 128 MiB heap once parsed.
    const endpoints = Array.from({ length: 3_000_000 }, (_, i) => `      - 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`).join('\n');
    await expect(readConfigDocument(`upstreams:\n  - name: big\n    endpoints:\n${endpoints}\n`)).rejects.toMatchObject({ code: 'ERR_WORKER_OUT_OF_MEMORY' });
    expect(await readConfigDocument(valid)).toEqual(fromProcess);
  }, 120_000);
});
