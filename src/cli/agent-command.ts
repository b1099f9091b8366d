// `meshlet agent`: run until SIGTERM/SIGINT (drain, exit 0); SIGHUP or a changed file
// (--watch) reloads, keeping the old config when the new one is invalid. With a `control`
// section the agent also takes its upstreams' policy from the control plane, starting from the
// policy cached on disk when there is one (src/agent/config-state.ts says how the two combine).

import { statSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { systemClock, systemRandom } from '../clock.ts';
import { Agent } from '../agent/agent.ts';
import { ConfigState } from '../agent/config-state.ts';
import { MESHLET_VERSION } from '../agent/version.ts';
import { installLeanAsyncBind } from '../agent/lean-async-bind.ts';
import type { AgentConfig, ControlConfig, LoadResult } from '../config/types.ts';
import type { CachedPolicy } from '../control/policy-cache.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { keepConfigWorkerWarm, loadConfig } from './config-source.ts';

export async function runAgent(path: string, options: { watch: boolean }): Promise<number> {
  installLeanAsyncBind();
  const first = await loadConfig({ path });
  if (!first.result.ok) {
    const logger = createLogger({ level: 'info', name: 'meshlet' });
    logger.error({ config: path, issues: first.result.issues }, 'config rejected');
    process.stderr.write(`${path}: invalid config\n${first.result.issues.map((i) => `${i.path || '(file)'}: ${i.message}`).join('\n')}\n`);
    return 1;
  }
  const logger = createLogger({ level: first.result.config.log.level, name: 'meshlet' });
  for (const warning of first.result.warnings) logger.warn({ field: warning.path }, warning.message);
  const text = first.text!;
  const control = first.result.config.control && resolveControlPaths(first.result.config.control, path);
  keepConfigWorkerWarm(control !== undefined);
  const cached = control ? await startingPolicy(control, text, logger) : undefined;
  const config = cached?.config ?? first.result.config;

  const agent = new Agent(config, { logger });
  let listeners: Record<string, string>;
  try {
    listeners = await agent.start();
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'agent failed to start');
    keepConfigWorkerWarm(false);
    await agent.stop();
    return 1;
  }
  logger.info({ node: config.node, listeners, ...(cached ? { policyVersion: cached.policy.version } : {}) }, 'agent ready');

  const cachePath = control?.cache;
  const writes = cachePath === undefined ? undefined : cacheWriter(cachePath, logger);
  const state = new ConfigState({
    agent, path, logger, text, config,
    load: loadConfig,
    policy: cached?.policy,
    ...(writes ? { applied: writes } : {}),
  });
  const link = control ? await startControlLink(agent, state, control, logger) : undefined;

  process.on('SIGHUP', () => void state.reloadFile('SIGHUP'));
  const watcher = options.watch ? watchFile(path, () => void state.reloadFile('file changed')) : undefined;

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  watcher?.close();
  link?.stop();
  keepConfigWorkerWarm(false);
  const drainTimeout = state.current.drainTimeout;
  logger.info({ signal, drainTimeoutMs: drainTimeout }, 'draining');
  const clean = await agent.drain(drainTimeout);
  await agent.stop();
  logger.info({ clean }, 'stopped');
  return 0;
}

/** control.cache and the TLS files are read relative to the config file's folder; the cache defaults to `<config file>.policy-cache.json`. */
function resolveControlPaths(control: ControlConfig, configPath: string): ControlConfig & { readonly cache: string } {
  const folder = dirname(resolve(configPath));
  const at = (file: string | undefined): string | undefined => (file === undefined ? undefined : resolve(folder, file));
  const { tls } = control;
  return {
    ...control,
    cache: at(control.cache) ?? resolve(folder, `${basename(configPath)}.policy-cache.json`),
    ...(tls ? { tls: { ...(tls.ca ? { ca: at(tls.ca)! } : {}), ...(tls.cert ? { cert: at(tls.cert)! } : {}), ...(tls.key ? { key: at(tls.key)! } : {}) } } : {}),
  };
}

/**
 * The cached policy merged over the YAML, if there is a cache and the merge is valid: the agent
 * comes up on it at once, with or without a control plane. A cache that cannot be read or
 * does not fit this YAML is set aside with a warning; the YAML alone runs then.
 */
async function startingPolicy(control: ControlConfig & { readonly cache: string }, text: string, logger: Logger): Promise<{ policy: CachedPolicy; config: AgentConfig } | undefined> {
  const { readPolicyCache } = await import('../control/policy-cache.ts');
  const read = await readPolicyCache(control.cache);
  if (!read.ok) {
    if (read.missing) logger.info({ cache: control.cache }, 'no cached policy: starting from the config file alone');
    else logger.warn({ cache: control.cache, reason: read.reason }, 'policy cache ignored: starting from the config file alone');
    return undefined;
  }
  const merged: LoadResult = (await loadConfig({ text }, read.policy.documentJson)).result;
  if (!merged.ok) {
    logger.warn({ cache: control.cache, policyVersion: read.policy.version, issues: merged.issues }, 'cached policy does not fit this config: starting from the config file alone');
    return undefined;
  }
  logger.info({ cache: control.cache, policyVersion: read.policy.version }, 'policy applied from cache');
  return { policy: read.policy, config: merged.config };
}

/** Cache writes one after another, each after its ACK; a failed write is logged, never fatal. */
function cacheWriter(path: string, logger: Logger): (policy: CachedPolicy) => void {
  let last: Promise<void> = Promise.resolve();
  return (policy) => {
    last = last.then(async () => {
      const { writePolicyCache } = await import('../control/policy-cache.ts');
      await writePolicyCache(path, policy);
    }).catch((err: unknown) => logger.warn({ cache: path, policyVersion: policy.version, err: (err as Error).message }, 'policy cache not written'));
  };
}

async function startControlLink(agent: Agent, state: ConfigState, control: ControlConfig, logger: Logger): Promise<{ stop(): void }> {
  // Only agents with a control plane load grpc-js's client.
  const { ControlRuntime } = await import('../agent/control-runtime.ts');
  return new ControlRuntime({
    control,
    clock: systemClock,
    random: systemRandom,
    logger,
    source: { decisions: agent.decisions, metrics: agent.metrics, traffic: agent.traffic, upstreams: () => agent.upstreamsInForce() },
    hello: () => ({
      node: state.current.node,
      version: MESHLET_VERSION,
      services: state.current.services.map((s) => s.name),
      upstreams: state.current.upstreams.map((u) => u.name),
      policyVersion: state.policy?.version ?? 0,
    }),
    apply: (snapshot) => state.applySnapshot(snapshot),
  });
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
