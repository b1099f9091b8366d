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
