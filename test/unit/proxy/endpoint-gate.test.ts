import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { EndpointGate, type GatedRequest } from '../../../src/proxy/forward/endpoint-gate.ts';

class Request implements GatedRequest {
  sent = false;
  send(): void {
    this.sent = true;
  }
}

describe('EndpointGate', () => {
  it('sends a request that cannot be reset in its own read at once when there is room', () => {
    const gate = new EndpointGate<Request>(() => 2, 10);
    const request = new Request();
    expect(gate.enter(request, false)).toBe(true);
    expect(request.sent).toBe(true);
  });

  it('holds a request that may be reset in its own read until the next turn, and a withdrawn one never goes out', async () => {
    const gate = new EndpointGate<Request>(() => 2, 10);
    const kept = new Request();
    const reset = new Request();
    gate.enter(kept, true);
    gate.enter(reset, true);
    expect(kept.sent || reset.sent).toBe(false);
    expect(gate.withdraw(reset)).toBe(true);
    await nextTurn();
    expect(kept.sent).toBe(true);
    expect(reset.sent).toBe(false);
  });

  it('never has more on the wire than its capacity, keeps arrival order, and refuses past the queue limit', async () => {
    const gate = new EndpointGate<Request>(() => 1, 2);
    const [first, second, third, fourth] = [new Request(), new Request(), new Request(), new Request()];
    expect(gate.enter(first, false)).toBe(true);
    expect(gate.enter(second, false)).toBe(true);
    expect(gate.enter(third, true)).toBe(true);
    expect(gate.enter(fourth, false)).toBe(false);
    await nextTurn();
    expect([first.sent, second.sent, third.sent]).toEqual([true, false, false]);
    gate.release();
    // A request that waits sends before a newcomer, even one that could go at once.
    const newcomer = new Request();
    gate.enter(newcomer, false);
    await nextTurn();
    expect([second.sent, third.sent, newcomer.sent]).toEqual([true, false, false]);
    gate.release();
    await nextTurn();
    expect([third.sent, newcomer.sent]).toEqual([true, false]);
  });
});
