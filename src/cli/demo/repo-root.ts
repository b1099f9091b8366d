import { fileURLToPath } from 'node:url';

/** The repository root, where bin/ and proto/ are; child processes run from here. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
