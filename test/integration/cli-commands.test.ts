// The meshlet command line as a user runs it: exit codes, what is printed, and no stack traces.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/cli/demo/repo-root.ts';
import { parseGossipKey } from '../../src/gossip/keyring.ts';
import { meshlet, run } from '../helpers/meshlet-cli.ts';

const stackFrame = /^\s+at .+[(:]\d+/m;

const badConfig = `
admin: { listen: 127.0.0.1:0 }
upstreams:
  - name: payments
    protocol: grpc
    listen: 127.0.0.1:0
    endpoints: [127.0.0.1:50051]
    policy:
      lb: { algorithm: fastest }
      timeuot: 2s
`;

const badMessages = [
  'upstreams[0].policy.lb.algorithm: expected one of round_robin, weighted_round_robin, random, least_request, peak_ewma, ring_hash, maglev, got "fastest"',
  'upstreams[0].policy.timeuot: unknown field',
];

describe('meshlet CLI', () => {
  let dir: string;
  let badPath: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlet-cli-'));
    badPath = join(dir, 'bad.yaml');
    await writeFile(badPath, badConfig);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('validate exits 0 on a good config and says what it holds', async () => {
    const result = await meshlet(['validate', '-c', 'examples/agent.local.yaml']);
    expect(result).toMatchObject({ code: 0, stdout: 'examples/agent.local.yaml: valid (2 upstreams, 0 services)\n' });
  });

  it('validate exits 1 on a bad config with one line per field path and reason, and no stack trace', async () => {
    const result = await meshlet(['validate', '-c', badPath]);
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')).toEqual(expect.arrayContaining([`${badPath}: invalid config`, ...badMessages]));
    expect(result.stderr).not.toMatch(stackFrame);
    expect(result.stdout).toBe('');
  });

  it('validate exits 1 on a file that does not exist, without a stack trace', async () => {
    const result = await meshlet(['validate', '-c', join(dir, 'missing.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('missing.yaml');
    expect(result.stderr).not.toMatch(stackFrame);
  });

  it('agent exits 1 on a bad config with the same messages, without starting', async () => {
    const result = await meshlet(['agent', '-c', badPath]);
    expect(result.code).toBe(1);
    for (const message of badMessages) expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(stackFrame);
    expect(result.stdout).not.toContain('agent ready');
  });

  it("--version prints package.json's version", async () => {
    const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const result = await meshlet(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it('--help lists the agent, validate and demo commands', async () => {
    const result = await meshlet(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['agent', 'validate', 'demo']) expect(result.stdout).toMatch(new RegExp(`^\\s+${command} \\[options\\]`, 'm'));
  });

  it('runs as `npx meshlet` from the repository root', async () => {
    const result = await run('npx', ['--no-install', 'meshlet', 'validate', '-c', 'examples/agent.local.yaml']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('examples/agent.local.yaml: valid (2 upstreams, 0 services)\n');
  });

  it('validates the documented example config with MESHLET_TOKEN and MESHLET_GOSSIP_KEY set, with no warning', async () => {
    const key = (await meshlet(['keygen'])).stdout.trim();
    const result = await meshlet(['validate', '-c', 'examples/agent.yaml'], { ...process.env, MESHLET_TOKEN: 'secret', MESHLET_GOSSIP_KEY: key });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('examples/agent.yaml: valid (2 upstreams, 1 services)\n');
    expect(result.stderr).toBe('');
    expect(result.stderr).not.toContain('secret');
    expect(result.stderr).not.toContain(key);
  });

  it('refuses the documented example config without MESHLET_TOKEN, naming the variable', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, MESHLET_GOSSIP_KEY: Buffer.alloc(32).toString('base64') };
    delete env.MESHLET_TOKEN;
    const result = await meshlet(['validate', '-c', 'examples/agent.yaml'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('control.token: environment variable MESHLET_TOKEN is not set');
  });

  it('keygen prints a new gossip key, 32 random bytes in base64, and exits 0', async () => {
    const [first, second] = await Promise.all([meshlet(['keygen']), meshlet(['keygen'])]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    const parsed = parseGossipKey(first.stdout.trimEnd());
    expect(parsed.ok && parsed.key.length).toBe(32);
    expect(second.stdout).not.toBe(first.stdout);
  });

  it('refuses a config whose gossip key is not 32 bytes, naming the key and never printing it', async () => {
    const short = Buffer.from('twelve bytes').toString('base64');
    const path = join(dir, 'short-key.yaml');
    await writeFile(path, `gossip:\n  bind: 127.0.0.1:7946\n  keys: ["${short}"]\nupstreams:\n  - name: catalog\n`);
    const result = await meshlet(['validate', '-c', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('gossip.keys[0]: must be base64 of 32 bytes (make one with `meshlet keygen`), got 12 bytes');
    expect(result.stderr).not.toContain(short);
  });
});
