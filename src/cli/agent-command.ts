// `meshlet agent`: run until SIGTERM/SIGINT (drain, exit 0); SIGHUP or a changed file
// (--watch) reloads, keeping the old config when the new one is invalid.

import { statSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import { Agent } from '../agent/agent.ts';
import type { AgentConfig } from '../config/types.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { readConfig } from './config-source.ts';

export async function runAgent(path: string, options: { watch: boolean }): Promise<number> {
  const first = await readConfig(path);
  if (!first.ok) {
    const logger = createLogger({ level: 'info', name: 'meshlet' });
    logger.error({ config: path, issues: first.issues }, 'config rejected');
    process.stderr.write(`${path}: invalid config\n${first.issues.map((i) => `${i.path || '(file)'}: ${i.message}`).join('\n')}\n`);
    return 1;
  }
  const logger = createLogger({ level: first.config.log.level, name: 'meshlet' });
  for (const warning of first.warnings) logger.warn({ field: warning.path }, warning.message);
  const agent = new Agent(first.config, { logger });
  let listeners: Record<string, string>;
  try {
    listeners = await agent.start();
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'agent failed to start');
    await agent.stop();
    return 1;
  }
  logger.info({ node: first.config.node, listeners }, 'agent ready');

  let current: AgentConfig = first.config;
  let reloading: Promise<void> = Promise.resolve();
  const reload = (reason: string): void => {
    reloading = reloading.then(() => applyReload(agent, path, reason, logger).then((config) => {
      if (config) current = config;
    }));
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  const watcher = options.watch ? watchFile(path, () => reload('file changed')) : undefined;

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  watcher?.close();
  logger.info({ signal, drainTimeoutMs: current.drainTimeout }, 'draining');
  const clean = await agent.drain(current.drainTimeout);
  await agent.stop();
  logger.info({ clean }, 'stopped');
  return 0;
}

async function applyReload(agent: Agent, path: string, reason: string, logger: Logger): Promise<AgentConfig | undefined> {
  const result = await readConfig(path);
  if (!result.ok) {
    agent.metrics.configReload('rejected');
    logger.error({ reason, issues: result.issues }, 'config rejected');
    return undefined;
  }
  try {
    const failures = await agent.reload(result.config);
    for (const failure of failures) logger.error({ reason, ...failure }, 'listener could not be opened');
  } catch (err) {
    agent.metrics.configReload('rejected');
    logger.error({ reason, issues: [{ path: '', message: (err as Error).message }] }, 'config rejected');
    return undefined;
  }
  agent.metrics.configReload('applied');
  for (const warning of result.warnings) logger.warn({ field: warning.path }, warning.message);
  logger.info({ reason, listeners: agent.listenerAddresses() }, 'config applied');
  return result.config;
}

/**
 * Editors and Kubernetes replace the file (rename over it, swap a symlink) rather than write it
 * in place, and a watch on the file itself goes deaf after the first replace. So the directory
 * is watched, and any event in it reloads only if what the path points at has changed.
 */
function watchFile(path: string, onChange: () => void): { close(): void } {
  let pending: NodeJS.Timeout | undefined;
  let last = fingerprint(path);
  const check = (): void => {
    pending = undefined;
    const now = fingerprint(path);
    // Missing: mid-replace, or deleted; the old config stays until a file is back.
    if (now === undefined || now === last) return;
    last = now;
    onChange();
  };
  const watcher = watch(dirname(path), { persistent: false }, () => {
    if (pending) clearTimeout(pending);
    pending = setTimeout(check, 100);
  });
  return {
    close: () => {
      if (pending) clearTimeout(pending);
      watcher.close();
    },
  };
}

function fingerprint(path: string): string | undefined {
  try {
    const stat = statSync(path);
    return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return undefined;
  }
}
