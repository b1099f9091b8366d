import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TokenAuth, tokensFromEnv } from '../../../src/control/control-auth.ts';
import { bearerMetadata } from '../../../src/control/control-proto.ts';

describe('control tokens', () => {
  it('refuses to start without a token, naming each missing variable, or with equal tokens', () => {
    expect(tokensFromEnv({})).toEqual({ ok: false, error: 'set MESHLET_OPERATOR_TOKEN and MESHLET_AGENT_TOKEN: the control plane refuses to start without its tokens' });
    expect(tokensFromEnv({ MESHLET_OPERATOR_TOKEN: 'op' })).toMatchObject({ ok: false, error: expect.stringMatching(/^set MESHLET_AGENT_TOKEN:/) });
    expect(tokensFromEnv({ MESHLET_OPERATOR_TOKEN: 'same', MESHLET_AGENT_TOKEN: 'same' })).toMatchObject({ ok: false, error: expect.stringContaining('must differ') });
    expect(tokensFromEnv({ MESHLET_OPERATOR_TOKEN: 'op', MESHLET_AGENT_TOKEN: 'ag' })).toEqual({ ok: true, tokens: { operator: 'op', agent: 'ag' } });
  });

  it('agent token: Connect only; operator token: the rest; unknown or missing: unauthenticated', () => {
    const auth = new TokenAuth({ operator: 'op-secret', agent: 'agent-secret' });
    expect(auth.check(bearerMetadata('agent-secret'), 'agent', 'Connect')).toEqual({ ok: true });
    expect(auth.check(bearerMetadata('op-secret'), 'operator', 'ApplyPolicy')).toEqual({ ok: true });
    expect(auth.check(bearerMetadata('agent-secret'), 'operator', 'ApplyPolicy')).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    expect(auth.check(bearerMetadata('op-secret'), 'agent', 'Connect')).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    expect(auth.check(bearerMetadata('op-secre'), 'operator', 'GetPolicy')).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED });
    expect(auth.check(new grpc.Metadata(), 'operator', 'GetPolicy')).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('none was sent') });
  });
});
