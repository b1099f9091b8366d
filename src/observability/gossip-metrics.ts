// Prometheus series for gossip, health checks and discovery: the prom-client side of the
// counting interfaces the membership (GossipMetrics), the sealed wire (WireMetrics) and the
// health checks (HealthMetrics) take. Gossip is cold-path, so these use prom-client directly.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { GossipMetrics } from '../gossip/gossip-metrics.ts';
import type { MemberStatus } from '../gossip/messages.ts';
import type { WireMetrics } from '../gossip/wire-metrics.ts';
import type { HealthMetrics } from '../health/health-metrics.ts';

const STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

export class GossipPromMetrics {
  readonly membership: GossipMetrics;
  readonly wire: WireMetrics;
  readonly health: HealthMetrics;

  constructor(register: Registry) {
    const registers = [register];
    const members = new Gauge({ name: 'meshlet_gossip_members', help: 'Members this agent knows of (itself not counted), by state.', labelNames: ['state'], registers });
    for (const state of STATUSES) members.set({ state }, 0);
    const changes = new Counter({ name: 'meshlet_gossip_member_changes_total', help: 'Members this agent saw move to a state (suspect, dead: failure detection; alive: joins and refutations; left).', labelNames: ['status'], registers });
    const probes = new Counter({ name: 'meshlet_gossip_probes_total', help: 'Probes of other members, by result: ack (direct), indirect-ack (through peers), failed (no ack: the member is suspected).', labelNames: ['result'], registers });
    const messages = new Counter({ name: 'meshlet_gossip_messages_total', help: 'Gossip messages sent and received, by type and direction.', labelNames: ['type', 'direction'], registers });
    const payload = new Counter({ name: 'meshlet_gossip_payload_bytes_total', help: 'Plaintext protocol bytes sent and received, before sealing.', labelNames: ['direction'], registers });
    const awareness = new Gauge({ name: 'meshlet_gossip_awareness_score', help: "Lifeguard's local health score: 0 when healthy; each point stretches this agent's probe interval and timeouts.", registers });
    const dropped = new Counter({ name: 'meshlet_gossip_packets_dropped_total', help: 'Packets and frames from peers that were not acted on, by reason (decrypt, replay, truncated, version, oversize, decode, unexpected, member-cap, pending-cap).', labelNames: ['reason'], registers });
    const bytes = new Counter({ name: 'meshlet_gossip_bytes_total', help: 'Bytes on the wire (sealed, with TCP length prefixes), datagrams and streams together.', labelNames: ['direction'], registers });
    const streamsRefused = new Counter({ name: 'meshlet_gossip_streams_refused_total', help: 'Inbound push-pull streams cut off, by reason (limit, timeout, error).', labelNames: ['reason'], registers });
    const notSent = new Counter({ name: 'meshlet_gossip_packets_not_sent_total', help: 'Datagrams and frames of this agent that could not be sent, by reason (oversize, error).', labelNames: ['reason'], registers });
    const checks = new Counter({ name: 'meshlet_health_checks_total', help: 'Active health checks of local services, by result (pass, fail, timeout).', labelNames: ['service', 'result'], registers });

    this.membership = {
      probe: (result) => probes.inc({ result }),
      message: (type, direction) => messages.inc({ type, direction }),
      bytes: (direction, count) => payload.inc({ direction }, count),
      awareness: (score) => awareness.set(score),
      members: (status, count) => members.set({ state: status }, count),
      memberChange: (status) => changes.inc({ status }),
      dropped: (reason) => dropped.inc({ reason }),
    };
    this.wire = {
      packetDropped: (reason) => dropped.inc({ reason }),
      streamRefused: (reason) => streamsRefused.inc({ reason }),
      packetNotSent: (reason) => notSent.inc({ reason }),
      bytes: (direction, count) => bytes.inc({ direction }, count),
    };
    this.health = { checkCompleted: (service, result) => checks.inc({ service, result }) };
  }
}
