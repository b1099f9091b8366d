// SWIM's failure detector with Lifeguard's tweaks: each (scaled) probe interval one member,
// in randomized round-robin, gets a ping; without an ack by the probe timeout, indirectChecks
// others are asked to ping it for us and to nack if they fail too. A probe without an ack by
// the interval's end makes the target a suspect, and the nacks that did not come tell the
// awareness score that the trouble may be ours. Also the other side: answering pings, and
// pinging on another's behalf.

import type { Awareness } from './awareness.ts';
import type { GossipMetrics } from './gossip-metrics.ts';
import type { GossipSender } from './gossip-sender.ts';
import type { LocalMember } from './local-member.ts';
import type { Member } from './member.ts';
import type { MemberTable } from './member-table.ts';
import type { GossipMessage, PingReq } from './messages.ts';
import type { GossipSettings } from './settings.ts';
import type { StateMerges } from './state-merges.ts';
import type { TimerScope } from './timer-scope.ts';

export interface ProberOptions {
  readonly self: LocalMember;
  readonly table: MemberTable;
  readonly sender: GossipSender;
  readonly timers: TimerScope;
  readonly awareness: Awareness;
  readonly metrics: GossipMetrics;
  readonly settings: Pick<GossipSettings, 'probeIntervalMs' | 'probeTimeoutMs' | 'indirectChecks'>;
  /** Where a failed probe's suspicion goes, and a late answer to it. */
  readonly merges: Pick<StateMerges, 'suspect' | 'answeredLate'>;
}

interface PendingProbe {
  ack(): void;
  nack(): void;
}

/** A relay nacks when its ping is unanswered for this share of the probe timeout. */
const NACK_AFTER_TIMEOUT_FRACTION = 0.8;

/** Probes and indirect probes waiting for an answer at once, at most. */
const MAX_PENDING_PROBES = 1024;

export class Prober {
  private readonly pending = new Map<number, PendingProbe>();
  private seqNo = 0;

  constructor(private readonly deps: ProberOptions) {}

  /** Probes the next member and schedules the next round, one (scaled) probe interval on. */
  loop(): void {
    const interval = this.deps.awareness.scale(this.deps.settings.probeIntervalMs);
    this.deps.timers.after(interval, () => this.loop());
    const target = this.deps.table.nextProbeTarget();
    if (target) this.probe(target, interval);
  }

  /**
   * One SWIM probe: a ping, then ping-reqs through indirectChecks members when no ack comes
   * within the (scaled) probe timeout, all within the (scaled) probe interval. `onResult`,
   * when given, takes the verdict instead of the usual suspicion of a failed target. An ack
   * that comes within one more interval after the probe gave up is still news: the target
   * lives, and the merges hear of it.
   */
  probe(target: Member, interval: number, onResult?: (acked: boolean) => void): void {
    const { self, table, sender, timers, awareness, metrics, settings } = this.deps;
    if (this.pending.size >= MAX_PENDING_PROBES) return metrics.dropped('pending-cap');
    const seqNo = this.nextSeq();
    const timeout = awareness.scale(settings.probeTimeoutMs);
    let acked = false;
    let indirect = false;
    let expectedNacks = 0;
    let nacks = 0;
    const finish = (result: 'ack' | 'indirect-ack' | 'failed') => {
      this.pending.delete(seqNo);
      if (result === 'failed') this.awaitLateAck(seqNo, target.node, interval);
      timers.cancel(ackTimer);
      timers.cancel(deadline);
      metrics.probe(result);
      if (result === 'ack') awareness.applyDelta(-1);
      if (result === 'failed') {
        // Lifeguard: peers that did not nack point at our own trouble rather than the
        // target's; with no one to ask, a failed probe counts against us.
        awareness.applyDelta(expectedNacks > 0 ? expectedNacks - nacks : 1);
      }
      if (onResult) return onResult(result !== 'failed');
      const current = table.get(target.node)?.member;
      if (result === 'failed' && current) this.deps.merges.suspect({ type: 'suspect', node: current.node, incarnation: current.incarnation, from: self.node }, 'probe-failed');
    };
    this.pending.set(seqNo, {
      ack: () => {
        if (acked) return;
        acked = true;
        finish(indirect ? 'indirect-ack' : 'ack');
      },
      nack: () => {
        nacks++;
      },
    });
    const ping: GossipMessage = { type: 'ping', seqNo, node: target.node, sourceNode: self.node, sourceAddr: self.address };
    // Lifeguard's buddy system: a suspect learns of it from the ping itself, so it can refute
    // even if the gossip about it never reached it.
    if (target.status === 'suspect') sender.send(target.addr, ping, { type: 'suspect', node: target.node, incarnation: target.incarnation, from: self.node });
    else sender.send(target.addr, ping);
    // A last-chance probe (one with a verdict) follows probes that already went unanswered,
    // so it asks the helpers at once: a target that is slow but running then has the whole
    // interval to answer them, not what is left of it after the probe timeout.
    const ackTimer = timers.after(onResult ? 0 : timeout, () => {
      indirect = true;
      const helpers = table.randomMembers(settings.indirectChecks, (s) => s.member.status === 'alive' && s.member.node !== target.node);
      const request: PingReq = { type: 'ping-req', seqNo, node: target.node, addr: target.addr, sourceNode: self.node, sourceAddr: self.address, nack: true };
      for (const helper of helpers) sender.send(helper.member.addr, request);
      expectedNacks = helpers.length;
    });
    const deadline = timers.after(interval, () => finish('failed'));
  }

  /**
   * A failed probe's ack may still come: the target (or a helper) was slow, or the direct ack
   * was lost and the helpers' came after the interval. Until `graceMs` passes, one that comes
   * tells the merges the target answered, so a suspicion of a slow but running member does
   * not run out on the strength of this probe.
   */
  private awaitLateAck(seqNo: number, node: string, graceMs: number): void {
    const { timers, merges } = this.deps;
    const expiry = timers.after(graceMs, () => this.pending.delete(seqNo));
    this.pending.set(seqNo, {
      ack: () => {
        this.pending.delete(seqNo);
        timers.cancel(expiry);
        merges.answeredLate(node);
      },
      nack: () => {},
    });
  }

  handlePing(from: string, seqNo: number, node: string): void {
    // A ping meant for a member that used to live at this address is not ours to answer.
    if (node !== this.deps.self.node) return this.deps.metrics.dropped('unexpected');
    this.deps.sender.send(from, { type: 'ack', seqNo });
  }

  handlePingReq(from: string, request: PingReq): void {
    const { self, sender, timers, metrics, settings } = this.deps;
    if (this.pending.size >= MAX_PENDING_PROBES) return metrics.dropped('pending-cap');
    const seqNo = this.nextSeq();
    // The requester sent this a probe timeout into its probe and gives up at the interval's
    // end, so a nack sent a whole probe timeout after this ping (memberlist's relay timer)
    // lands after that end and reads as missing: a healthy prober of a dead member raised
    // its own health score by one per helper, and probed 4 times slower for a while. At 80 %
    // of the timeout the nack counts; a late ack is still passed on until the probe
    // interval ends, as the requester's own window may be stretched by its local health.
    const nackTimer = timers.after(NACK_AFTER_TIMEOUT_FRACTION * settings.probeTimeoutMs, () => {
      if (request.nack) sender.send(from, { type: 'nack', seqNo: request.seqNo });
    });
    const expiry = timers.after(settings.probeIntervalMs, () => this.pending.delete(seqNo));
    this.pending.set(seqNo, {
      ack: () => {
        this.pending.delete(seqNo);
        timers.cancel(nackTimer);
        timers.cancel(expiry);
        sender.send(from, { type: 'ack', seqNo: request.seqNo });
      },
      nack: () => {},
    });
    sender.send(request.addr, { type: 'ping', seqNo, node: request.node, sourceNode: self.node, sourceAddr: self.address });
  }

  /** An ack for a probe of ours or one we forward; unknown or late ones are ignored. */
  handleAck(seqNo: number): void {
    this.pending.get(seqNo)?.ack();
  }

  handleNack(seqNo: number): void {
    this.pending.get(seqNo)?.nack();
  }

  /** On close: answers that come after it find nothing waiting. */
  clear(): void {
    this.pending.clear();
  }

  private nextSeq(): number {
    this.seqNo = (this.seqNo + 1) >>> 0;
    return this.seqNo;
  }
}
