// Envoy's max_requests for an upstream: policy.limits.maxConcurrent attempts in flight to it,
// all endpoints together. Past it a call is refused at once (503 MESHLET_UPSTREAM_OVERFLOW,
// gRPC RESOURCE_EXHAUSTED, the message naming the limit), never queued and never sent
// elsewhere. One comparison per attempt.

import { NO_ATTEMPT, type Attempt, type AttemptHandler, type Dispatcher, type Step } from '../proxy/call/attempt.ts';
import type { ProxyCall } from '../proxy/call/proxy-call.ts';

export const upstreamLimit: Step = (next) => new UpstreamLimitDispatcher(next);

class UpstreamLimitDispatcher implements Dispatcher {
  constructor(private readonly next: Dispatcher) {}

  dispatch(call: ProxyCall, handler: AttemptHandler): Attempt {
    const upstream = call.upstream;
    if (upstream.inFlight < upstream.settings.maxConcurrent) return this.next.dispatch(call, handler);
    upstream.overflowed('maxConcurrent');
    handler.onError('upstream_overflow', upstream.settings.overflowDetail.maxConcurrent);
    return NO_ATTEMPT;
  }
}
