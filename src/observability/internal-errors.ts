// The last line of defence's bookkeeping: an exception that escaped the agent's own handling
// of one connection or request is counted by site and logged with its stack the first time
// that site fails, so a flood of bad input costs one log line, not one per request.
import type { Logger } from 'pino';
import type { InternalErrorSite, MeshletMetrics } from './metrics.ts';

export class InternalErrors {
  private readonly logged = new Set<InternalErrorSite>();

  constructor(
    private readonly metrics: MeshletMetrics,
    private readonly logger: Logger,
  ) {}

  report(site: InternalErrorSite, err: unknown): void {
    this.metrics.internalErrors[site].inc();
    if (this.logged.has(site)) return;
    this.logged.add(site);
    const stack = err instanceof Error ? err.stack ?? err.message : String(err);
    this.logger.error({ site, err: stack }, 'internal error: the request or connection was failed, the agent goes on (logged once per site; meshlet_internal_errors_total counts every one)');
  }
}
