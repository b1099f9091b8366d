// The package version, read once: `meshlet --version` prints it and gossip advertises it.
import { readFileSync } from 'node:fs';

export const MESHLET_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
