// GET /api/v1/events: the decision log as server-sent events. A new reader first gets the
// recent decisions it has not seen (all of them, or those after its Last-Event-ID), then each
// new one as it is taken. Bounded: a capped number of readers, and a reader that stops
// reading is cut off once its unsent events pass a byte limit rather than buffered forever.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock.ts';
import type { Decision, DecisionLog } from './decisions.ts';

export const MAX_EVENT_READERS = 32;
/** What one reader may leave unsent before it is dropped. */
const MAX_UNSENT_BYTES = 1024 * 1024;
/** A comment line now and then keeps proxies and idle timeouts from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

export function serveDecisionStream(req: IncomingMessage, res: ServerResponse, decisions: DecisionLog, clock: Clock, open: Set<ServerResponse>): void {
  if (open.size >= MAX_EVENT_READERS) {
    const body = `${JSON.stringify({ error: `${MAX_EVENT_READERS} event streams are open already` })}\n`;
    res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'retry-after': '5' });
    res.end(body);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  open.add(res);
  const send = (decision: Decision): void => {
    if (res.writableLength > MAX_UNSENT_BYTES) {
      res.destroy();
      return;
    }
    res.write(`id: ${decision.seq}\nevent: ${decision.kind}\ndata: ${JSON.stringify(decision)}\n\n`);
  };
  const seen = Number(req.headers['last-event-id'] ?? 0);
  res.write(': meshlet decisions\n\n');
  for (const decision of decisions.recent()) if (!(decision.seq <= seen)) send(decision);
  const unsubscribe = decisions.subscribe(send);
  const heartbeat = clock.setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  res.on('close', () => {
    unsubscribe();
    clock.clearInterval(heartbeat);
    open.delete(res);
  });
}
