import { newRow, type Row, type UpstreamPorts } from './row.ts';

/** No proxy: the load generator talks to the upstream itself. */
export function directRow(upstreams: UpstreamPorts): Row {
  const row = newRow('direct');
  row.targets.set('h1', { port: upstreams.h1 });
  row.targets.set('h2c', { port: upstreams.h2c });
  row.targets.set('grpc', { port: upstreams.grpc });
  return row;
}
