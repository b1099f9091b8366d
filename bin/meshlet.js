#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader, so `npx meshlet` works right after
// `npm ci` with no build step and can never run stale compiled output.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
