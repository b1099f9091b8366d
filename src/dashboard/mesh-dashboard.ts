// The dashboard as the control plane serves it, over every agent: the page (reading the mesh
// source by default) and the two documents it reads, ready to mount on any listener with a
// route hook:
//   for (const [path, route] of dashboard.routes()) admin.addRoute(path, route);
// and fed from what the control plane hears: every MeshEvent through heard(), the agents'
// last reports through the `agents` callback, read on each request. The event stream is the
// agents' own (decision-stream.ts): the same reader cap and unsent-bytes cutoff.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock.ts';
import { sendPage } from '../observability/admin-server.ts';
import { serveDecisionStream } from '../observability/decision-stream.ts';
import { DecisionLog } from '../observability/decisions.ts';
import type { AgentReport, MeshEvent } from '../control/control-proto.ts';
import { meshDecision, meshStats } from './mesh-stats.ts';
import { dashboardPages } from './pages.ts';

export type MeshRoute = (req: IncomingMessage, res: ServerResponse) => void;

export interface MeshDashboardOptions {
  readonly clock: Clock;
  /** Wall-clock ms (Date.now in the control plane). */
  readonly wallNow: () => number;
  /** Every agent the control plane knows, with its last report (null before the first). */
  readonly agents: () => Iterable<{ readonly node: string; readonly report: AgentReport | null | undefined }>;
}

export const MESH_STATS_PATH = '/api/v1/mesh/stats';
export const MESH_EVENTS_PATH = '/api/v1/mesh/events';

export class MeshDashboard {
  /** The mesh's recent decisions (a bounded ring), what a new reader of the event stream gets first. */
  private readonly decisions: DecisionLog;
  private readonly streams = new Set<ServerResponse>();

  constructor(private readonly options: MeshDashboardOptions) {
    this.decisions = new DecisionLog(options.clock, options.wallNow);
  }

  /** A breaker or ejection change on some agent: published on the event stream with its node. */
  heard(event: MeshEvent): void {
    const decision = meshDecision(event);
    if (decision !== undefined) this.decisions.record(decision);
  }

  /** [path, route] for the page, its stylesheet and script, the mesh stats and the mesh events; GET and HEAD only. */
  routes(): [string, MeshRoute][] {
    const routes: [string, MeshRoute][] = dashboardPages({ source: 'mesh' }).map((page) => [page.path, (_req, res) => sendPage(res, page)]);
    routes.push(
      [MESH_STATS_PATH, (_req, res) => sendJson(res, meshStats(this.options.wallNow(), this.options.agents()))],
      [MESH_EVENTS_PATH, (req, res) => serveDecisionStream(req, res, this.decisions, this.options.clock, this.streams)],
    );
    return routes.map(([path, route]) => [path, readOnly(route)]);
  }

  /** Ends every open event stream (the control plane is shutting down). */
  close(): void {
    for (const stream of this.streams) stream.end();
  }
}

function readOnly(route: MeshRoute): MeshRoute {
  return (req, res) => {
    if (req.method === 'GET' || req.method === 'HEAD') return route(req, res);
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
  };
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
  res.end(body);
}
