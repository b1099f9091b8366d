// YAML text → AgentConfig: parse, interpolate ${ENV}, validate and default, check across
// fields, collect warnings. Every problem found is reported at once, each as "path: reason";
// nothing here throws for a bad config.

import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { checkConfig } from './cross-checks.ts';
import { interpolateTree, type Env } from './interpolate.ts';
import { configErrorMap, toConfigIssues } from './messages.ts';
import { agentConfigSchema } from './schema.ts';
import type { ConfigIssue, LoadResult } from './types.ts';
import { ineffectiveFieldWarnings, notYetEnforcedWarnings } from './warnings.ts';

export interface LoadOptions {
  /** Where ${VAR} is looked up; pass process.env at the entry point. */
  readonly env: Env;
  /** The node name when the config has none: os.hostname() at the entry point. */
  readonly hostname: string;
}

/**
 * `overlay` rewrites the tree after ${VAR} interpolation and before validation: the control
 * plane's policy goes in there, so what it sends is validated as config but never interpolated
 * (a pushed policy cannot read the agent's environment).
 */
export function parseConfig(text: string, opts: LoadOptions, overlay?: (tree: unknown) => unknown): LoadResult {
  const document = parseYaml(text);
  if (!document.ok) return document;
  const interpolated = interpolateTree(document.value, opts.env);
  const tree = overlay ? overlay(interpolated.value) : interpolated.value;
  const parsed = agentConfigSchema.safeParse(tree, { error: configErrorMap });
  if (!parsed.success) {
    // A value left as written because its ${VAR} failed would only add a second, confusing issue.
    const reported = new Set(interpolated.issues.map((issue) => issue.path));
    const schemaIssues = toConfigIssues(parsed.error.issues).filter((issue) => !reported.has(issue.path));
    return { ok: false, issues: [...interpolated.issues, ...schemaIssues] };
  }
  const issues = [...interpolated.issues, ...checkConfig(parsed.data)];
  if (issues.length > 0) return { ok: false, issues };
  const config = { ...parsed.data, node: parsed.data.node ?? opts.hostname };
  return { ok: true, config, warnings: [...notYetEnforcedWarnings(config), ...ineffectiveFieldWarnings(config)] };
}

/** Reads and parses a config file; an unreadable file is an issue, not an exception. */
export async function loadConfigFile(path: string | URL, opts: LoadOptions): Promise<LoadResult> {
  const read = await readConfigText(path);
  return read.ok ? parseConfig(read.text, opts) : read;
}

/** A config file's text; an unreadable file is an issue, not an exception. */
export async function readConfigText(path: string | URL): Promise<{ readonly ok: true; readonly text: string } | { readonly ok: false; readonly issues: readonly ConfigIssue[] }> {
  try {
    return { ok: true, text: await readFile(path, 'utf8') };
  } catch (error) {
    return { ok: false, issues: [{ path: '', message: `cannot read ${String(path)}: ${readFailure(error)}` }] };
  }
}

/** One line per issue (or warning): "upstreams[0].policy.timeout: must be longer than 0, got 0". */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((issue) => (issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`)).join('\n');
}

export type YamlResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** YAML text → plain value; syntax errors come with their line and column. */
export function parseYaml(text: string): YamlResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    return {
      ok: false,
      issues: document.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return { path: '', message: `YAML syntax error at line ${line}, column ${col}: ${firstLine(error.message)}` };
      }),
    };
  }
  if (document.contents === null) return { ok: false, issues: [{ path: '', message: 'the config is empty' }] };
  try {
    return { ok: true, value: document.toJS() };
  } catch (error) {
    // toJS refuses alias bombs ("excessive alias count").
    return { ok: false, issues: [{ path: '', message: `cannot read the YAML: ${error instanceof Error ? error.message : String(error)}` }] };
  }
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}

const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

/** Why a file could not be read, in words: "no such file". */
export function readFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (code && READ_FAILURES[code]) ?? (error instanceof Error ? error.message : String(error));
}
