// Field paths in messages read the way the YAML is navigated: upstreams[0].policy.lb.algorithm.
// Keys that are not plain identifiers (header names, metadata keys) are quoted:
// policy.fallback.headers["content-type"].

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function formatPath(segments: readonly PropertyKey[]): string {
  let path = '';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else if (typeof segment === 'symbol') path += `[${String(segment)}]`;
    else if (!PLAIN_KEY.test(segment)) path += `[${JSON.stringify(segment)}]`;
    else path += path === '' ? segment : `.${segment}`;
  }
  return path;
}
