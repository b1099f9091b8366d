import { describe, expect, it } from 'vitest';
import { parseBenchOptions, type BenchOptions } from '../../../bench/lib/options.ts';

function parse(...argv: string[]): BenchOptions {
  const options = parseBenchOptions(argv);
  if (options === 'help') throw new Error('expected options, got help');
  return options;
}

describe('parseBenchOptions --against', () => {
  it('adds meshlet-base, next to meshlet, to the default rows, which leave it out without a baseline', () => {
    const options = parse('--against', 'HEAD~1');
    expect(options.baseline).toBe('HEAD~1');
    expect(options.rows).toEqual(['direct', 'bare-node', 'naive-h2', 'haproxy', 'meshlet', 'meshlet-policy', 'meshlet-base', 'meshlet-node24']);
    expect(parse().rows).toEqual(['direct', 'bare-node', 'naive-h2', 'haproxy', 'meshlet', 'meshlet-policy', 'meshlet-node24']);
    expect(parse().baseline).toBeUndefined();
  });

  it('takes meshlet-base in --rows together with --against', () => {
    const options = parse('--rows', 'meshlet,meshlet-base', '--against', 'HEAD~1', '--scenarios', 'h1-c50');
    expect(options.rows).toEqual(['meshlet', 'meshlet-base']);
    expect(options.scenarios.map((s) => s.id)).toEqual(['h1-c50']);
  });

  it('adds meshlet-base to --rows that leave it out, since --against asks for it', () => {
    expect(parse('--rows', 'direct,meshlet', '--against=main').rows).toEqual(['direct', 'meshlet', 'meshlet-base']);
  });

  it('refuses meshlet-base without a baseline, and an empty ref', () => {
    expect(() => parse('--rows', 'meshlet,meshlet-base')).toThrow('--rows meshlet-base needs --against REF');
    expect(() => parse('--against', ' ')).toThrow('--against needs a git ref');
  });

  it('lists --against in the usage text', () => {
    expect(() => parse('--rows', 'meshlet-base')).toThrow(/--against +a git ref/);
  });
});

describe('parseBenchOptions gossip', () => {
  it('runs the gossip suite by default, next to throughput, faults and control, with the issue\'s sizes and a minute of stress', () => {
    const options = parse();
    expect(options.suites).toEqual(['throughput', 'faults', 'gossip', 'control']);
    expect(options.gossip).toEqual({ sizes: [10, 25, 50], systems: ['meshlet', 'serf'], stressS: 60, idleS: 30, kills: 5 });
  });

  it('runs only the suites the flags given tune when there is no --suite', () => {
    expect(parse('--rounds', '1', '--duration', '3').suites).toEqual(['throughput']);
    expect(parse('--rows', 'direct,meshlet', '--scenarios', 'h1-c50').suites).toEqual(['throughput']);
    expect(parse('--against', 'HEAD~1').suites).toEqual(['throughput']);
    expect(parse('--gossip-sizes', '10').suites).toEqual(['gossip']);
    expect(parse('--control-agents', '3', '--rounds', '1').suites).toEqual(['throughput', 'control']);
    expect(parse('--suite', 'faults', '--rounds', '1').suites).toEqual(['faults']);
    expect(parse('--rounds', '1').durationS).toBe(8);
  });

  it('takes a short smoke run of one size and system', () => {
    const options = parse('--suite', 'gossip', '--gossip-sizes', '10', '--gossip-systems', 'serf', '--gossip-stress', '10', '--gossip-idle', '5', '--gossip-kills', '1');
    expect(options.suites).toEqual(['gossip']);
    expect(options.gossip).toEqual({ sizes: [10], systems: ['serf'], stressS: 10, idleS: 5, kills: 1 });
  });

  it('refuses sizes that do not fit a seed and a joiner on 127.0.0.x, and unknown systems', () => {
    expect(() => parse('--gossip-sizes', '1')).toThrow('--gossip-sizes: each size must be 2..253');
    expect(() => parse('--gossip-sizes', '10,300')).toThrow('--gossip-sizes: each size must be 2..253');
    expect(() => parse('--gossip-sizes', 'ten')).toThrow('--gossip-sizes must be a whole number');
    expect(() => parse('--gossip-systems', 'consul')).toThrow('--gossip-systems: unknown consul; choose from meshlet, serf');
    expect(() => parse('--gossip-stress', '0')).toThrow('--gossip-stress must be a whole number above 0');
  });
});

describe('parseBenchOptions control', () => {
  it('runs 50 agents and 10 versions by default, and takes a smaller smoke run', () => {
    expect(parse().control).toEqual({ agents: 50, versions: 10 });
    const options = parse('--suite', 'control', '--control-agents', '3', '--control-versions', '2');
    expect(options.suites).toEqual(['control']);
    expect(options.control).toEqual({ agents: 3, versions: 2 });
    expect(() => parse('--control-agents', '0')).toThrow('--control-agents must be a whole number above 0');
  });
});
