// `meshlet` command line: agent, control, validate, keygen, demo. Each command loads its own modules when it
// runs, so the long-running agent never holds what only validate (zod, yaml) or the demo
// (grpc-js) needs.

import { Command } from 'commander';
import { MESHLET_VERSION } from '../agent/version.ts';

const program = new Command()
  .name('meshlet')
  .description('Meshlet: a service-mesh sidecar agent for HTTP/1.1, HTTP/2 and gRPC')
  .version(MESHLET_VERSION, '-v, --version');

program
  .command('agent')
  .description('run the agent: listeners, load balancing, admin API')
  .requiredOption('-c, --config <file>', 'agent config (YAML)')
  .option('-w, --watch', 'reload when the config file changes (SIGHUP always reloads)')
  .action(async (opts: { config: string; watch?: boolean }) => {
    const { runAgent } = await import('./agent-command.ts');
    process.exitCode = await runAgent(opts.config, { watch: opts.watch === true });
  });

program
  .command('validate')
  .description('check a config file; exits 0 when valid, 1 with one line per problem otherwise')
  .requiredOption('-c, --config <file>', 'agent config (YAML)')
  .action(async (opts: { config: string }) => {
    const { runValidate } = await import('./validate-command.ts');
    process.exitCode = await runValidate(opts.config);
  });

program
  .command('keygen')
  .description('print a new gossip key (32 random bytes, base64) for gossip.keys')
  .action(async () => {
    const { runKeygen } = await import('./keygen-command.ts');
    process.exitCode = runKeygen();
  });

program
  .command('control')
  .description('run the control plane: policy store, agent streams, operator API (tokens from MESHLET_OPERATOR_TOKEN and MESHLET_AGENT_TOKEN)')
  .requiredOption('--listen <host:port>', 'gRPC address for agents and operators')
  .requiredOption('--data <dir>', 'directory the policy versions are kept in')
  .requiredOption('--admin <host:port>', 'HTTP address for /healthz, /readyz, /metrics and the dashboard')
  .option('--tls-cert <file>', 'serve TLS with this certificate chain (PEM)')
  .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
  .option('--tls-client-ca <file>', 'require client certificates signed by this CA (mTLS)')
  .action(async (opts: { listen: string; data: string; admin: string; tlsCert?: string; tlsKey?: string; tlsClientCa?: string }) => {
    const { runControl } = await import('./control-command.ts');
    process.exitCode = await runControl(opts);
  });

program
  .command('demo')
  .description('start sample HTTP and gRPC instances with an agent in front, send a short load, print what happened')
  .option('-n, --requests <count>', 'HTTP requests to send', (v) => Number.parseInt(v, 10))
  .action(async (opts: { requests?: number }) => {
    const { runDemo } = await import('./demo.ts');
    process.exitCode = await runDemo(opts.requests !== undefined ? { requests: opts.requests } : {});
  });

await program.parseAsync(process.argv);
