// How a rollout is counted and shown: which agents are done with a version, and the progress
// line rewritten in place on a terminal but printed once per change into a pipe.
import { describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../../src/control/control-proto.ts';
import { ProgressLine, rolloutLine, tallyRollout } from '../../../src/cli/rollout.ts';

function agent(node: string, fields: Partial<AgentStatus> = {}): AgentStatus {
  return { node, softwareVersion: '0.1.0', connected: true, version: 0, nack: null, lastSeenMs: 0, lastReport: null, ...fields };
}

function stream(isTTY: boolean): { written: string[]; stream: NodeJS.WriteStream } {
  const written: string[] = [];
  return { written, stream: { isTTY, write: (text: string) => written.push(text) > 0 } as unknown as NodeJS.WriteStream };
}

describe('tallyRollout', () => {
  it('counts a later version as acked, a NACK of this or a later one as refused, waits for no disconnected agent, and names nodes in order', () => {
    const rollout = tallyRollout([
      agent('on-it', { version: 7 }),
      agent('past-it', { version: 8 }),
      agent('refused', { version: 6, nack: { version: 7, errors: [{ path: 'upstreams.a.lb', message: 'bad' }] } }),
      agent('old-nack', { version: 6, nack: { version: 5, errors: [] } }),
      agent('behind', { version: 6 }),
      agent('gone', { connected: false }),
    ], 7);
    expect(rollout).toEqual({
      version: 7, connected: 5, acked: ['on-it', 'past-it'],
      nacked: [{ node: 'refused', version: 7, errors: [{ path: 'upstreams.a.lb', message: 'bad' }] }],
      pending: ['behind', 'old-nack'], disconnected: ['gone'], complete: false,
    });
    expect(rolloutLine(rollout)).toBe('2/5 agents acked v7, 1 nacked');
  });

  it('is complete with no agent connected', () => {
    const rollout = tallyRollout([agent('gone', { connected: false })], 3);
    expect(rollout.complete).toBe(true);
    expect(rolloutLine(rollout)).toBe('0/0 agents acked v3');
  });
});

describe('ProgressLine', () => {
  it.each([
    { where: 'rewrites one line in place on a terminal and ends it once', isTTY: true, expected: ['\r\x1b[2K1/3 agents acked v7', '\r\x1b[2K3/3 agents acked v7', '\n'] },
    { where: 'prints one line per change into a pipe or a file', isTTY: false, expected: ['1/3 agents acked v7\n', '3/3 agents acked v7\n'] },
  ])('$where', ({ isTTY, expected }) => {
    const { written, stream: out } = stream(isTTY);
    const progress = new ProgressLine(out);
    progress.update('1/3 agents acked v7');
    progress.update('1/3 agents acked v7');
    progress.update('3/3 agents acked v7');
    progress.finish();
    expect(written).toEqual(expected);
  });
});
