import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_V8_FLAGS, agentNodeArgs, missingAgentV8Flags } from '../../../src/cli/agent-v8-flags.ts';

describe('missingAgentV8Flags', () => {
  it('names every flag when node was started without any', () => {
    expect(missingAgentV8Flags([])).toEqual(AGENT_V8_FLAGS);
  });

  it('leaves out a flag given on the command line or in NODE_OPTIONS, whatever its value or spelling', () => {
    expect(missingAgentV8Flags(['--max_old_space_size=1024'])).toEqual(AGENT_V8_FLAGS.filter((flag) => !flag.startsWith('--max-old-space-size')));
    expect(missingAgentV8Flags([], ' --max-semi-space-size=8  --max-old-space-size=64')).toEqual([]);
  });

  it('is empty for the arguments agentNodeArgs gives', () => {
    const args = agentNodeArgs(['-c', 'agent.yaml']);
    expect(args.slice(-4)).toEqual(['bin/meshlet.js', 'agent', '-c', 'agent.yaml']);
    expect(missingAgentV8Flags(args.slice(0, -4))).toEqual([]);
  });
});

describe('bin/meshlet.js', () => {
  it('carries the same flags in its shebang', () => {
    const shebang = readFileSync(new URL('../../../bin/meshlet.js', import.meta.url), 'utf8').split('\n')[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${AGENT_V8_FLAGS.join(' ')}`);
  });
});
