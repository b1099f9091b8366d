// Raised while a picker is built from config the config layer should already have refused;
// callers key on `code`, never on the message.

export class BalancerConfigError extends Error {
  readonly code = 'MESHLET_LB_INVALID_CONFIG';

  constructor(message: string) {
    super(message);
    this.name = 'BalancerConfigError';
  }
}
