// upstreams[]: the services this application calls, with their static endpoints and policy.

import { z } from 'zod';
import { address, listenAddress, name, nonEmptyString, positiveInt, protocol } from './fields.ts';
import { describeValue } from './messages.ts';
import { DEFAULT_POLICY } from './defaults.ts';
import { policySchema } from './policy-schema.ts';
import type { EndpointConfig, HostPort, UpstreamConfig } from './types.ts';

function endpoint(at: HostPort, fields: Partial<Pick<EndpointConfig, 'weight' | 'zone' | 'backup' | 'metadata'>> = {}): EndpointConfig {
  return {
    address: at.text,
    host: at.host,
    port: at.port,
    weight: fields.weight ?? 1,
    ...(fields.zone !== undefined ? { zone: fields.zone } : {}),
    backup: fields.backup ?? false,
    metadata: fields.metadata ?? {},
  };
}

const endpointObject = z
  .strictObject({
    address,
    weight: positiveInt.optional(),
    zone: nonEmptyString.optional(),
    backup: z.boolean().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
  })
  .transform(({ address: at, ...fields }) => endpoint(at, fields));

/** "host:port", or a mapping when weight, zone, backup or metadata are needed. */
const endpointSchema = z.union([address.transform((at) => endpoint(at)), endpointObject], {
  error: (issue) => `expected "host:port" or a mapping with an address, got ${describeValue(issue.input)}`,
});

export const upstreamSchema = z
  .strictObject({
    name,
    protocol: protocol.optional(),
    listen: listenAddress.optional(),
    endpoints: z.array(endpointSchema).optional(),
    policy: policySchema.optional(),
  })
  .transform(
    (raw): UpstreamConfig => ({
      name: raw.name,
      protocol: raw.protocol ?? 'http',
      ...(raw.listen ? { listen: raw.listen } : {}),
      endpoints: raw.endpoints ?? [],
      policy: raw.policy ?? DEFAULT_POLICY,
    }),
  );
