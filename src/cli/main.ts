// `meshlet` command line: agent, control, validate, keygen, demo, and the operator commands
// against the control plane (apply, get policy, agents, status, breakers, rollback). Each
// command loads its own modules when it runs, so the long-running agent never holds what only
// validate (zod, yaml), the demo or the operator commands need; an agent started through
// bin/meshlet.js does not load this file either (agent-options.ts).

import { Command, InvalidArgumentError, Option } from 'commander';
import { MESHLET_VERSION } from '../agent/version.ts';
import { AGENT_OPTIONS } from './agent-options.ts';

const program = new Command()
  .name('meshlet')
  .description('Meshlet: a service-mesh sidecar agent for HTTP/1.1, HTTP/2 and gRPC')
  .version(MESHLET_VERSION, '-v, --version')
  // `meshlet get policy --version 3` is the subcommand's option, not the program's.
  .enablePositionalOptions();

program
  .command('agent')
  .description('run the agent: listeners, load balancing, admin API')
  .requiredOption(AGENT_OPTIONS.config.flags, AGENT_OPTIONS.config.description)
  .option(AGENT_OPTIONS.watch.flags, AGENT_OPTIONS.watch.description)
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
  .option('--data <dir>', 'directory the policy versions are kept in (one replica); or --store')
  .option('--store <etcd://host:port,...>', 'keep the policy in etcd and elect the replica that serves agents (several replicas); or --data')
  .option('--store-prefix <prefix>', 'the etcd key prefix of this control plane (with --store; default /meshlet/)')
  .option('--advertise <host:port>', 'the address followers name to agents and operators as the leader\'s (with --store; default: --listen)')
  .requiredOption('--admin <host:port>', 'HTTP address for /healthz, /readyz, /metrics, /api/v1/leader and the dashboard')
  .option('--tls-cert <file>', 'serve TLS with this certificate chain (PEM)')
  .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
  .option('--tls-client-ca <file>', 'require client certificates signed by this CA (mTLS)')
  .action(async (opts: { listen: string; data?: string; store?: string; storePrefix?: string; advertise?: string; admin: string; tlsCert?: string; tlsKey?: string; tlsClientCa?: string }) => {
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

// Kept in step with src/cli/operator-client.ts (EXIT), which this file does not load up front.
const EXIT_CODES_HELP = `
Exit codes:
  0  done (apply, rollback: stored and acknowledged by every connected agent)
  1  invalid: the document or request was refused (field errors), or a usage error
  2  conflict: the policy changed since it was read (or differs from --expected-version)
  3  stored, but not every connected agent acknowledged it within --wait (timeouts or NACKs)
  4  the control plane cannot be reached, or refused the token (MESHLET_TOKEN)

Environment:
  MESHLET_TOKEN    the operator token (required)
  MESHLET_CONTROL  the control plane's address when --server is not given`;

function version(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError('expected a policy version: a whole number from 1');
  return parsed;
}

function outputOption(): Option {
  return new Option('-o, --output <format>', 'text (tables) or json (for scripts)').choices(['text', 'json']).default('text');
}

/** The flags every operator command takes: where the control plane is, TLS, the call deadline. */
function operatorCommand(name: string, description: string, parent: Command = program): Command {
  return parent
    .command(name)
    .description(description)
    .option('--server <address>', 'control plane address host:port, or replicas host:port,host:port (default: MESHLET_CONTROL, else 127.0.0.1:7950)')
    .option('--tls-ca <file>', 'CA certificate (PEM) to verify the control plane with; enables TLS')
    .option('--tls-cert <file>', 'client certificate (PEM) for mTLS, with --tls-key')
    .option('--tls-key <file>', 'client private key (PEM) for mTLS, with --tls-cert')
    .option('--timeout <duration>', 'deadline of each call to the control plane', '5s')
    .addHelpText('after', EXIT_CODES_HELP);
}

/** apply and rollback: compare-and-set and waiting for the agents. */
function changeOptions(command: Command): Command {
  return command
    .option('--dry-run', 'validate and print the diff; store nothing')
    .option('--force', 'skip the compare-and-set on the current version')
    .addOption(new Option('--expected-version <version>', 'apply only if the current version is this one (default: the version read just before)').argParser(version).conflicts('force'))
    .option('--wait <duration>', 'how long to wait for every connected agent to ACK or NACK (0: do not wait)', '10s')
    .addOption(outputOption());
}

changeOptions(operatorCommand('apply', 'apply a policy document (YAML) to the whole mesh and follow it out to the agents'))
  .requiredOption('-f, --file <file>', 'policy document (YAML): upstreams: { <name>: <policy> }, optional defaults: <policy>')
  .action(async (opts: import('./apply-command.ts').ApplyFlags) => {
    const { runApply } = await import('./apply-command.ts');
    process.exitCode = await runApply(opts);
  });

changeOptions(operatorCommand('rollback', 'make an earlier policy version current again (as a new version)'))
  .requiredOption('--to <version>', 'the version whose document to restore', version)
  .action(async (opts: import('./rollback-command.ts').RollbackFlags) => {
    const { runRollback } = await import('./rollback-command.ts');
    process.exitCode = await runRollback(opts);
  });

const get = program.command('get').description('read from the control plane');
operatorCommand('policy', 'print the current policy document (or an earlier version)', get)
  .option('--version <version>', 'an earlier version (default: the current one)', version)
  .addOption(new Option('-o, --output <format>', 'yaml (what apply -f takes) or json').choices(['yaml', 'json']).default('yaml'))
  .action(async (opts: import('./get-policy-command.ts').GetPolicyFlags) => {
    const { runGetPolicy } = await import('./get-policy-command.ts');
    process.exitCode = await runGetPolicy(opts);
  });

operatorCommand('agents', 'list the agents: connected, acknowledged policy version, NACKs with their errors')
  .addOption(outputOption())
  .action(async (opts: import('./agents-command.ts').AgentsFlags) => {
    const { runAgents } = await import('./agents-command.ts');
    process.exitCode = await runAgents(opts);
  });

operatorCommand('status', 'the mesh at a glance: policy version, agents, open breakers, ejected and unreachable endpoints')
  .addOption(outputOption())
  .action(async (opts: import('./status-command.ts').StatusFlags) => {
    const { runStatus } = await import('./status-command.ts');
    process.exitCode = await runStatus(opts);
  });

operatorCommand('breakers', 'open and half-open circuit breakers across the mesh, with their reasons')
  .option('-w, --watch', 'then print every breaker change as it happens, one line each, until Ctrl-C')
  .option('--reconnect-for <duration>', 'with --watch: how long to keep reconnecting after the control plane goes away before exiting 4 (default 60s; 0: not at all)')
  .addOption(outputOption())
  .action(async (opts: import('./breakers-command.ts').BreakersFlags) => {
    const { runBreakers } = await import('./breakers-command.ts');
    process.exitCode = await runBreakers(opts);
  });

await program.parseAsync(process.argv);
