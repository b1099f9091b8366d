// GossipMessage ⇄ protobuf bytes (proto/meshlet/v1/gossip.proto). A packet is a
// GossipPacket, whose only field is the repeated `messages`; protobuf encodes a repeated
// field as its entries one after another, so a packet is the concatenation of its messages'
// encodings. That lets the broadcast queue encode a message once and pack many of them under
// a datagram's size without re-encoding anything.
//
// Decoding checks everything the protocol code relies on (names, addresses, counts); bytes
// that fail are a GossipDecodeError, which the caller drops and counts: nothing a peer sends
// is trusted further than this file.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { parseHostPort } from '../config/address.ts';
import { EMPTY_META, type GossipMessage, type MemberMeta, type MemberState, type MemberStatus, type ServiceHealth, type ServiceInstance } from './messages.ts';

const PROTO = join(fileURLToPath(new URL('../..', import.meta.url)), 'proto', 'meshlet', 'v1', 'gossip.proto');
const root = protobuf.loadSync(PROTO);
const Packet = root.lookupType('meshlet.v1.GossipPacket');

/** Limits on what a decoded packet may hold; past them the packet is refused whole. */
export const DECODE_LIMITS = {
  nameLength: 256,
  messagesPerPacket: 512,
  membersPerPushPull: 10_000,
  servicesPerMember: 64,
} as const;

export class GossipDecodeError extends Error {
  override readonly name = 'GossipDecodeError';
}

const STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];
const HEALTHS: readonly ServiceHealth[] = ['unknown', 'passing', 'failing'];
const PROTOCOLS = new Set(['http', 'http2', 'grpc']);

/** One message, encoded as an entry of GossipPacket.messages: concatenate these into a packet. */
export function encodeMessage(message: GossipMessage): Uint8Array {
  return Packet.encode({ messages: [toProto(message)] }).finish();
}

export function encodePacket(messages: readonly GossipMessage[]): Uint8Array {
  return Packet.encode({ messages: messages.map(toProto) }).finish();
}

/** Throws GossipDecodeError for anything that is not a well-formed packet. */
export function decodePacket(bytes: Uint8Array): GossipMessage[] {
  let decoded: { messages?: ProtoMessage[] };
  try {
    decoded = Packet.decode(bytes) as unknown as { messages?: ProtoMessage[] };
  } catch (err) {
    throw new GossipDecodeError(`not a gossip packet: ${(err as Error).message}`);
  }
  const messages = decoded.messages ?? [];
  if (messages.length === 0) throw new GossipDecodeError('empty packet');
  if (messages.length > DECODE_LIMITS.messagesPerPacket) throw new GossipDecodeError(`${messages.length} messages in one packet, over ${DECODE_LIMITS.messagesPerPacket}`);
  return messages.map(fromProto);
}

// protobufjs's view of a decoded GossipMessage: the oneof's chosen field is named by `kind`,
// unset scalars read as their defaults.
interface ProtoMessage {
  readonly kind?: string;
  readonly [field: string]: unknown;
}

type Fields = Record<string, unknown>;

function toProto(message: GossipMessage): Fields {
  switch (message.type) {
    case 'ping':
      return { ping: { seqNo: message.seqNo, node: message.node, sourceNode: message.sourceNode, sourceAddr: message.sourceAddr } };
    case 'ping-req':
      return { pingReq: { seqNo: message.seqNo, node: message.node, addr: message.addr, sourceNode: message.sourceNode, sourceAddr: message.sourceAddr, nack: message.nack } };
    case 'ack':
      return { ack: { seqNo: message.seqNo } };
    case 'nack':
      return { nack: { seqNo: message.seqNo } };
    case 'alive':
      return { alive: { node: message.node, incarnation: message.incarnation, addr: message.addr, meta: metaToProto(message.meta) } };
    case 'suspect':
      return { suspect: { node: message.node, incarnation: message.incarnation, from: message.from } };
    case 'dead':
      return { dead: { node: message.node, incarnation: message.incarnation, from: message.from } };
    case 'leave':
      return { leave: { node: message.node, incarnation: message.incarnation } };
    case 'push-pull':
      return { pushPull: { join: message.join, members: message.members.map(memberToProto) } };
  }
}

function metaToProto(meta: MemberMeta): Fields {
  return {
    services: meta.services.map((s) => ({ name: s.name, address: s.address, protocol: s.protocol, weight: s.weight, zone: s.zone, health: HEALTHS.indexOf(s.health) })),
    draining: meta.draining,
    version: meta.version,
  };
}

function memberToProto(member: MemberState): Fields {
  return { node: member.node, addr: member.addr, incarnation: member.incarnation, status: STATUSES.indexOf(member.status), meta: metaToProto(member.meta) };
}

function fromProto(message: ProtoMessage): GossipMessage {
  const body = (message.kind === undefined ? undefined : message[message.kind]) as Fields | undefined;
  if (body === undefined) throw new GossipDecodeError('a message with no known type');
  switch (message.kind) {
    case 'ping':
      return { type: 'ping', seqNo: num(body.seqNo), node: nodeName(body.node), sourceNode: nodeName(body.sourceNode), sourceAddr: addr(body.sourceAddr) };
    case 'pingReq':
      return { type: 'ping-req', seqNo: num(body.seqNo), node: nodeName(body.node), addr: addr(body.addr), sourceNode: nodeName(body.sourceNode), sourceAddr: addr(body.sourceAddr), nack: body.nack === true };
    case 'ack':
      return { type: 'ack', seqNo: num(body.seqNo) };
    case 'nack':
      return { type: 'nack', seqNo: num(body.seqNo) };
    case 'alive':
      return { type: 'alive', node: nodeName(body.node), incarnation: num(body.incarnation), addr: addr(body.addr), meta: meta(body.meta) };
    case 'suspect':
      return { type: 'suspect', node: nodeName(body.node), incarnation: num(body.incarnation), from: nodeName(body.from) };
    case 'dead':
      return { type: 'dead', node: nodeName(body.node), incarnation: num(body.incarnation), from: nodeName(body.from) };
    case 'leave':
      return { type: 'leave', node: nodeName(body.node), incarnation: num(body.incarnation) };
    case 'pushPull': {
      const members = (body.members ?? []) as Fields[];
      if (members.length > DECODE_LIMITS.membersPerPushPull) throw new GossipDecodeError(`${members.length} members in a push-pull, over ${DECODE_LIMITS.membersPerPushPull}`);
      return { type: 'push-pull', join: body.join === true, members: members.map(member) };
    }
    default:
      throw new GossipDecodeError(`unknown message type ${String(message.kind)}`);
  }
}

function member(body: Fields): MemberState {
  const status = STATUSES[num(body.status)];
  if (status === undefined) throw new GossipDecodeError(`unknown member status ${String(body.status)}`);
  return { node: nodeName(body.node), addr: addr(body.addr), incarnation: num(body.incarnation), status, meta: meta(body.meta) };
}

function meta(body: unknown): MemberMeta {
  if (body === undefined || body === null) return EMPTY_META;
  const fields = body as Fields;
  const services = (fields.services ?? []) as Fields[];
  if (services.length > DECODE_LIMITS.servicesPerMember) throw new GossipDecodeError(`${services.length} services on one member, over ${DECODE_LIMITS.servicesPerMember}`);
  return { services: services.map(service), draining: fields.draining === true, version: text(fields.version) };
}

function service(body: Fields): ServiceInstance {
  const protocol = text(body.protocol);
  if (!PROTOCOLS.has(protocol)) throw new GossipDecodeError(`unknown service protocol "${protocol.slice(0, 32)}"`);
  const health = HEALTHS[num(body.health)];
  if (health === undefined) throw new GossipDecodeError(`unknown service health ${String(body.health)}`);
  const weight = num(body.weight);
  return {
    name: nodeName(body.name),
    address: addr(body.address),
    protocol: protocol as ServiceInstance['protocol'],
    weight: weight === 0 ? 1 : weight,
    zone: text(body.zone),
    health,
  };
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function text(value: unknown): string {
  const s = typeof value === 'string' ? value : '';
  if (s.length > DECODE_LIMITS.nameLength) throw new GossipDecodeError(`a string of ${s.length} characters, over ${DECODE_LIMITS.nameLength}`);
  return s;
}

function nodeName(value: unknown): string {
  const s = text(value);
  if (s === '') throw new GossipDecodeError('a message without its node name');
  return s;
}

function addr(value: unknown): string {
  const s = text(value);
  const parsed = parseHostPort(s, { allowPortZero: false });
  if (!parsed.ok) throw new GossipDecodeError(`bad address: ${parsed.reason}`);
  return s;
}

