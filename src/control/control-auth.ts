// Bearer tokens with two roles: the agent token may call only Connect, the operator token
// everything else. Tokens are compared in constant time (on their SHA-256, so lengths do not
// leak either). A missing or unknown token is UNAUTHENTICATED, a known token of the other role
// PERMISSION_DENIED, each with a message that says what to send.
import * as grpc from '@grpc/grpc-js';
import { createHash, timingSafeEqual } from 'node:crypto';

export type Role = 'agent' | 'operator';

export interface ControlTokens {
  readonly agent: string;
  readonly operator: string;
}

export type AuthResult = { readonly ok: true } | { readonly ok: false; readonly code: grpc.status; readonly details: string };

export class TokenAuth {
  private readonly agent: Buffer;
  private readonly operator: Buffer;

  constructor(tokens: ControlTokens) {
    this.agent = digest(tokens.agent);
    this.operator = digest(tokens.operator);
  }

  /** Whether `metadata` carries the token of `role` for calling `method`. */
  check(metadata: grpc.Metadata, role: Role, method: string): AuthResult {
    const values = metadata.get('authorization');
    if (values.length === 0) {
      return { ok: false, code: grpc.status.UNAUTHENTICATED, details: `${method} needs metadata "authorization: Bearer <${role} token>"; none was sent` };
    }
    const value = values.length === 1 && typeof values[0] === 'string' ? values[0] : '';
    const match = /^Bearer (\S+)$/.exec(value);
    if (!match) return { ok: false, code: grpc.status.UNAUTHENTICATED, details: `${method}: the authorization metadata must be "Bearer <token>"` };
    const token = digest(match[1]!);
    const isAgent = timingSafeEqual(token, this.agent);
    const isOperator = timingSafeEqual(token, this.operator);
    if ((role === 'agent' && isAgent) || (role === 'operator' && isOperator)) return { ok: true };
    if (isAgent || isOperator) {
      const other = isAgent ? 'agent' : 'operator';
      return { ok: false, code: grpc.status.PERMISSION_DENIED, details: `${method} needs the ${role} token; this is the ${other} token${other === 'agent' ? ', which may call only Connect' : ''}` };
    }
    return { ok: false, code: grpc.status.UNAUTHENTICATED, details: `${method}: the token is not one this control plane knows` };
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The environment variables the tokens come from. */
export const TOKEN_VARIABLES = { agent: 'MESHLET_AGENT_TOKEN', operator: 'MESHLET_OPERATOR_TOKEN' } as const;

/** The tokens from the environment, or the reason `meshlet control` must not start. */
export function tokensFromEnv(env: NodeJS.ProcessEnv): { ok: true; tokens: ControlTokens } | { ok: false; error: string } {
  const operator = env[TOKEN_VARIABLES.operator]?.trim() ?? '';
  const agent = env[TOKEN_VARIABLES.agent]?.trim() ?? '';
  const missing = [operator === '' ? TOKEN_VARIABLES.operator : '', agent === '' ? TOKEN_VARIABLES.agent : ''].filter((v) => v !== '');
  if (missing.length > 0) return { ok: false, error: `set ${missing.join(' and ')}: the control plane refuses to start without its tokens` };
  if (/\s/.test(operator) || /\s/.test(agent)) return { ok: false, error: `${TOKEN_VARIABLES.operator} and ${TOKEN_VARIABLES.agent} must not contain spaces` };
  if (operator === agent) return { ok: false, error: `${TOKEN_VARIABLES.operator} and ${TOKEN_VARIABLES.agent} must differ, or an agent could act as an operator` };
  return { ok: true, tokens: { agent, operator } };
}
