// The operator CLI end to end against a real `meshlet control` process and agents on real
// Connect streams: apply rolls out and waits for the ACKs, agents shows them, and the exit
// codes a script relies on hold against the real server's answers.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlMessage } from '../../src/control/control-proto.ts';
import { AGENT_TOKEN, call, controlClient, OPERATOR_TOKEN, RawAgent, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { meshlet, RunningCommand } from '../helpers/meshlet-cli.ts';
import { until } from '../helpers/until.ts';

describe('meshlet operator commands against meshlet control', () => {
  let control: RunningControl;
  let dir: string;
  const agents: RawAgent[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlet-operator-e2e-'));
    control = await startControl();
  });

  afterAll(async () => {
    for (const agent of agents) agent.close();
    await control?.stop('SIGTERM', true);
    await rm(dir, { recursive: true, force: true });
  });

  /** An agent that acknowledges every snapshot it is sent, or refuses each with `nack`. */
  function connectAgent(node: string, nack?: { path: string; message: string }): RawAgent {
    const agent = new RawAgent(controlClient(control.address), AGENT_TOKEN).hello(node);
    agent.stream.on('data', (message: ControlMessage) => {
      const { version } = message.snapshot;
      agent.send(nack ? { nack: { version, errors: [nack] } } : { ack: { version } });
    });
    agents.push(agent);
    return agent;
  }

  const env = (): NodeJS.ProcessEnv => ({ ...process.env, MESHLET_TOKEN: OPERATOR_TOKEN, MESHLET_CONTROL: control.address });

  it('apply follows the new version out to every agent, agents -o json shows them on it, and the exit codes hold', async () => {
    for (const node of ['node-a', 'node-b', 'node-c']) connectAgent(node);
    const operator = controlClient(control.address);
    await until(async () => (await call(operator, 'ListAgents', {})).agents.filter((agent) => agent.connected).length === 3, 15_000, 'three agents connected');
    operator.close();
    const policy = join(dir, 'policy.yaml');
    await writeFile(policy, 'defaults:\n  timeout: 2s\nupstreams:\n  payments:\n    retry: { attempts: 3 }\n');

    const applied = await meshlet(['apply', '-f', policy], env());
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('applied v1 (2 changes)');
    expect(applied.stdout.trim().split('\n').at(-1)).toBe('3/3 agents acked v1');

    const json = await meshlet(['agents', '-o', 'json'], env());
    const parsed = JSON.parse(json.stdout) as { currentVersion: number; agents: { node: string; version: number; nack: unknown }[] };
    expect(parsed.currentVersion).toBe(1);
    expect(parsed.agents.map(({ node, version, nack }) => ({ node, version, nack }))).toEqual([
      { node: 'node-a', version: 1, nack: null }, { node: 'node-b', version: 1, nack: null }, { node: 'node-c', version: 1, nack: null },
    ]);

    const stale = await meshlet(['apply', '-f', policy, '--expected-version', '7'], env());
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain('meshlet: conflict:');

    const unchanged = await meshlet(['apply', '-f', policy], env());
    expect(unchanged.code).toBe(0);
    expect(unchanged.stdout).toContain('unchanged');

    const yaml = await meshlet(['get', 'policy'], env());
    expect(yaml.stdout).toContain('# policy v1');
    expect(yaml.stdout).toContain('attempts: 3');

    const wrongRole = await meshlet(['status'], { ...env(), MESHLET_TOKEN: AGENT_TOKEN });
    expect(wrongRole.code).toBe(4);
    expect(wrongRole.stderr).toContain('refused the token in MESHLET_TOKEN');
  });

  it('a NACK ends apply with exit 3 and the agent\'s errors; rollback restores the earlier document as a new version', async () => {
    connectAgent('node-d', { path: 'upstreams.payments.retry.attempts', message: 'this agent refuses it' });
    const operator = controlClient(control.address);
    await until(async () => (await call(operator, 'ListAgents', {})).agents.some((agent) => agent.node === 'node-d' && agent.connected), 15_000, 'node-d connected');
    operator.close();
    const policy = join(dir, 'second.yaml');
    await writeFile(policy, 'upstreams:\n  payments:\n    retry: { attempts: 4 }\n');
    const applied = await meshlet(['apply', '-f', policy, '--wait', '5s'], env());
    expect(applied.code).toBe(3);
    expect(applied.stdout).toContain('3/4 agents acked v2, 1 nacked');
    expect(applied.stdout).toContain('node-d: upstreams.payments.retry.attempts: this agent refuses it');

    const table = await meshlet(['agents'], env());
    expect(table.stdout).toMatch(/node-d\s+test\s+yes\s+\S+\s+v2: upstreams\.payments\.retry\.attempts: this agent refuses it/);

    const rolledBack = await meshlet(['rollback', '--to', '1', '--wait', '5s', '-o', 'json'], env());
    expect(rolledBack.code).toBe(3);
    expect(JSON.parse(rolledBack.stdout)).toMatchObject({ ok: true, version: 3, rollout: { acked: ['node-a', 'node-b', 'node-c'], nacked: [{ node: 'node-d' }] } });
    const current = await meshlet(['get', 'policy', '-o', 'json'], env());
    expect(JSON.parse(current.stdout)).toMatchObject({ version: 3, rolledBackFrom: 1, document: { defaults: { timeout: '2s' } } });
  });

  it('breakers --watch shows a breaker an agent reports open, with its reason, within 2 s, and status lists it', async () => {
    const agent = connectAgent('node-e');
    const watch = new RunningCommand(['breakers', '--watch'], env());
    try {
      const breaker = (state: 'BREAKER_STATE_OPEN' | 'BREAKER_STATE_HALF_OPEN', reason: string) => ({
        report: { atMs: Date.now(), breakers: [{ upstream: 'payments', endpoint: '127.0.0.1:9001', state, reason, sinceMs: Date.now() }] },
      });
      agent.send(breaker('BREAKER_STATE_OPEN', '5 consecutive failures (connect refused)'));
      await until(async () => watch.stdout.includes('5 consecutive failures'), 15_000, 'the open breaker printed');
      const sent = Date.now();
      agent.send(breaker('BREAKER_STATE_HALF_OPEN', 'trial after 10s open'));
      await until(async () => watch.stdout.includes('trial after 10s open'), 15_000, 'the change printed');
      expect(Date.now() - sent).toBeLessThan(2000);
      expect(watch.stdout).toMatch(/node-e {2}payments 127\.0\.0\.1:9001 {2}half-open {2}trial after 10s open\n/);

      const status = await meshlet(['status', '-o', 'json'], env());
      expect(JSON.parse(status.stdout).openBreakers).toContainEqual(expect.objectContaining({ node: 'node-e', upstream: 'payments', state: 'half-open', reason: 'trial after 10s open' }));
      watch.signal('SIGINT');
      expect(await watch.exited).toBe(0);
    } finally {
      watch.signal('SIGKILL');
    }
  });
});
