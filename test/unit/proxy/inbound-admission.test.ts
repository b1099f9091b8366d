// An inbound service's admission step on the in-memory forwarder: at most maxConcurrent calls
// reach the local application, the rest are shed at once, and every way a call ends frees its place.
import { describe, expect, it } from 'vitest';
import { InboundAdmission } from '../../../src/proxy/inbound/inbound-admission.ts';
import { callRig } from '../../helpers/in-memory-forwarder.ts';

function admissionRig(limit: number) {
  let shed = 0;
  let admission: InboundAdmission | undefined;
  const rig = callRig({
    steps: [(next) => (admission = new InboundAdmission(next, limit, () => void shed++))],
  });
  return { rig, admission: () => admission!, shed: () => shed };
}

describe('InboundAdmission', () => {
  it('sheds the call beyond maxConcurrent at once with 503 MESHLET_OVERLOADED, never reaching the application', () => {
    const { rig, shed } = admissionRig(2);
    rig.call();
    rig.call();
    const third = rig.call();
    expect(rig.attempts()).toHaveLength(2);
    expect(third.sink.failures).toEqual(['503 MESHLET_OVERLOADED']);
    expect(shed()).toBe(1);
  });

  it('frees a place however a call ends: a whole response, a failure, a client gone, a timeout', () => {
    const { rig, admission } = admissionRig(1);
    rig.call();
    rig.attempts()[0]!.head(200);
    rig.attempts()[0]!.end();
    expect(admission().inFlight).toBe(0);

    rig.call();
    rig.attempts()[1]!.fail('reset_before_headers');
    expect(admission().inFlight).toBe(0);

    const gone = rig.call();
    gone.call.onClientClose();
    expect(admission().inFlight).toBe(0);

    const timed = callRig({ timeoutMs: 50, steps: [(next) => new InboundAdmission(next, 1, () => undefined)] });
    const first = timed.call();
    timed.clock.advance(50);
    expect(first.sink.failures).toEqual(['504 MESHLET_UPSTREAM_TIMEOUT']);
    timed.call();
    expect(timed.attempts()).toHaveLength(2);
  });

  it('takes a new limit on reload without touching calls already admitted', () => {
    const { rig, admission } = admissionRig(1);
    rig.call();
    admission().setLimit(2);
    rig.call();
    expect(rig.attempts()).toHaveLength(2);
    expect(rig.call().sink.failures).toEqual(['503 MESHLET_OVERLOADED']);
  });
});
