// The gossip messages as the membership code handles them: proto/meshlet/v1/gossip.proto,
// one flat object per message with its type in `type`. codec.ts turns them into bytes and
// back, checking on the way in everything the protocol code relies on.

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';
export type ServiceHealth = 'unknown' | 'passing' | 'failing';

export interface ServiceInstance {
  readonly name: string;
  /** The agent's inbound listener for the service, "host:port": where other agents send. */
  readonly address: string;
  readonly protocol: 'http' | 'http2' | 'grpc';
  /** Positive. */
  readonly weight: number;
  /** "" when unset. */
  readonly zone: string;
  readonly health: ServiceHealth;
}

export interface MemberMeta {
  readonly services: readonly ServiceInstance[];
  /** Announced before a graceful shutdown so callers stop sending first. */
  readonly draining: boolean;
  readonly version: string;
}

export interface Ping {
  readonly type: 'ping';
  readonly seqNo: number;
  /** The member the sender means to reach. */
  readonly node: string;
  readonly sourceNode: string;
  readonly sourceAddr: string;
}

export interface PingReq {
  readonly type: 'ping-req';
  readonly seqNo: number;
  readonly node: string;
  readonly addr: string;
  readonly sourceNode: string;
  readonly sourceAddr: string;
  /** The sender wants a Nack when the indirect probe times out (Lifeguard). */
  readonly nack: boolean;
}

export interface Ack {
  readonly type: 'ack';
  readonly seqNo: number;
}

export interface Nack {
  readonly type: 'nack';
  readonly seqNo: number;
}

export interface Alive {
  readonly type: 'alive';
  readonly node: string;
  readonly incarnation: number;
  readonly addr: string;
  readonly meta: MemberMeta;
}

export interface Suspect {
  readonly type: 'suspect';
  readonly node: string;
  readonly incarnation: number;
  readonly from: string;
}

export interface Dead {
  readonly type: 'dead';
  readonly node: string;
  readonly incarnation: number;
  readonly from: string;
}

export interface Leave {
  readonly type: 'leave';
  readonly node: string;
  readonly incarnation: number;
}

export interface MemberState {
  readonly node: string;
  readonly addr: string;
  readonly incarnation: number;
  readonly status: MemberStatus;
  readonly meta: MemberMeta;
}

export interface PushPull {
  readonly type: 'push-pull';
  readonly join: boolean;
  readonly members: readonly MemberState[];
}

export type GossipMessage = Ping | PingReq | Ack | Nack | Alive | Suspect | Dead | Leave | PushPull;
export type GossipMessageType = GossipMessage['type'];

export const GOSSIP_MESSAGE_TYPES: readonly GossipMessageType[] = ['ping', 'ping-req', 'ack', 'nack', 'alive', 'suspect', 'dead', 'leave', 'push-pull'];

export const EMPTY_META: MemberMeta = { services: [], draining: false, version: '' };
