#!/usr/bin/env node
// Runs a TypeScript entry point (bench, sample servers) with tsx's loader: node bin/run-ts.js FILE [args]
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: run-ts.js FILE [args...]\n');
  process.exit(2);
}
process.argv.splice(1, 2, resolve(file));
register();
await import(pathToFileURL(resolve(file)).href);
