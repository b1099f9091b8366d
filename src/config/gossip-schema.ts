// gossip: how this agent joins the mesh's membership (src/gossip).

import { z } from 'zod';
import { MAX_GOSSIP_KEYS, parseGossipKey } from '../gossip/keyring.ts';
import { GOSSIP_TIMING_DEFAULTS } from './defaults.ts';
import { formatDuration } from './duration.ts';
import { address, duration, listenAddress, positiveInt } from './fields.ts';
import type { GossipConfig, GossipTimingConfig } from './types.ts';

const multiplier = positiveInt.max(100);

// The key text stays out of every message: the issue carries no input.
const gossipKey = z.string({ error: 'expected a key (a base64 string), got something else' }).superRefine((text, ctx) => {
  const parsed = parseGossipKey(text);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
});

const gossipKeys = z
  .array(gossipKey, {
    error: (issue) =>
      issue.input === undefined
        ? 'every gossip packet is encrypted; make a key with `meshlet keygen` and list it here'
        : 'expected a list of keys',
  })
  .min(1, { error: 'every gossip packet is encrypted; make a key with `meshlet keygen` and list it here' })
  .max(MAX_GOSSIP_KEYS, { error: `must list at most ${MAX_GOSSIP_KEYS} keys (each frame that fails is tried against every one)` });

export const gossipSchema = z
  .strictObject({
    bind: listenAddress,
    advertise: address.optional(),
    join: z.array(address).optional(),
    // The first key seals what this agent sends; every key is tried on what arrives.
    keys: gossipKeys,
    // The membership protocol's timing (src/gossip/settings.ts); defaults are the LAN profile.
    probeInterval: duration.optional(),
    probeTimeout: duration.optional(),
    indirectChecks: z.int().min(0).max(16).optional(),
    gossipInterval: duration.optional(),
    gossipNodes: positiveInt.max(64).optional(),
    pushPullInterval: duration.optional(),
    suspicionMultiplier: multiplier.optional(),
    suspicionMaxTimeoutMultiplier: multiplier.optional(),
    retransmitMultiplier: multiplier.optional(),
    reclaimTime: duration.optional(),
    reconnectInterval: duration.optional(),
  })
  .transform((raw, ctx): GossipConfig => {
    const timing: GossipTimingConfig = {
      probeInterval: raw.probeInterval ?? GOSSIP_TIMING_DEFAULTS.probeInterval,
      probeTimeout: raw.probeTimeout ?? Math.min(GOSSIP_TIMING_DEFAULTS.probeTimeout, Math.floor((raw.probeInterval ?? GOSSIP_TIMING_DEFAULTS.probeInterval) / 2)),
      indirectChecks: raw.indirectChecks ?? GOSSIP_TIMING_DEFAULTS.indirectChecks,
      gossipInterval: raw.gossipInterval ?? GOSSIP_TIMING_DEFAULTS.gossipInterval,
      gossipNodes: raw.gossipNodes ?? GOSSIP_TIMING_DEFAULTS.gossipNodes,
      pushPullInterval: raw.pushPullInterval ?? GOSSIP_TIMING_DEFAULTS.pushPullInterval,
      suspicionMultiplier: raw.suspicionMultiplier ?? GOSSIP_TIMING_DEFAULTS.suspicionMultiplier,
      suspicionMaxTimeoutMultiplier: raw.suspicionMaxTimeoutMultiplier ?? GOSSIP_TIMING_DEFAULTS.suspicionMaxTimeoutMultiplier,
      retransmitMultiplier: raw.retransmitMultiplier ?? GOSSIP_TIMING_DEFAULTS.retransmitMultiplier,
      reclaimTime: raw.reclaimTime ?? GOSSIP_TIMING_DEFAULTS.reclaimTime,
      reconnectInterval: raw.reconnectInterval ?? GOSSIP_TIMING_DEFAULTS.reconnectInterval,
    };
    // An ack timeout as long as the interval leaves no time for the indirect probes.
    if (timing.probeTimeout >= timing.probeInterval) {
      ctx.addIssue({ code: 'custom', path: ['probeTimeout'], message: `must be shorter than probeInterval (${formatDuration(timing.probeInterval)}), got ${formatDuration(timing.probeTimeout)}`, input: raw.probeTimeout });
    }
    // A push-pull more often than a probe would be more full-state traffic than failure detection.
    if (timing.pushPullInterval < timing.probeInterval) {
      ctx.addIssue({ code: 'custom', path: ['pushPullInterval'], message: `must not be shorter than probeInterval (${formatDuration(timing.probeInterval)}), got ${formatDuration(timing.pushPullInterval)}`, input: raw.pushPullInterval });
    }
    return {
      bind: raw.bind,
      ...(raw.advertise ? { advertise: raw.advertise } : {}),
      join: raw.join ?? [],
      keys: raw.keys,
      timing,
    };
  });
