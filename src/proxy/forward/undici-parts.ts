// undici's index loads fetch, WebSocket, caches and more: about 20 MiB of resident memory the
// agent never uses. The agent needs only Pool and the error classes, so it loads those modules
// alone, and its connector (undici has no "exports" map, so its lib/ paths are reachable); types come from the index.

import { createRequire } from 'node:module';
import type { Pool as UndiciPool, buildConnector as UndiciBuildConnector, errors as UndiciErrors } from 'undici';

const require = createRequire(import.meta.url);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
export const undiciErrors = require('undici/lib/core/errors.js') as typeof UndiciErrors;
export const buildConnector = require('undici/lib/core/connect.js') as typeof UndiciBuildConnector;
