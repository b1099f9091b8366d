import { formatIssues } from '../config/load.ts';
import { readConfig } from './config-source.ts';

export async function runValidate(path: string): Promise<number> {
  const result = await readConfig(path);
  if (!result.ok) {
    process.stderr.write(`${path}: invalid config\n${formatIssues(result.issues)}\n`);
    return 1;
  }
  if (result.warnings.length > 0) process.stderr.write(`${formatIssues(result.warnings)}\n`);
  process.stdout.write(`${path}: valid (${result.config.upstreams.length} upstreams, ${result.config.services.length} services)\n`);
  return 0;
}
