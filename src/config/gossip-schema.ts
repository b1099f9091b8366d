// gossip: how this agent joins the mesh's membership (src/gossip).

import { z } from 'zod';
import { address, listenAddress, nonEmptyString } from './fields.ts';
import type { GossipConfig } from './types.ts';

export const gossipSchema = z
  .strictObject({
    bind: listenAddress,
    advertise: address.optional(),
    join: z.array(address).optional(),
    // The keyring checks each key's bytes; here a key is only required to be written.
    keys: z.array(nonEmptyString).optional(),
  })
  .transform(
    (raw): GossipConfig => ({
      bind: raw.bind,
      ...(raw.advertise ? { advertise: raw.advertise } : {}),
      join: raw.join ?? [],
      keys: raw.keys ?? [],
    }),
  );
