import { readFileSync } from 'node:fs';

/** Output captured from real wrk 4.1 / h2load 1.52 runs on loopback. */
export function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}
