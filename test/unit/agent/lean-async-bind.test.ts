// The bind the agent installs on Node 20 (lean-async-bind.ts) behaves as AsyncResource's own:
// the bound function runs in the resource's async scope with its arguments and `this` (or the
// given thisArg), keeps the function's length, and its asyncResource accessor still works and
// warns with DEP0172.
import { AsyncResource, executionAsyncId } from 'node:async_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { installLeanAsyncBind, needsLeanAsyncBind } from '../../../src/agent/lean-async-bind.ts';

const nodeBind = AsyncResource.prototype.bind;

afterEach(() => {
  AsyncResource.prototype.bind = nodeBind;
});

describe('the lean AsyncResource bind', () => {
  it('is installed on Node 20 only', () => {
    expect(needsLeanAsyncBind('v20.20.2')).toBe(true);
    expect(needsLeanAsyncBind('v22.12.0')).toBe(false);
    expect(needsLeanAsyncBind('v24.22.3')).toBe(false);
    expect(installLeanAsyncBind('v24.22.3')).toBe(false);
    expect(AsyncResource.prototype.bind).toBe(nodeBind);
    expect(installLeanAsyncBind('v20.20.2')).toBe(true);
    expect(AsyncResource.prototype.bind).not.toBe(nodeBind);
  });

  it('runs the function in the resource\'s scope, with its arguments and this, as the one it replaces', () => {
    const results: Record<string, unknown>[] = [];
    for (const install of [false, true]) {
      if (install) installLeanAsyncBind('v20.20.2');
      const resource = new AsyncResource('Test');
      const fn = function (this: unknown, a: number, b: number) {
        return { scope: executionAsyncId() === resource.asyncId(), self: this, sum: a + b };
      };
      const bound = resource.bind(fn);
      const receiver = { name: 'receiver' };
      // Node's bind takes a thisArg that @types/node leaves out.
      const withThis = (resource as unknown as { bind(f: typeof fn, thisArg: unknown): typeof fn }).bind(fn, receiver);
      results.push({ call: bound.call(receiver, 1, 2), fixed: withThis.call({ other: true }, 3, 4), length: bound.length, enumerable: Object.keys(bound), resource: (bound as unknown as { asyncResource: AsyncResource }).asyncResource === resource });
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[1]).toMatchObject({ call: { scope: true, self: { name: 'receiver' }, sum: 3 }, fixed: { scope: true, self: { name: 'receiver' }, sum: 7 }, length: 2, resource: true });
    expect(() => new AsyncResource('Test').bind(42 as unknown as () => void)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('keeps each bound function\'s asyncResource its own when one is reassigned', () => {
    installLeanAsyncBind('v20.20.2');
    const first = new AsyncResource('First');
    const second = new AsyncResource('Second');
    const a = first.bind(() => 'a') as unknown as { asyncResource: AsyncResource };
    const b = first.bind(() => 'b') as unknown as { asyncResource: AsyncResource };
    a.asyncResource = second;
    expect(a.asyncResource).toBe(second);
    expect(b.asyncResource).toBe(first);
    expect(Object.keys(a)).toEqual(['asyncResource']);
  });
});
