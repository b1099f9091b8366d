// A user clones only this repository: nothing in it may need files beside it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
const textFiles = tracked.filter((file) => /\.(ts|js|json|md|ya?ml|sh)$/.test(file) || file.startsWith('.ci/'));

describe('the repository stands alone', () => {
  it('no tracked file points into a sibling folder of the clone', () => {
    const sibling = new RegExp(String.raw`\.\./` + 'shared');
    const offenders = textFiles.filter((file) => file !== 'package-lock.json' && sibling.test(readFileSync(resolve(root, file), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('every relative link in the Markdown files resolves to a file inside the repository', () => {
    const broken: string[] = [];
    for (const file of textFiles.filter((f) => f.endsWith('.md') && !f.startsWith('bench/results/'))) {
      const text = readFileSync(resolve(root, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        const path = resolve(root, dirname(file), target!);
        if (relative(root, path).startsWith('..') || !existsSync(path)) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('keeps stray process files out of the tree', () => {
    expect(tracked.filter((file) => /(^|\/)pids$|\.pid$/.test(file))).toEqual([]);
  });
});
