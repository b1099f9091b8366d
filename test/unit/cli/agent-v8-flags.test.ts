import { describe, expect, it } from 'vitest';
import { AGENT_V8_FLAGS, agentNodeArgs, agentV8FlagsFor, missingAgentV8Flags } from '../../../src/cli/agent-v8-flags.ts';

describe('missingAgentV8Flags', () => {
  it('names every flag when node was started without any', () => {
    expect(missingAgentV8Flags([])).toEqual(AGENT_V8_FLAGS);
  });

  it('leaves out a flag given on the command line or in NODE_OPTIONS, whatever its value or spelling', () => {
    expect(missingAgentV8Flags(['--max_semi_space_size=32'])).toEqual(AGENT_V8_FLAGS.filter((flag) => !flag.startsWith('--max-semi-space-size')));
    expect(missingAgentV8Flags([], ' --max-semi-space-size=8  --max-old-space-size=64')).toEqual(AGENT_V8_FLAGS.filter((flag) => !flag.startsWith('--max-')));
  });

  it('is empty for the arguments agentNodeArgs gives', () => {
    const args = agentNodeArgs(['-c', 'agent.yaml']);
    expect(args.slice(-4)).toEqual(['bin/meshlet.js', 'agent', '-c', 'agent.yaml']);
    expect(missingAgentV8Flags(args.slice(0, -4))).toEqual([]);
  });
});

describe('agentV8FlagsFor', () => {
  it('caps the young generation on Node 20, and the old generation too from Node 22 on', () => {
    expect(agentV8FlagsFor('v20.18.1')).toEqual(['--max-semi-space-size=8']);
    expect(agentV8FlagsFor('v24.22.3')).toEqual(['--max-semi-space-size=2', '--max-old-space-size=256']);
    expect(agentNodeArgs(['-c', 'a.yaml'], 'v24.1.0').slice(0, 2)).toEqual(['--max-semi-space-size=2', '--max-old-space-size=256']);
  });
});
