// listeners: the limits every listener applies to client connections (counts, timeouts,
// HTTP/2 stream limits and windows), so no client can hold descriptors or memory unbounded.

import { z } from 'zod';
import { LISTENERS_DEFAULTS } from './defaults.ts';
import { byteSize, duration, positiveInt } from './fields.ts';
import { streamWindow } from './policy-schema.ts';
import type { ListenersConfig } from './types.ts';

const http2Schema = z.strictObject({
  maxConcurrentStreams: positiveInt.max(10_000).optional(),
  streamWindow: streamWindow.optional(),
});

export const listenersSchema = z
  .strictObject({
    maxConnections: positiveInt.max(1_000_000).optional(),
    maxConnectionsTotal: positiveInt.max(1_000_000).optional(),
    maxRequestsInFlight: positiveInt.max(1_000_000).optional(),
    headersTimeout: duration.optional(),
    idleTimeout: duration.optional(),
    bodyIdleTimeout: duration.optional(),
    // 0 turns replays of request bodies off; beyond 4 GiB is a typo for a sidecar.
    maxReplayBuffered: byteSize(0, 4 * 1024 * 1024 * 1024).optional(),
    http2: http2Schema.optional(),
  })
  .transform(
    (raw): ListenersConfig => ({
      maxConnections: raw.maxConnections ?? LISTENERS_DEFAULTS.maxConnections,
      maxConnectionsTotal: raw.maxConnectionsTotal ?? LISTENERS_DEFAULTS.maxConnectionsTotal,
      maxRequestsInFlight: raw.maxRequestsInFlight ?? LISTENERS_DEFAULTS.maxRequestsInFlight,
      headersTimeout: raw.headersTimeout ?? LISTENERS_DEFAULTS.headersTimeout,
      idleTimeout: raw.idleTimeout ?? LISTENERS_DEFAULTS.idleTimeout,
      bodyIdleTimeout: raw.bodyIdleTimeout ?? LISTENERS_DEFAULTS.bodyIdleTimeout,
      maxReplayBuffered: raw.maxReplayBuffered ?? LISTENERS_DEFAULTS.maxReplayBuffered,
      http2: {
        maxConcurrentStreams: raw.http2?.maxConcurrentStreams ?? LISTENERS_DEFAULTS.http2.maxConcurrentStreams,
        streamWindow: raw.http2?.streamWindow ?? LISTENERS_DEFAULTS.http2.streamWindow,
      },
    }),
  );
