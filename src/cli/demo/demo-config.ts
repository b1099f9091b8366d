// The agent config `meshlet demo` runs: every listener on an OS-chosen port, an HTTP upstream
// whose instances are weighted 1/1/2 and a gRPC upstream balanced by peak EWMA.

export const catalogWeights: readonly number[] = [1, 1, 2];
export const paymentsInstances = 2;

export function demoAgentConfig(catalog: readonly { address: string }[], payments: readonly { address: string }[]): object {
  return {
    node: 'demo',
    admin: { listen: '127.0.0.1:0' },
    proxy: { listen: '127.0.0.1:0' },
    upstreams: [
      {
        name: 'catalog',
        protocol: 'http',
        listen: '127.0.0.1:0',
        endpoints: catalog.map((u, i) => ({ address: u.address, weight: catalogWeights[i] ?? 1 })),
        policy: {
          lb: { algorithm: 'weighted_round_robin' },
          timeout: '2s',
          retry: { attempts: 2, on: ['connect-failure', 'reset', '5xx'] },
        },
      },
      {
        name: 'payments',
        protocol: 'grpc',
        listen: '127.0.0.1:0',
        endpoints: payments.map((u) => u.address),
        policy: { lb: { algorithm: 'peak_ewma' }, timeout: '2s' },
      },
    ],
  };
}
