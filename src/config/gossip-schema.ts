// gossip: how this agent joins the mesh's membership (src/gossip).

import { z } from 'zod';
import { MAX_GOSSIP_KEYS, parseGossipKey } from '../gossip/keyring.ts';
import { address, listenAddress } from './fields.ts';
import type { GossipConfig } from './types.ts';

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
  })
  .transform(
    (raw): GossipConfig => ({
      bind: raw.bind,
      ...(raw.advertise ? { advertise: raw.advertise } : {}),
      join: raw.join ?? [],
      keys: raw.keys,
    }),
  );
