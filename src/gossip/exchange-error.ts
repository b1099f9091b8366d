// Why an exchange (Transport.exchange) failed.

import { GossipError } from './gossip-error.ts';

export type ExchangeErrorCode =
  | 'MESHLET_GOSSIP_CONNECT_FAILED'
  | 'MESHLET_GOSSIP_CONNECT_TIMEOUT'
  | 'MESHLET_GOSSIP_EXCHANGE_TIMEOUT'
  /** The peer closed the stream before a whole answer arrived (it may have refused the request). */
  | 'MESHLET_GOSSIP_NO_ANSWER'
  /** The request, or the answer's announced length, is over the transport's frame limit. */
  | 'MESHLET_GOSSIP_FRAME_TOO_LARGE'
  /** The answer arrived but did not open (see DropReason). */
  | 'MESHLET_GOSSIP_ANSWER_DROPPED'
  | 'MESHLET_GOSSIP_TRANSPORT_CLOSED';

export class ExchangeError extends GossipError<ExchangeErrorCode> {
  override readonly name = 'ExchangeError';
}
