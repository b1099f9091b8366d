import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './paths.ts';

/** Writes the report as results/<stamp>.md and results/latest.md, the raw rounds as results/raw/<stamp>.json. */
export function writeResults(startedAt: Date, report: string, raw: unknown): string[] {
  const stamp = startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-');
  const rawDir = join(RESULTS_DIR, 'raw');
  mkdirSync(rawDir, { recursive: true });
  const files = [join(RESULTS_DIR, `${stamp}.md`), join(RESULTS_DIR, 'latest.md'), join(rawDir, `${stamp}.json`)];
  writeFileSync(files[0] as string, report);
  writeFileSync(files[1] as string, report);
  writeFileSync(files[2] as string, `${JSON.stringify(raw, null, 2)}\n`);
  return files;
}
