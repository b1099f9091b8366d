// `meshlet status`: the mesh on one screen: policy version, agents, open breakers, ejected and
// unreachable endpoints.
import type { EndpointReport } from '../control/control-proto.ts';
import { EXIT, withControl, type ConnectionFlags } from './operator-client.ts';
import { breakerJson, endpointJson } from './breaker-json.ts';
import { formatAgo, formatRows, formatTable, plural, printJson, styleFor, styledBreakerState, type OutputFormat } from './control-output.ts';

export interface StatusFlags extends ConnectionFlags {
  readonly output: OutputFormat;
}

export function runStatus(flags: StatusFlags): Promise<number> {
  return withControl(flags, async (control) => {
    const status = await control.call('GetMeshStatus', {});
    if (flags.output === 'json') {
      printJson({
        currentVersion: status.currentVersion,
        agents: status.agents,
        agentsConnected: status.agentsConnected,
        agentsOnCurrent: status.agentsOnCurrent,
        openBreakers: status.openBreakers.map((breaker) => breakerJson(breaker, breaker.node)),
        ejectedEndpoints: status.ejectedEndpoints.map(endpointJson),
        unreachableEndpoints: status.unreachableEndpoints.map(endpointJson),
      });
      return EXIT.ok;
    }
    const style = styleFor(process.stdout);
    const now = Date.now();
    const lines = [
      formatRows([
        ['policy', status.currentVersion === 0 ? 'none applied yet' : `v${status.currentVersion}`],
        ['agents', `${status.agents} (${status.agentsConnected} connected, ${status.agentsOnCurrent} on v${status.currentVersion})`],
        ['breakers', `${status.openBreakers.length} open or half-open`],
        ['ejected', plural(status.ejectedEndpoints.length, 'endpoint')],
        ['unreachable', plural(status.unreachableEndpoints.length, 'endpoint')],
      ]),
    ];
    if (status.openBreakers.length > 0) {
      lines.push('', formatTable(['NODE', 'UPSTREAM', 'ENDPOINT', 'STATE', 'SINCE', 'REASON'], status.openBreakers.map((breaker) => [
        breaker.node || '-', breaker.upstream, breaker.endpoint || '(all)', styledBreakerState(breaker.state, style), formatAgo(breaker.sinceMs, now), breaker.reason,
      ])));
    }
    if (status.ejectedEndpoints.length > 0) lines.push('', endpointTable('EJECTED ENDPOINT', status.ejectedEndpoints, (e) => e.ejectionReason));
    if (status.unreachableEndpoints.length > 0) lines.push('', endpointTable('UNREACHABLE ENDPOINT', status.unreachableEndpoints, (e) => e.unreachableReason));
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  });
}

function endpointTable(title: string, endpoints: readonly EndpointReport[], reason: (endpoint: EndpointReport) => string): string {
  return formatTable(['NODE', 'UPSTREAM', title, 'HEALTH', 'REASON'], endpoints.map((endpoint) => [
    endpoint.node || '-', endpoint.upstream, endpoint.address, endpoint.health, reason(endpoint),
  ]));
}
