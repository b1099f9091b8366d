/** An error of the gossip layer; callers tell them apart by `code`, never by the message. */
export class GossipError<Code extends string> extends Error {
  constructor(readonly code: Code, message: string) {
    super(message);
  }
}
