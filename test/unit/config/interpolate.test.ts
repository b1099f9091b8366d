import { describe, expect, it } from 'vitest';
import { interpolateString, interpolateTree } from '../../../src/config/interpolate.ts';

const env = { HOST: '10.0.0.7', PORT: '8080', EMPTY: '', UNSET: undefined };

describe('interpolateString', () => {
  it.each([
    ['no variables', 'no variables'],
    ['${HOST}', '10.0.0.7'],
    ['${HOST}:${PORT}', '10.0.0.7:8080'],
    ['http://${HOST}/path', 'http://10.0.0.7/path'],
    ['${MISSING:-127.0.0.1:9001}', '127.0.0.1:9001'],
    ['${UNSET:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${EMPTY}', ''],
    ['${HOST:-ignored}', '10.0.0.7'],
    ['${MISSING:-}', ''],
    ['price: $5', 'price: $5'],
    ['$HOST', '$HOST'],
    ['$${HOST}', '${HOST}'],
    ['a$', 'a$'],
  ])('turns %j into %j', (text, value) => {
    expect(interpolateString(text, env)).toEqual({ ok: true, value });
  });

  it.each([
    ['${MISSING}', 'environment variable MISSING is not set and has no default'],
    ['${UNSET}', 'environment variable UNSET is not set and has no default'],
    ['x ${HOST', '"${" at character 3 has no closing "}"'],
    ['${}', '"${}" does not name a variable; write ${NAME} or ${NAME:-default}'],
    ['${9LIVES}', '"${9LIVES}" does not name a variable; write ${NAME} or ${NAME:-default}'],
    ['${A-B}', '"${A-B}" does not name a variable; write ${NAME} or ${NAME:-default}'],
  ])('refuses %j: %s', (text, reason) => {
    expect(interpolateString(text, env)).toEqual({ ok: false, reason });
  });
});

describe('interpolateTree', () => {
  it('interpolates string values at any depth and leaves keys and other scalars alone', () => {
    const tree = { '${HOST}': 1, list: ['${HOST}', 2, true, null], nested: { deep: '${PORT}' } };
    expect(interpolateTree(tree, env)).toEqual({
      value: { '${HOST}': 1, list: ['10.0.0.7', 2, true, null], nested: { deep: '8080' } },
      issues: [],
    });
  });

  it('names the field path of every string it cannot interpolate', () => {
    const tree = { control: { token: '${TOKEN}' }, upstreams: [{ endpoints: ['${HOST}:1', '${NOPE}:2'] }] };
    expect(interpolateTree(tree, env).issues).toEqual([
      { path: 'control.token', message: 'environment variable TOKEN is not set and has no default' },
      { path: 'upstreams[0].endpoints[1]', message: 'environment variable NOPE is not set and has no default' },
    ]);
  });
});
