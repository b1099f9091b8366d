// Checks that need more than one field: names that must be unique, addresses the agent would
// bind twice or forward to itself, endpoints an upstream needs, a fallback its protocol can send.

import { hostNameKey, isWildcardHost } from './address.ts';
import type { ConfigIssue, HostPort, UpstreamConfig } from './types.ts';
import type { ConfigWithoutNode } from './schema.ts';

interface Listener {
  readonly path: string;
  readonly at: HostPort;
  /** An inbound listener is a legitimate target for this agent's own upstreams. */
  readonly inbound: boolean;
}

export function checkConfig(config: ConfigWithoutNode): ConfigIssue[] {
  const listeners = listenersOf(config);
  return [
    // Clients address upstreams by DNS-style names, matched as hostNameKey does: two names that
    // match alike would leave the second unreachable.
    ...duplicateNames(config.upstreams.map((u, i) => [`upstreams[${i}].name`, u.name]), 'upstream', hostNameKey),
    ...duplicateNames(config.services.map((s, i) => [`services[${i}].name`, s.name]), 'service'),
    ...sharedListeners(listeners),
    ...config.services.flatMap((service, i) => selfTargets(`services[${i}].target`, service.target, listeners)),
    ...config.upstreams.flatMap((upstream, i) => upstreamIssues(upstream, `upstreams[${i}]`, config.gossip !== undefined, listeners)),
  ];
}

function listenersOf(config: ConfigWithoutNode): Listener[] {
  return [
    { path: 'admin.listen', at: config.admin.listen, inbound: false },
    ...(config.proxy ? [{ path: 'proxy.listen', at: config.proxy.listen, inbound: false }] : []),
    // Gossip's push-pull sync is TCP on the bind port.
    ...(config.gossip ? [{ path: 'gossip.bind', at: config.gossip.bind, inbound: false }] : []),
    ...config.services.map((s, i) => ({ path: `services[${i}].listen`, at: s.listen, inbound: true })),
    ...config.upstreams.flatMap((u, i) => (u.listen ? [{ path: `upstreams[${i}].listen`, at: u.listen, inbound: false }] : [])),
  ];
}

function duplicateNames(named: readonly (readonly [string, string])[], kind: string, keyOf: (name: string) => string = (name) => name): ConfigIssue[] {
  const first = new Map<string, { path: string; name: string }>();
  const issues: ConfigIssue[] = [];
  for (const [path, name] of named) {
    const key = keyOf(name);
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, { path, name });
    else if (earlier.name === name) issues.push({ path, message: `${kind} name "${name}" is already used by ${earlier.path}` });
    else issues.push({ path, message: `${kind} name "${name}" matches "${earlier.name}" of ${earlier.path}: names match case-insensitively, with or without a trailing dot` });
  }
  return issues;
}

// Port 0 is "any free port", so it never collides; 0.0.0.0 / :: take the port on every host.
function sharedListeners(listeners: readonly Listener[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  listeners.forEach((listener, index) => {
    if (listener.at.port === 0) return;
    const earlier = listeners.slice(0, index).find((other) => collide(other.at, listener.at));
    if (earlier) issues.push({ path: listener.path, message: `${listener.at.text} is already used by ${earlier.path}` });
  });
  return issues;
}

function collide(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port) return false;
  return isWildcardHost(a.host) || isWildcardHost(b.host) || a.host.toLowerCase() === b.host.toLowerCase();
}

function sameAddress(a: HostPort, b: HostPort): boolean {
  return a.port === b.port && a.host.toLowerCase() === b.host.toLowerCase();
}

function selfTargets(path: string, target: HostPort, listeners: readonly Listener[]): ConfigIssue[] {
  const own = listeners.find((listener) => sameAddress(listener.at, target));
  return own ? [{ path, message: `${target.text} is this agent's own ${own.path}; the agent would forward to itself` }] : [];
}

function upstreamIssues(upstream: UpstreamConfig, path: string, hasGossip: boolean, listeners: readonly Listener[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (upstream.endpoints.length === 0 && !hasGossip) {
    issues.push({ path: `${path}.endpoints`, message: 'must list at least one endpoint when gossip is not configured' });
  }
  const firstIndex = new Map<string, number>();
  const outbound = listeners.filter((listener) => !listener.inbound);
  upstream.endpoints.forEach((endpoint, index) => {
    const key = `${endpoint.host.toLowerCase()}:${endpoint.port}`;
    const first = firstIndex.get(key);
    if (first === undefined) firstIndex.set(key, index);
    else issues.push({ path: `${path}.endpoints[${index}]`, message: `${endpoint.address} is already listed as endpoints[${first}]` });
    issues.push(...selfTargets(`${path}.endpoints[${index}]`, { host: endpoint.host, port: endpoint.port, text: endpoint.address }, outbound));
  });
  const fallback = upstream.policy.fallback;
  if (fallback && 'grpcStatus' in fallback && upstream.protocol !== 'grpc') {
    issues.push({ path: `${path}.policy.fallback`, message: `a gRPC fallback (grpcStatus) needs protocol grpc, not ${upstream.protocol}` });
  }
  if (fallback && 'status' in fallback && upstream.protocol === 'grpc') {
    issues.push({ path: `${path}.policy.fallback`, message: 'an HTTP fallback (status) cannot answer gRPC calls; use grpcStatus' });
  }
  if (fallback && !('status' in fallback) && 'staleIfError' in fallback && upstream.protocol === 'grpc') {
    issues.push({ path: `${path}.policy.fallback.staleIfError`, message: 'keeps answers to GET requests, and gRPC calls are POSTs; use grpcStatus' });
  }
  return issues;
}
