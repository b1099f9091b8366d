// zod's issues turned into sentences a person editing YAML understands: the field path, what
// was expected in YAML terms (a mapping, a list, one of …) and what was found. zod's own
// messages ("Invalid input: expected object, received undefined") are not shown.

import type { z } from 'zod';
import { formatPath } from './path.ts';
import type { ConfigIssue } from './types.ts';

export const MISSING_FIELD = 'required field is missing';
export const UNKNOWN_FIELD = 'unknown field';

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** Describes a YAML value in a message: strings quoted, lists and mappings by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** The per-parse error map: a schema's own `error` still wins over it. */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return MISSING_FIELD;
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case 'too_small':
      return tooSmall(issue.origin, Number(issue.minimum), issue.inclusive !== false, issue.input);
    case 'too_big':
      return tooBig(issue.origin, Number(issue.maximum), issue.inclusive !== false, issue.input);
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${String(issue.values[0])}, got ${describeValue(issue.input)}`
        : `expected one of ${issue.values.map(String).join(', ')}, got ${describeValue(issue.input)}`;
    case 'unrecognized_keys':
      return UNKNOWN_FIELD;
    case 'invalid_format':
      return `has an invalid format, got ${describeValue(issue.input)}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}, got ${describeValue(issue.input)}`;
    case 'invalid_union':
      return `does not match any allowed form, got ${describeValue(issue.input)}`;
    default:
      return issue.message ?? `is invalid, got ${describeValue(issue.input)}`;
  }
};

/**
 * Flattens zod's issues into one ConfigIssue per problem: an unknown-keys issue becomes one
 * per key, a bad mapping key reports its own reason, and a failed union reports only the
 * branch whose shape the value had.
 */
export function toConfigIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): ConfigIssue[] {
  const result: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) result.push({ path: formatPath([...path, key]), message: UNKNOWN_FIELD });
    } else if (issue.code === 'invalid_key' || issue.code === 'invalid_element') {
      result.push(...toConfigIssues(issue.issues, path));
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branch = branchOfSameShape(issue.errors);
      if (branch) result.push(...toConfigIssues(branch, path));
      else result.push({ path: formatPath(path), message: issue.message });
    } else {
      result.push({ path: formatPath(path), message: issue.message });
    }
  }
  return result;
}

// A branch that failed only at its root ("expected a mapping, got a string", "expected true,
// got false") is the wrong branch; if exactly one branch is left, its issues are the ones the
// user needs. Otherwise the union's own message says what forms are allowed.
function branchOfSameShape(branches: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] | undefined {
  const sameShape = branches.filter((issues) => !(issues.length === 1 && isRootMismatch(issues[0])));
  return sameShape.length === 1 ? sameShape[0] : undefined;
}

function isRootMismatch(issue: z.core.$ZodIssue | undefined): boolean {
  return issue !== undefined && issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value');
}

function tooSmall(origin: string, minimum: number, inclusive: boolean, input: unknown): string {
  if (origin === 'string') return minimum <= 1 ? 'must not be empty' : `must be at least ${minimum} characters long`;
  if (origin === 'array' || origin === 'set') return `must list at least ${minimum} ${minimum === 1 ? 'item' : 'items'}`;
  return inclusive
    ? `must be at least ${minimum}, got ${describeValue(input)}`
    : `must be greater than ${minimum}, got ${describeValue(input)}`;
}

function tooBig(origin: string, maximum: number, inclusive: boolean, input: unknown): string {
  if (origin === 'string') return `must be at most ${maximum} characters long`;
  if (origin === 'array' || origin === 'set') return `must list at most ${maximum} ${maximum === 1 ? 'item' : 'items'}`;
  return inclusive
    ? `must be at most ${maximum}, got ${describeValue(input)}`
    : `must be less than ${maximum}, got ${describeValue(input)}`;
}
