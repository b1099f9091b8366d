import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from '../../../src/cli/agent-options.ts';

describe("meshlet agent's own option parser", () => {
  it('reads every way a user writes --config and --watch, as commander does', () => {
    expect(parseAgentArgs(['-c', 'agent.yaml'])).toEqual({ config: 'agent.yaml', watch: false });
    expect(parseAgentArgs(['--config', 'agent.yaml', '--watch'])).toEqual({ config: 'agent.yaml', watch: true });
    expect(parseAgentArgs(['--config=agent.yaml', '-w'])).toEqual({ config: 'agent.yaml', watch: true });
    expect(parseAgentArgs(['-w', '-c', 'a.yaml', '-c', 'b.yaml'])).toEqual({ config: 'b.yaml', watch: true });
  });

  it('leaves help and every usage error to commander, which explains them', () => {
    for (const args of [[], ['--help'], ['-h'], ['-w'], ['-c'], ['-c', 'a.yaml', 'extra'], ['-c', 'a.yaml', '--verbose'], ['--watch=yes', '-c', 'a.yaml']]) {
      expect(parseAgentArgs(args), args.join(' ')).toBeUndefined();
    }
  });
});
