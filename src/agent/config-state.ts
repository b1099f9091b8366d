// What the agent runs: its own YAML with the control plane's policy in force merged over it.
// Both inputs change apart (SIGHUP or --watch re-reads the YAML, a snapshot replaces the
// policy), and each change builds the effective config from both again, validated as one
// config (the config worker) and applied through the agent's two-phase apply. A change that
// fails anywhere changes nothing: the last good config stays in force. Changes run one at a
// time, in the order they came.
import type { Logger } from 'pino';
import type { AgentConfig, ConfigIssue, LoadResult } from '../config/types.ts';
import { formatPath } from '../config/path.ts';
import type { ApplyVerdict } from '../control/control-client.ts';
import type { PolicySnapshot } from '../control/control-proto.ts';
import type { CachedPolicy } from '../control/policy-cache.ts';
import type { Agent } from './agent.ts';

/** Reads and validates a config: the file or text, with a policy document (JSON) merged in (src/cli/config-source.ts). */
export type ConfigLoader = (source: { readonly path: string } | { readonly text: string }, policy?: string) => Promise<{ readonly result: LoadResult; readonly text?: string }>;

export interface ConfigStateOptions {
  readonly agent: Agent;
  readonly path: string;
  readonly load: ConfigLoader;
  readonly logger: Logger;
  /** The YAML's text and the config it gave (with `policy` merged, if any) at start. */
  readonly text: string;
  readonly config: AgentConfig;
  readonly policy: CachedPolicy | undefined;
  /** Called after a snapshot is in force (the cache is written there). */
  readonly applied?: (policy: CachedPolicy) => void;
}

/** A snapshot with no document (version 0: nothing applied yet) is the empty policy. */
export function documentOf(snapshot: Pick<PolicySnapshot, 'documentJson'>): string {
  return snapshot.documentJson.trim() === '' ? '{}' : snapshot.documentJson;
}

const PREPARE_FAILURE = /^upstream "([^"]+)": /;

export class ConfigState {
  private text: string;
  private config: AgentConfig;
  private policyInForce: CachedPolicy | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ConfigStateOptions) {
    this.text = options.text;
    this.config = options.config;
    this.policyInForce = options.policy;
  }

  get current(): AgentConfig {
    return this.config;
  }

  get policy(): CachedPolicy | undefined {
    return this.policyInForce;
  }

  /** Re-reads the YAML and merges the policy in force over it (SIGHUP, --watch). */
  reloadFile(reason: string): Promise<void> {
    return this.serially(async () => {
      const { logger, agent } = this.options;
      const { result, text } = await this.options.load({ path: this.options.path }, this.policyInForce?.documentJson);
      const outcome = result.ok ? await this.put(result.config, false) : { ok: false as const, issues: result.issues };
      if (!outcome.ok) {
        agent.metrics.configReload('rejected');
        logger.error({ reason, issues: outcome.issues, ...(this.policyInForce ? { policyVersion: this.policyInForce.version } : {}) }, 'config rejected');
        return;
      }
      this.text = text!;
      agent.metrics.configReload('applied');
      if (result.ok) for (const warning of result.warnings) logger.warn({ field: warning.path }, warning.message);
      logger.info({ reason, listeners: agent.listenerAddresses(), ...(this.policyInForce ? { policyVersion: this.policyInForce.version } : {}) }, 'config applied');
    });
  }

  /** Applies a control-plane snapshot over the YAML last read; the verdict is its ACK or NACK. */
  applySnapshot(snapshot: PolicySnapshot): Promise<ApplyVerdict> {
    return this.serially(async (): Promise<ApplyVerdict> => {
      const { logger } = this.options;
      const policy: CachedPolicy = { version: snapshot.version, documentJson: documentOf(snapshot), createdAtMs: snapshot.createdAtMs };
      const running = this.policyInForce;
      if (running && running.version === policy.version && running.documentJson === policy.documentJson) return { ok: true };
      const { result } = await this.options.load({ text: this.text }, policy.documentJson);
      const outcome = result.ok ? await this.put(result.config, true) : { ok: false as const, issues: result.issues };
      if (!outcome.ok) {
        logger.error({ policyVersion: policy.version, issues: outcome.issues, inForce: running?.version ?? 0 }, 'policy rejected: the config in force stays');
        return { ok: false, errors: outcome.issues };
      }
      this.policyInForce = policy;
      logger.info({ policyVersion: policy.version, previous: running?.version ?? 0 }, 'policy applied');
      this.options.applied?.(policy);
      return { ok: true };
    });
  }

  /** Prepare and commit; a prepare failure is the config's issue, for a NACK named by its upstream's path. */
  private async put(config: AgentConfig, byUpstream: boolean): Promise<{ ok: true } | { ok: false; issues: ConfigIssue[] }> {
    let failures;
    try {
      failures = await this.options.agent.reload(config);
    } catch (err) {
      const message = (err as Error).message;
      const upstream = byUpstream ? PREPARE_FAILURE.exec(message)?.[1] : undefined;
      return { ok: false, issues: [{ path: upstream === undefined ? '' : formatPath(['upstreams', upstream]), message }] };
    }
    for (const failure of failures) this.options.logger.error(failure, 'listener could not be opened');
    this.config = config;
    return { ok: true };
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
