// node:http2's ClientHttp2Session.request() calls AsyncResource.prototype.bind once per request.
// On Node 20 that bind wraps the bound function's deprecated `asyncResource` accessor (DEP0172)
// in two util.deprecate wrappers, each made with Object.setPrototypeOf: 13-14 µs a call on this
// machine, against 2 µs for the same bind with plain accessors (bench/README.md, "Node 20's
// AsyncResource.bind"), about 8 % of the agent's CPU per h2c or gRPC request. Node 24 skips the
// prototype step (3-4 µs). On Node 20 only, the agent installs this bind: the same bound
// function, run in the resource's async scope, with the same `length` and `asyncResource`,
// whose accessor warns once with DEP0172 as the deprecated one does.

import { AsyncResource } from 'node:async_hooks';

const DEP0172 = 'The asyncResource property on bound functions is deprecated';

/** Whether `nodeVersion` (process.version) needs the lean bind: Node before 22. */
export function needsLeanAsyncBind(nodeVersion: string): boolean {
  return Number(/^v(\d+)\./.exec(nodeVersion)?.[1] ?? 0) < 22;
}

let warned = false;
function warnDeprecated(): void {
  if (warned) return;
  warned = true;
  process.emitWarning(DEP0172, 'DeprecationWarning', 'DEP0172');
}

type AnyFunction = (...args: unknown[]) => unknown;

function leanBind(this: AsyncResource, fn: AnyFunction, thisArg?: unknown): AnyFunction {
  return boundTo(this, fn, thisArg);
}

/** Where a bound function keeps its resource, so every bound function shares one accessor pair. */
const kResource = Symbol('asyncResource');

interface BoundFunction extends AnyFunction {
  [kResource]: AsyncResource;
}

// One getter and setter for all bound functions: accessors made per call (as node's bind makes
// them) give every bound function a map of its own, a few hundred bytes of garbage per request.
const asyncResourceAccessor: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: BoundFunction): AsyncResource {
    warnDeprecated();
    return this[kResource];
  },
  set(this: BoundFunction, value: AsyncResource) {
    warnDeprecated();
    this[kResource] = value;
  },
};

function boundTo(resource: AsyncResource, fn: AnyFunction, thisArg: unknown): AnyFunction {
  if (typeof fn !== 'function') throw Object.assign(new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`), { code: 'ERR_INVALID_ARG_TYPE' });
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]): unknown {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, fn, thisArg);
  Object.defineProperty(bound, kResource, { configurable: true, enumerable: false, writable: true, value: resource });
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, value: fn.length, writable: false });
  Object.defineProperty(bound, 'asyncResource', asyncResourceAccessor);
  return bound;
}

/** Installs the lean bind when `nodeVersion` needs it; returns whether it did. Idempotent. */
export function installLeanAsyncBind(nodeVersion = process.version): boolean {
  if (!needsLeanAsyncBind(nodeVersion)) return false;
  AsyncResource.prototype.bind = leanBind as unknown as typeof AsyncResource.prototype.bind;
  return true;
}
