import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import ts from 'typescript';
import { BENCH_CACHE_DIR, REPO_ROOT } from './paths.ts';

// meshlet runs as compiled JS (dist/), so the Node forwarders it is compared with run compiled
// too: under tsx they would carry its loader thread, about 30 MiB of RSS that is not theirs.
// The output sits under node_modules/.cache so `undici` resolves from the repo's node_modules.

/** Transpiles a self-contained forwarder (repo-relative .ts path) and returns the .mjs to run. */
export function compileForwarder(file: string): string {
  const source = readFileSync(join(REPO_ROOT, file), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  mkdirSync(BENCH_CACHE_DIR, { recursive: true });
  const out = join(BENCH_CACHE_DIR, basename(file).replace(/\.ts$/, '.mjs'));
  writeFileSync(out, outputText);
  return out;
}
