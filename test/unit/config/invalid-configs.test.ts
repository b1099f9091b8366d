import { describe, expect, it } from 'vitest';
import { formatIssues, loadConfigFile, parseConfig } from '../../../src/config/load.ts';
import { HEALTH_WITHOUT_GOSSIP_MESSAGE } from '../../../src/config/warnings.ts';

function issuesOf(yaml: string, env: Record<string, string> = {}): string[] {
  const result = parseConfig(yaml, { env, hostname: 'test-host' });
  if (result.ok) throw new Error('expected the config to be refused');
  return formatIssues(result.issues).split('\n');
}

const KEY = Buffer.alloc(32, 1).toString('base64');

// One valid upstream to hang a broken field on.
const upstream = (extra: string) => `upstreams:\n  - name: catalog\n    endpoints: [127.0.0.1:8081]\n${extra}`;

describe('a config that is refused', () => {
  it.each<[string, string, unknown[]]>([
    [
      'an unknown balancing algorithm',
      upstream('    policy: { lb: { algorithm: fastest } }\n'),
      [
        'upstreams[0].policy.lb.algorithm: expected one of round_robin, weighted_round_robin, random, least_request, peak_ewma, ring_hash, maglev, got "fastest"',
      ],
    ],
    ['a timeout of garbage', upstream('    policy: { timeout: soon }\n'), ['upstreams[0].policy.timeout: expected a duration such as 250ms, 2s or 1m30s, got "soon"']],
    ['a timeout of zero', upstream('    policy: { timeout: 0s }\n'), ['upstreams[0].policy.timeout: must be longer than 0, got "0s"']],
    ['a timeout in days', upstream('    policy: { timeout: 1d }\n'), ['upstreams[0].policy.timeout: unknown unit "d" in "1d"; use ms, s, m or h']],
    ['a protocol we do not speak', upstream('    protocol: http3\n'), ['upstreams[0].protocol: expected one of http, http2, grpc, got "http3"']],
    ['a missing name', 'upstreams:\n  - endpoints: [127.0.0.1:8081]\n', ['upstreams[0].name: required field is missing']],
    [
      'a name with a space',
      'upstreams:\n  - { name: "my svc", endpoints: [127.0.0.1:8081] }\n',
      ['upstreams[0].name: must start with a letter or digit and contain only letters, digits, ".", "-" and "_", got "my svc"'],
    ],
    ['upstreams that are not a list', 'upstreams: { name: catalog }\n', ['upstreams: expected a list, got a mapping']],
    [
      'a control plane replica without a port',
      'control: { address: "127.0.0.1:7950,127.0.0.1" }\n',
      ['control.address: entry 2 of 2: expected "host:port", got "127.0.0.1"'],
    ],
    ['a weight of zero', 'upstreams:\n  - { name: catalog, endpoints: [{ address: "h:1", weight: 0 }] }\n', ['upstreams[0].endpoints[0].weight: must be at least 1, got 0']],
    ['a fractional weight', 'upstreams:\n  - { name: catalog, endpoints: [{ address: "h:1", weight: 1.5 }] }\n', ['upstreams[0].endpoints[0].weight: expected an integer, got 1.5']],
    ['an endpoint port out of range', 'upstreams:\n  - { name: catalog, endpoints: [127.0.0.1:70000] }\n', ['upstreams[0].endpoints[0]: the port must be a number from 1 to 65535, got "70000" in "127.0.0.1:70000"']],
    ['an endpoint on port 0', 'upstreams:\n  - { name: catalog, endpoints: [127.0.0.1:0] }\n', ['upstreams[0].endpoints[0]: the port must be a number from 1 to 65535, got "0" in "127.0.0.1:0"']],
    ['an endpoint that is a number', 'upstreams:\n  - { name: catalog, endpoints: [8081] }\n', ['upstreams[0].endpoints[0]: expected "host:port" or a mapping with an address, got 8081']],
    ['an endpoint mapping without address', 'upstreams:\n  - { name: catalog, endpoints: [{ weight: 2 }] }\n', ['upstreams[0].endpoints[0].address: required field is missing']],
    ['backup written as yes', 'upstreams:\n  - { name: catalog, endpoints: [{ address: "h:1", backup: yes }] }\n', ['upstreams[0].endpoints[0].backup: expected true or false, got "yes"']],
    ['an unbracketed IPv6 listen address', upstream('    listen: ::1:9001\n'), ['upstreams[0].listen: an IPv6 address needs brackets, as in "[::1]:9001", got "::1:9001"']],
    [
      'two upstream names that differ only in case',
      'upstreams:\n  - { name: catalog, endpoints: [127.0.0.1:8081] }\n  - { name: Catalog, endpoints: [127.0.0.1:8082] }\n',
      ['upstreams[1].name: upstream name "Catalog" matches "catalog" of upstreams[0].name: names match case-insensitively, with or without a trailing dot'],
    ],
    [
      'two upstream names that differ only in a trailing dot',
      'upstreams:\n  - { name: catalog.mesh, endpoints: [127.0.0.1:8081] }\n  - { name: catalog.mesh., endpoints: [127.0.0.1:8082] }\n',
      ['upstreams[1].name: upstream name "catalog.mesh." matches "catalog.mesh" of upstreams[0].name: names match case-insensitively, with or without a trailing dot'],
    ],
    ['an empty listen address', 'proxy:\n  listen:\n', ['proxy.listen: expected "host:port", got an empty value']],
    ['no endpoints and no gossip', 'upstreams:\n  - name: catalog\n', ['upstreams[0].endpoints: must list at least one endpoint when gossip is not configured']],
    ['hashOn with round_robin', upstream('    policy: { lb: { hashOn: { header: x-user } } }\n'), ['upstreams[0].policy.lb.hashOn: applies only to ring_hash or maglev, not round_robin']],
    ['tableSize with ring_hash', upstream('    policy: { lb: { algorithm: ring_hash, tableSize: 65537 } }\n'), ['upstreams[0].policy.lb.tableSize: applies only to maglev, not ring_hash']],
    ['a maglev table that is not prime', upstream('    policy: { lb: { algorithm: maglev, tableSize: 65536 } }\n'), ['upstreams[0].policy.lb.tableSize: must be a prime number (such as 65537 or 5003), got 65536']],
    ['a hashOn with two keys', upstream('    policy: { lb: { algorithm: maglev, hashOn: { header: a, cookie: b } } }\n'), ['upstreams[0].policy.lb.hashOn: expected exactly one of header, cookie or sourceAddress']],
    ['sourceAddress: false', upstream('    policy: { lb: { algorithm: ring_hash, hashOn: { sourceAddress: false } } }\n'), ['upstreams[0].policy.lb.hashOn.sourceAddress: expected true, got false']],
    ['a choiceCount of one', upstream('    policy: { lb: { algorithm: least_request, choiceCount: 1 } }\n'), ['upstreams[0].policy.lb.choiceCount: must be at least 2, got 1']],
    ['a maglev table past its bound', upstream('    policy: { lb: { algorithm: maglev, tableSize: 5000021 } }\n'), ['upstreams[0].policy.lb.tableSize: must be at most 5000011, got 5000021']],
    [
      'an unknown retry trigger',
      upstream('    policy: { retry: { on: [5xx, flaky] } }\n'),
      [
        'upstreams[0].policy.retry.on[1]: expected one of connect-failure, refused-stream, reset, timeout, 5xx, gateway-error, retriable-4xx, unavailable, resource-exhausted, cancelled, deadline-exceeded, got "flaky"',
      ],
    ],
    ['a backoff cap below its base', upstream('    policy: { retry: { backoff: { base: 1s, max: 100ms } } }\n'), ['upstreams[0].policy.retry.backoff.max: must not be shorter than backoff.base (1s)']],
    ['a replay buffer limit in words', upstream('    policy: { retry: { bufferLimit: lots } }\n'), ['upstreams[0].policy.retry.bufferLimit: expected a size such as 64KiB, 1MiB or 65536, got "lots"']],
    ['a replay buffer limit of 1GiB per call', upstream('    policy: { retry: { bufferLimit: 1GiB } }\n'), ['upstreams[0].policy.retry.bufferLimit: must be at most 16MiB, got "1GiB"']],
    ['a negative replay buffer limit', upstream('    policy: { retry: { bufferLimit: -1 } }\n'), ['upstreams[0].policy.retry.bufferLimit: must not be negative, got -1']],
    ['a retried status that is an answer', upstream('    policy: { retry: { statuses: [503, 302] } }\n'), ['upstreams[0].policy.retry.statuses[1]: must be at least 400, got 302']],
    ['a retried method in lower case', upstream('    policy: { retry: { methods: [get] } }\n'), ['upstreams[0].policy.retry.methods[0]: expected an HTTP method in capitals, such as GET or POST']],
    ['a negative maxRetries', upstream('    policy: { limits: { maxRetries: -1 } }\n'), ['upstreams[0].policy.limits.maxRetries: must be at least 0, got -1']],
    ['a hedge delay in words', upstream('    policy: { hedge: { delay: later } }\n'), ['upstreams[0].policy.hedge.delay: expected a duration such as 20ms, or p95, got "later"']],
    ['a hedge of one attempt', upstream('    policy: { hedge: { maxAttempts: 1 } }\n'), ['upstreams[0].policy.hedge.maxAttempts: must be at least 2, got 1']],
    [
      'hedging with a non-idempotent method',
      upstream('    policy: { retry: { methods: [GET, POST] }, hedge: { delay: 20ms } }\n'),
      ['upstreams[0].policy.hedge: hedging sends a request more than once at a time, so it applies only to idempotent methods, but retry.methods lists POST'],
    ],
    ['a retry budget ratio of 2', upstream('    policy: { retry: { budget: { ratio: 2 } } }\n'), ['upstreams[0].policy.retry.budget.ratio: must be at most 1, got 2']],
    ['a max ejection time below its base', upstream('    policy: { outlierDetection: { baseEjectionTime: 1m, maxEjectionTime: 30s } }\n'), ['upstreams[0].policy.outlierDetection.maxEjectionTime: must not be shorter than baseEjectionTime (1m)']],
    ['success rate judged over one host', upstream('    policy: { outlierDetection: { successRate: { minimumHosts: 1 } } }\n'), ['upstreams[0].policy.outlierDetection.successRate.minimumHosts: must be at least 2, got 1']],
    ['a success-rate gap above 100 points', upstream('    policy: { outlierDetection: { successRate: { minimumGap: 150 } } }\n'), ['upstreams[0].policy.outlierDetection.successRate.minimumGap: must be at most 100, got 150']],
    ['a negative stdev factor', upstream('    policy: { outlierDetection: { successRate: { stdevFactor: -1 } } }\n'), ['upstreams[0].policy.outlierDetection.successRate.stdevFactor: must be at least 0, got -1']],
    ['a zero request volume', upstream('    policy: { outlierDetection: { successRate: { requestVolume: 0 } } }\n'), ['upstreams[0].policy.outlierDetection.successRate.requestVolume: must be at least 1, got 0']],
    ['an unknown success-rate field', upstream('    policy: { outlierDetection: { successRate: { factor: 2 } } }\n'), ['upstreams[0].policy.outlierDetection.successRate.factor: unknown field']],
    ['a panic threshold above 100', upstream('    policy: { panicThreshold: 120 }\n'), ['upstreams[0].policy.panicThreshold: must be at most 100, got 120']],
    ['a negative panic threshold', upstream('    policy: { panicThreshold: -5 }\n'), ['upstreams[0].policy.panicThreshold: must be at least 0, got -5']],
    ['a breaker window shorter than its bucket', upstream('    policy: { circuitBreaker: { window: 500ms } }\n'), ["upstreams[0].policy.circuitBreaker.window: must be a whole number of the breakers' 1s buckets (at least one), got 500ms"]],
    ['a breaker window of 2.5 buckets', upstream('    policy: { circuitBreaker: { window: 2500ms } }\n'), ["upstreams[0].policy.circuitBreaker.window: must be a whole number of the breakers' 1s buckets (at least one), got 2s500ms"]],
    ['a breaker window of an hour', upstream('    policy: { circuitBreaker: { window: 1h } }\n'), ['upstreams[0].policy.circuitBreaker.window: must be at most 10m (600 buckets), got 1h']],
    ['no half-open probe at all', upstream('    policy: { circuitBreaker: { halfOpenRequests: 0 } }\n'), [expect.stringMatching(/^upstreams\[0\]\.policy\.circuitBreaker\.halfOpenRequests: /)]],
    ['an error threshold of 0%', upstream('    policy: { circuitBreaker: { errorThresholdPercentage: 0 } }\n'), ['upstreams[0].policy.circuitBreaker.errorThresholdPercentage: must be greater than 0, got 0']],
    [
      'a misspelt gRPC status',
      'upstreams:\n  - { name: payments, protocol: grpc, endpoints: ["h:1"], policy: { fallback: { grpcStatus: UNAVAILBLE } } }\n',
      [
        'upstreams[0].policy.fallback.grpcStatus: expected a gRPC status name (OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED) or a code from 0 to 16, got "UNAVAILBLE"',
      ],
    ],
    ['a gRPC status code of 17', 'upstreams:\n  - { name: payments, protocol: grpc, endpoints: ["h:1"], policy: { fallback: { grpcStatus: 17 } } }\n', [expect.stringMatching(/^upstreams\[0\]\.policy\.fallback\.grpcStatus: expected a gRPC status name .* or a code from 0 to 16, got 17$/)]],
    ['a gRPC fallback on an HTTP upstream', upstream('    policy: { fallback: { grpcStatus: UNAVAILABLE } }\n'), ['upstreams[0].policy.fallback: a gRPC fallback (grpcStatus) needs protocol grpc, not http']],
    ['an HTTP fallback on a gRPC upstream', upstream('    protocol: grpc\n    policy: { fallback: { status: 503 } }\n'), ['upstreams[0].policy.fallback: an HTTP fallback (status) cannot answer gRPC calls; use grpcStatus']],
    ['a fallback mixing both forms', upstream('    policy: { fallback: { status: 503, grpcStatus: 14 } }\n'), ['upstreams[0].policy.fallback: set either grpcStatus (a gRPC fallback) or status (an HTTP fallback), not both']],
    ['a gRPC message on an HTTP fallback', upstream('    policy: { fallback: { status: 503, message: down } }\n'), ['upstreams[0].policy.fallback.message: applies only to a gRPC fallback (grpcStatus), not to an HTTP one (status)']],
    ['a fallback status of 99', upstream('    policy: { fallback: { status: 99 } }\n'), ['upstreams[0].policy.fallback.status: must be at least 200, got 99']],
    ['a fallback header name with a space', upstream('    policy: { fallback: { status: 503, headers: { "x bad": v } } }\n'), ['upstreams[0].policy.fallback.headers["x bad"]: expected an HTTP header name, got "x bad"']],
    ['a fallback that sets its own framing', upstream('    policy: { fallback: { status: 503, headers: { Content-Length: "5", connection: close } } }\n'), ['upstreams[0].policy.fallback.headers["content-length"]: is a framing or connection header, which the agent sets itself; leave it out', 'upstreams[0].policy.fallback.headers.connection: is a framing or connection header, which the agent sets itself; leave it out']],
    ['a rate limit of zero', upstream('    policy: { rateLimit: { requestsPerSecond: 0 } }\n'), ['upstreams[0].policy.rateLimit.requestsPerSecond: must be greater than 0, got 0']],
    ['a rate limit without its rate', upstream('    policy: { rateLimit: { burst: 10 } }\n'), ['upstreams[0].policy.rateLimit.requestsPerSecond: required field is missing']],
    ['a rate-limit burst of zero', upstream('    policy: { rateLimit: { requestsPerSecond: 5, burst: 0 } }\n'), ['upstreams[0].policy.rateLimit.burst: must be at least 1, got 0']],
    ['a fractional rate-limit burst', upstream('    policy: { rateLimit: { requestsPerSecond: 5, burst: 2.5 } }\n'), ['upstreams[0].policy.rateLimit.burst: expected an integer, got 2.5']],
    ['a stale-if-error entry larger than the whole cache', upstream('    policy: { fallback: { staleIfError: { maxBytes: 1MiB, maxEntryBytes: 2MiB } } }\n'), ['upstreams[0].policy.fallback.staleIfError.maxEntryBytes: must not be larger than maxBytes (1MiB)']],
    ['a stale-if-error cache of no entries', upstream('    policy: { fallback: { status: 503, staleIfError: { maxEntries: 0 } } }\n'), ['upstreams[0].policy.fallback.staleIfError.maxEntries: must be at least 1, got 0']],
    ['a stale-if-error maxAge of garbage', upstream('    policy: { fallback: { staleIfError: { maxAge: forever } } }\n'), ['upstreams[0].policy.fallback.staleIfError.maxAge: expected a duration such as 250ms, 2s or 1m30s, got "forever"']],
    ['stale-if-error on a gRPC fallback', 'upstreams:\n  - { name: payments, protocol: grpc, endpoints: ["h:1"], policy: { fallback: { grpcStatus: 14, staleIfError: {} } } }\n', ['upstreams[0].policy.fallback.staleIfError: applies only to an HTTP fallback (status), not to a gRPC one (grpcStatus)']],
    ['stale-if-error alone on a gRPC upstream', 'upstreams:\n  - { name: payments, protocol: grpc, endpoints: ["h:1"], policy: { fallback: { staleIfError: {} } } }\n', ['upstreams[0].policy.fallback.staleIfError: keeps answers to GET requests, and gRPC calls are POSTs; use grpcStatus']],
    ['headers without a status beside stale-if-error', upstream('    policy: { fallback: { staleIfError: {}, body: x } }\n'), ['upstreams[0].policy.fallback.body: applies only to a static HTTP fallback: add status']],
    ['a health check of two kinds', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, health: { http: /healthz, tcp: true } }\n', ['services[0].health: expected exactly one of http, grpc or tcp']],
    ['a health path without a slash', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, health: { http: healthz } }\n', ['services[0].health.http: expected a path starting with "/", got "healthz"']],
    ['a health timeout above its interval', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, health: { tcp: true, timeout: 5s } }\n', ['services[0].health.timeout: must not be longer than interval (3s)']],
    ['an adaptive maxLimit below its minLimit', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, limits: { adaptive: { minLimit: 10, maxLimit: 5 } } }\n', ['services[0].limits.adaptive.maxLimit: must not be below minLimit (10)']],
    ['an adaptive initialLimit out of its bounds', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, limits: { adaptive: { minLimit: 5, maxLimit: 50, initialLimit: 80 } } }\n', ['services[0].limits.adaptive.initialLimit: must be from minLimit (5) to maxLimit (50)']],
    ['an adaptive smoothing of 0', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, limits: { adaptive: { smoothing: 0 } } }\n', ['services[0].limits.adaptive.smoothing: must be greater than 0, got 0']],
    ['an adaptive tolerance below 1', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, limits: { adaptive: { tolerance: 0.8 } } }\n', ['services[0].limits.adaptive.tolerance: must be at least 1, got 0.8']],
    ['a minimum-RTT interval within one sample window', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, limits: { adaptive: { sampleWindow: 1s, minRttInterval: 500ms } } }\n', ['services[0].limits.adaptive.minRttInterval: must be longer than sampleWindow (1s)']],
    ['a rate limit of 0 per second', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, limits: { rateLimit: { requestsPerSecond: 0 } } }\n', ['services[0].limits.rateLimit.requestsPerSecond: must be greater than 0, got 0']],
    ['a rate limit burst of 0', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, limits: { rateLimit: { requestsPerSecond: 10, burst: 0 } } }\n', ['services[0].limits.rateLimit.burst: must be at least 1, got 0']],
    ['grpc: false', 'services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, health: { grpc: false } }\n', ['services[0].health.grpc: expected a service name or true, got false']],
    ['a stream window in words', 'listeners: { http2: { streamWindow: large } }\n', ['listeners.http2.streamWindow: expected a size such as 64KiB, 1MiB or 65536, got "large"']],
    ['a stream window of 1KiB', 'listeners: { http2: { streamWindow: 1KiB } }\n', ['listeners.http2.streamWindow: must be at least 16KiB, got "1KiB"']],
    ['a stream window of 1GiB', upstream('    policy: { connections: { streamWindow: 1GiB } }\n'), ['upstreams[0].policy.connections.streamWindow: must be at most 16MiB, got "1GiB"']],
    ['a replay total in words', 'listeners: { maxReplayBuffered: plenty }\n', ['listeners.maxReplayBuffered: expected a size such as 64KiB, 1MiB or 65536, got "plenty"']],
    ['a replay total of 8GiB', 'listeners: { maxReplayBuffered: 8GiB }\n', ['listeners.maxReplayBuffered: must be at most 4GiB, got "8GiB"']],
    ['a replay total in fractions of a byte', 'listeners: { maxReplayBuffered: 0.5B }\n', ['listeners.maxReplayBuffered: must be a whole number of bytes, got "0.5B"']],
    ['no connections at all', 'listeners: { maxConnections: 0 }\n', ['listeners.maxConnections: must be at least 1, got 0']],
    ['no requests in flight at all', 'listeners: { maxRequestsInFlight: 0 }\n', ['listeners.maxRequestsInFlight: must be at least 1, got 0']],
    ['a headers timeout of zero', 'listeners: { headersTimeout: 0s }\n', ['listeners.headersTimeout: must be longer than 0, got "0s"']],
    ['zero streams per connection', 'listeners: { http2: { maxConcurrentStreams: 0 } }\n', ['listeners.http2.maxConcurrentStreams: must be at least 1, got 0']],
    ['a fractional endpoint connection cap', upstream('    policy: { connections: { maxPerEndpoint: 1.5 } }\n'), ['upstreams[0].policy.connections.maxPerEndpoint: expected an integer, got 1.5']],
    ['a negative queue', upstream('    policy: { connections: { maxQueued: -1 } }\n'), ['upstreams[0].policy.connections.maxQueued: must be at least 0, got -1']],
    ['a log level we do not have', 'log: { level: verbose }\n', ['log.level: expected one of trace, debug, info, warn, error, fatal, silent, got "verbose"']],
    ['a top-level list', '- catalog\n', ['expected a mapping, got a list']],
    ['an empty file', '# nothing but a comment\n', ['the config is empty']],
    ['a duplicate key', 'node: a\nnode: b\n', ['YAML syntax error at line 2, column 1: Map keys must be unique']],
  ])('%s', (_name, yaml, expected) => {
    expect(issuesOf(yaml)).toEqual(expected);
  });
});

describe('unknown fields', () => {
  it('refuses each one, naming its path, at any depth', () => {
    const yaml = `
admn: { listen: 127.0.0.1:9901 }
upstreams:
  - name: payments
    endpoints: [127.0.0.1:50051]
  - name: catalog
    endpoints: [{ address: 127.0.0.1:8081, wieght: 3 }]
    polcy: { timeout: 1s }
    policy: { retry: { attempts: 2, backof: { base: 25ms } } }
`;
    expect(issuesOf(yaml)).toEqual([
      'upstreams[1].endpoints[0].wieght: unknown field',
      'upstreams[1].policy.retry.backof: unknown field',
      'upstreams[1].polcy: unknown field',
      'admn: unknown field',
    ]);
  });
});

describe('several mistakes', () => {
  it('are all reported at once', () => {
    const yaml = `
node: ""
admin: { listen: "localhost" }
upstreams:
  - name: payments
    protocol: grpc
    endpoints: [127.0.0.1:50051, { address: 127.0.0.1:50052, weight: -1 }]
    policy:
      lb: { algorithm: fastest }
      timeout: 2 seconds
      retry: { attempts: 0 }
`;
    expect(issuesOf(yaml)).toEqual([
      'node: must not be empty',
      'admin.listen: expected "host:port", got "localhost"',
      'upstreams[0].endpoints[1].weight: must be at least 1, got -1',
      'upstreams[0].policy.lb.algorithm: expected one of round_robin, weighted_round_robin, random, least_request, peak_ewma, ring_hash, maglev, got "fastest"',
      'upstreams[0].policy.timeout: expected a duration such as 250ms, 2s or 1m30s, got "2 seconds"',
      'upstreams[0].policy.retry.attempts: must be at least 1, got 0',
    ]);
  });

  it('across fields are all reported at once', () => {
    const yaml = `
admin: { listen: 127.0.0.1:9901 }
proxy: { listen: 0.0.0.0:9901 }
services:
  - { name: orders, target: 127.0.0.1:9001, listen: 127.0.0.1:15006 }
upstreams:
  - { name: payments, listen: 127.0.0.1:9001, endpoints: [127.0.0.1:50051, 127.0.0.1:50051] }
  - { name: payments, listen: 127.0.0.1:0, endpoints: [127.0.0.1:15006] }
  - { name: search, listen: 127.0.0.1:0 }
`;
    expect(issuesOf(yaml)).toEqual([
      'upstreams[1].name: upstream name "payments" is already used by upstreams[0].name',
      'proxy.listen: 0.0.0.0:9901 is already used by admin.listen',
      "services[0].target: 127.0.0.1:9001 is this agent's own upstreams[0].listen; the agent would forward to itself",
      'upstreams[0].endpoints[1]: 127.0.0.1:50051 is already listed as endpoints[0]',
      'upstreams[2].endpoints: must list at least one endpoint when gossip is not configured',
    ]);
  });
});

describe('listeners', () => {
  it('may not share a host:port, whichever sections they are in', () => {
    const yaml = `
admin: { listen: 127.0.0.1:9001 }
services:
  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:9001 }
upstreams:
  - { name: payments, listen: 127.0.0.1:9001, endpoints: [127.0.0.1:50051] }
`;
    expect(issuesOf(yaml)).toEqual([
      'services[0].listen: 127.0.0.1:9001 is already used by admin.listen',
      'upstreams[0].listen: 127.0.0.1:9001 is already used by admin.listen',
    ]);
  });

  it('on port 0 never collide, since each gets its own free port', () => {
    const yaml = `
admin: { listen: 127.0.0.1:0 }
proxy: { listen: 127.0.0.1:0 }
upstreams:
  - { name: payments, listen: 127.0.0.1:0, endpoints: [127.0.0.1:50051] }
  - { name: catalog, listen: "[::1]:0", endpoints: ["[::1]:8081"] }
`;
    expect(parseConfig(yaml, { env: {}, hostname: 'h' }).ok).toBe(true);
  });
});

describe('YAML syntax errors', () => {
  it('name the line and column', () => {
    const yaml = 'node: a\nupstreams:\n  - name: catalog\n    endpoints: [127.0.0.1:8081\n  - name: search\n';
    expect(issuesOf(yaml)).toEqual([
      'YAML syntax error at line 5, column 3: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  it('of a tab indentation name its line', () => {
    expect(issuesOf('admin:\n\tlisten: 127.0.0.1:9901\n')[0]).toMatch(/^YAML syntax error at line 2, column 1: /);
  });
});

describe('environment variables', () => {
  it('fill addresses and durations, with defaults', () => {
    const yaml = `
admin: { listen: "\${ADMIN:-127.0.0.1:9901}" }
upstreams:
  - name: catalog
    endpoints: ["\${CATALOG_HOST}:8081"]
    policy: { timeout: "\${CATALOG_TIMEOUT:-3s}" }
`;
    const result = parseConfig(yaml, { env: { CATALOG_HOST: '10.1.2.3' }, hostname: 'h' });
    expect(result.ok && result.config.admin.listen.text).toBe('127.0.0.1:9901');
    expect(result.ok && result.config.upstreams[0]?.endpoints[0]?.address).toBe('10.1.2.3:8081');
    expect(result.ok && result.config.upstreams[0]?.policy.timeout).toBe(3000);
  });

  it('that are missing are each reported with the field, and the value is not checked twice', () => {
    const yaml = `
node: \${NODE_NAME}
upstreams:
  - name: catalog
    endpoints: ["\${CATALOG_ADDR}"]
    policy: { timeout: forever }
`;
    expect(issuesOf(yaml)).toEqual([
      'node: environment variable NODE_NAME is not set and has no default',
      'upstreams[0].endpoints[0]: environment variable CATALOG_ADDR is not set and has no default',
      'upstreams[0].policy.timeout: expected a duration such as 250ms, 2s or 1m30s, got "forever"',
    ]);
  });

  it('that leave a value malformed are reported against that field', () => {
    const yaml = 'upstreams:\n  - { name: catalog, endpoints: ["${HOST}"] }\n';
    expect(issuesOf(yaml, { HOST: 'catalog.internal' })).toEqual(['upstreams[0].endpoints[0]: expected "host:port", got "catalog.internal"']);
  });
});

describe('defaults', () => {
  it('fill everything a minimal config leaves out', () => {
    const result = parseConfig('upstreams:\n  - { name: catalog, endpoints: [127.0.0.1:8081] }\n', { env: {}, hostname: 'box-7' });
    expect(result).toEqual({
      ok: true,
      warnings: [],
      config: {
        node: 'box-7',
        admin: { listen: { host: '127.0.0.1', port: 9901, text: '127.0.0.1:9901' } },
        log: { level: 'info', access: false },
        drainTimeout: 10_000,
        listeners: {
          maxConnections: 4096,
          maxConnectionsTotal: 8192,
          maxRequestsInFlight: 1024,
          headersTimeout: 10_000,
          idleTimeout: 60_000,
          bodyIdleTimeout: 30_000,
          maxReplayBuffered: 33_554_432,
          http2: { maxConcurrentStreams: 100, streamWindow: 131_072 },
        },
        services: [],
        upstreams: [
          {
            name: 'catalog',
            protocol: 'http',
            endpoints: [{ address: '127.0.0.1:8081', host: '127.0.0.1', port: 8081, weight: 1, backup: false, metadata: {} }],
            policy: {
              lb: { algorithm: 'round_robin', decay: 10_000, choiceCount: 2, minRingSize: 1024, tableSize: 65_537 },
              timeout: 15_000,
              connectTimeout: 1000,
              panicThreshold: 50,
              connections: { maxPerEndpoint: 128, maxStreamsPerConnection: 100, maxQueued: 1000, streamWindow: 131_072 },
            },
          },
        ],
      },
    });
  });

  it('fill the fields a written section leaves out', () => {
    const yaml = `
services:
  - { name: orders, protocol: grpc, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, health: { grpc: true } }
upstreams:
  - name: catalog
    endpoints: [127.0.0.1:8081]
    policy:
      retry: { backoff: { base: 100ms } }
      fallback: { grpcStatus: 14 }
      outlierDetection: {}
      rateLimit: { requestsPerSecond: 2.5 }
    protocol: grpc
  - name: search
    endpoints: [127.0.0.1:8082]
    policy:
      fallback: { status: 503, staleIfError: { maxBytes: 32KiB } }
`;
    const result = parseConfig(yaml, { env: {}, hostname: 'h' });
    if (!result.ok) throw new Error(formatIssues(result.issues));
    expect(result.config.services[0]?.health).toEqual({ grpc: true, interval: 3000, timeout: 1000, fall: 2, rise: 5 });
    const policy = result.config.upstreams[0]?.policy;
    expect(policy?.retry).toEqual({ attempts: 2, backoff: { base: 100, max: 1000 }, on: ['connect-failure', 'refused-stream', 'unavailable'], bufferLimit: 65_536 });
    expect(policy?.fallback).toEqual({ grpcStatus: 'UNAVAILABLE' });
    expect(parseConfig(upstream('    policy: { hedge: {}, limits: {}, retry: { statuses: [503, 429, 503], methods: [GET, PUT, GET] } }\n'), { env: {}, hostname: 'h' })).toMatchObject({
      ok: true,
      config: {
        upstreams: [
          {
            policy: {
              hedge: { delay: 'p95', maxAttempts: 2 },
              limits: { maxConcurrent: 1024, maxPending: 256, maxRetries: 32 },
              retry: { statuses: [503, 429], methods: ['GET', 'PUT'] },
            },
          },
        ],
      },
    });
    expect(policy?.outlierDetection).toEqual({
      consecutiveFailures: 5,
      interval: 10_000,
      baseEjectionTime: 30_000,
      maxEjectionTime: 300_000,
      maxEjectionPercent: 10,
      successRate: { minimumHosts: 3, requestVolume: 100, stdevFactor: 1.9, minimumGap: 10 },
    });
    expect(policy?.rateLimit).toEqual({ requestsPerSecond: 2.5, burst: 3 });
    // The entry cap defaults to 64KiB, or to the whole cache when that is smaller.
    expect(result.config.upstreams[1]?.policy.fallback).toEqual({ status: 503, headers: {}, staleIfError: { maxAge: 300_000, maxEntries: 1000, maxBytes: 32_768, maxEntryBytes: 32_768 } });
  });

  it('fill the connection limits a written listeners or connections section leaves out', () => {
    const yaml = `
listeners: { headersTimeout: 2s, maxConnectionsTotal: 300, maxRequestsInFlight: 64, maxReplayBuffered: 8MiB, http2: { streamWindow: 1MiB } }
upstreams:
  - { name: catalog, endpoints: [127.0.0.1:8081], policy: { connections: { maxPerEndpoint: 8 }, retry: { bufferLimit: 256KiB } } }
`;
    const result = parseConfig(yaml, { env: {}, hostname: 'h' });
    if (!result.ok) throw new Error(formatIssues(result.issues));
    expect(result.config.listeners).toEqual({
      maxConnections: 4096,
      maxConnectionsTotal: 300,
      maxRequestsInFlight: 64,
      headersTimeout: 2000,
      idleTimeout: 60_000,
      bodyIdleTimeout: 30_000,
      maxReplayBuffered: 8_388_608,
      http2: { maxConcurrentStreams: 100, streamWindow: 1_048_576 },
    });
    expect(result.config.upstreams[0]?.policy.retry?.bufferLimit).toBe(262_144);
    expect(result.config.upstreams[0]?.policy.connections).toEqual({ maxPerEndpoint: 8, maxStreamsPerConnection: 100, maxQueued: 1000, streamWindow: 131_072 });
  });

  it('allow an upstream without endpoints when gossip will find them', () => {
    const result = parseConfig(`gossip: { bind: 127.0.0.1:7946, keys: ["${KEY}"] }\nupstreams:\n  - name: catalog\n`, { env: {}, hostname: 'h' });
    expect(result.ok && result.config.upstreams[0]?.endpoints).toEqual([]);
  });
});

describe('gossip keys', () => {
  const gossip = (keys: string) => `gossip:\n  bind: 127.0.0.1:7946\n${keys}upstreams:\n  - name: catalog\n`;
  const short = Buffer.from('twelve bytes').toString('base64');
  const long = Buffer.alloc(33, 9).toString('base64');

  it.each<[string, string, string[]]>([
    ['no keys at all', gossip(''), ['gossip.keys: every gossip packet is encrypted; make a key with `meshlet keygen` and list it here']],
    ['an empty list of keys', gossip('  keys: []\n'), ['gossip.keys: every gossip packet is encrypted; make a key with `meshlet keygen` and list it here']],
    ['a key of 12 bytes', gossip(`  keys: ["${short}"]\n`), ['gossip.keys[0]: must be base64 of 32 bytes (make one with `meshlet keygen`), got 12 bytes']],
    ['a key of 33 bytes after a good one', gossip(`  keys: ["${KEY}", "${long}"]\n`), ['gossip.keys[1]: must be base64 of 32 bytes (make one with `meshlet keygen`), got 33 bytes']],
    ['a key that is not base64', gossip('  keys: ["correct horse battery staple, not base64!"]\n'), ['gossip.keys[0]: must be base64 of 32 bytes (make one with `meshlet keygen`), got text that is not base64']],
    ['a key that is a number', gossip('  keys: [12345]\n'), ['gossip.keys[0]: expected a key (a base64 string), got something else']],
    ['nine keys', gossip(`  keys: [${Array.from({ length: 9 }, (_, i) => `"${Buffer.alloc(32, i).toString('base64')}"`).join(', ')}]\n`), ['gossip.keys: must list at most 8 keys (each frame that fails is tried against every one)']],
  ])('%s, with a message naming the key and never its text', (_name, yaml, messages) => {
    const issues = issuesOf(yaml);
    expect(issues).toEqual(messages);
    for (const secret of [short, long, 'correct horse', '12345']) expect(issues.join('\n')).not.toContain(secret);
  });

  it('takes a key from the environment and accepts it', () => {
    const result = parseConfig(gossip('  keys: ["${MESHLET_GOSSIP_KEY}"]\n'), { env: { MESHLET_GOSSIP_KEY: KEY }, hostname: 'h' });
    expect(result.ok && result.config.gossip?.keys).toEqual([KEY]);
  });
});

describe('services[].weight and zone', () => {
  it('default to 1 and no zone, and refuse a weight that is not a positive integer, naming the field', () => {
    const ok = parseConfig('services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, weight: 3, zone: eu-1a }\n', { env: {}, hostname: 'h' });
    expect(ok.ok && [ok.config.services[0]?.weight, ok.config.services[0]?.zone]).toEqual([3, 'eu-1a']);
    const plain = parseConfig('services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006 }\n', { env: {}, hostname: 'h' });
    expect(plain.ok && [plain.config.services[0]?.weight, plain.config.services[0]?.zone]).toEqual([1, '']);
    expect(issuesOf('services:\n  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, weight: 0 }\n')[0]).toMatch(/^services\[0\]\.weight: /);
  });
});

describe('health checks', () => {
  const service = '  - { name: orders, target: 127.0.0.1:8080, listen: 127.0.0.1:15006, health: { http: /healthz } }\n';

  it('warn that they have no effect without gossip, naming the field', () => {
    const result = parseConfig(`services:\n${service}`, { env: {}, hostname: 'h' });
    expect(result.ok && result.warnings).toEqual([{ path: 'services[0].health', message: HEALTH_WITHOUT_GOSSIP_MESSAGE }]);
  });

  it('give no warning with gossip, whose members learn their result', () => {
    const result = parseConfig(`gossip: { bind: 127.0.0.1:7946, keys: ["${KEY}"] }\nservices:\n${service}`, { env: {}, hostname: 'h' });
    expect(result.ok && result.warnings).toEqual([]);
  });
});

describe('loadConfigFile', () => {
  it('reports a missing file as an issue, not an exception', async () => {
    const result = await loadConfigFile('/nonexistent/agent.yaml', { env: {}, hostname: 'h' });
    expect(result).toEqual({ ok: false, issues: [{ path: '', message: 'cannot read /nonexistent/agent.yaml: no such file' }] });
    expect(formatIssues(result.ok ? [] : result.issues)).toBe('cannot read /nonexistent/agent.yaml: no such file');
  });
});
