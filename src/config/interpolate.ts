// ${VAR} and ${VAR:-default} in string values, resolved from an env map the caller passes in
// (never process.env directly, so tests and `meshlet validate` see exactly what they pass).
// Like the shell, ":-" also applies when the variable is set but empty. "$${" writes a literal
// "${". A default runs to the first "}", so it cannot itself contain "}" or another ${...}.

import { formatPath } from './path.ts';
import type { ConfigIssue } from './types.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export type InterpolationResult =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly reason: string };

export interface InterpolatedTree {
  readonly value: unknown;
  /** One per string that could not be interpolated; that string is left as written. */
  readonly issues: readonly ConfigIssue[];
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEFAULT_SEPARATOR = ':-';

export function interpolateString(text: string, env: Env): InterpolationResult {
  if (!text.includes('$')) return { ok: true, value: text };
  let value = '';
  let position = 0;
  while (position < text.length) {
    const dollar = text.indexOf('$', position);
    if (dollar < 0) break;
    value += text.slice(position, dollar);
    if (text.startsWith('$${', dollar)) {
      value += '${';
      position = dollar + 3;
      continue;
    }
    if (!text.startsWith('${', dollar)) {
      value += '$';
      position = dollar + 1;
      continue;
    }
    const close = text.indexOf('}', dollar + 2);
    if (close < 0) return fail(`"\${" at character ${dollar + 1} has no closing "}"`);
    const resolved = resolve(text.slice(dollar + 2, close), env);
    if (!resolved.ok) return resolved;
    value += resolved.value;
    position = close + 1;
  }
  return { ok: true, value: value + text.slice(position) };
}

/** Interpolates every string value in a parsed YAML tree; keys are left alone. */
export function interpolateTree(tree: unknown, env: Env): InterpolatedTree {
  const issues: ConfigIssue[] = [];
  const value = walk(tree, [], env, issues);
  return { value, issues };
}

function walk(node: unknown, path: PropertyKey[], env: Env, issues: ConfigIssue[]): unknown {
  if (typeof node === 'string') {
    const result = interpolateString(node, env);
    if (result.ok) return result.value;
    issues.push({ path: formatPath(path), message: result.reason });
    return node;
  }
  if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index], env, issues));
  if (node !== null && typeof node === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(node)) copy[key] = walk(item, [...path, key], env, issues);
    return copy;
  }
  return node;
}

function resolve(expression: string, env: Env): InterpolationResult {
  const separator = expression.indexOf(DEFAULT_SEPARATOR);
  const name = separator < 0 ? expression : expression.slice(0, separator);
  if (!VARIABLE_NAME.test(name)) {
    return fail(`"\${${expression}}" does not name a variable; write \${NAME} or \${NAME:-default}`);
  }
  const value = env[name];
  if (separator >= 0) {
    return { ok: true, value: value === undefined || value === '' ? expression.slice(separator + 2) : value };
  }
  if (value === undefined) {
    return fail(`environment variable ${name} is not set and has no default`);
  }
  return { ok: true, value };
}

function fail(reason: string): InterpolationResult {
  return { ok: false, reason };
}
