// `meshlet agent`'s options, declared once. commander shows and parses them with the other
// commands; bin/meshlet.js parses an agent's command line with node's util.parseArgs from this
// same table, so the long-running agent never loads commander (0.4 MB of heap and about 1 MiB of
// RSS on Node 24, where the idle agent is held under 80). Anything parseArgs refuses, and --help, goes to
// commander, which explains it as for every other command.

import { parseArgs } from 'node:util';

export interface AgentOptions {
  readonly config: string;
  readonly watch: boolean;
}

/** Each option as commander declares it (`flags`) and as parseArgs reads it (`short`, `type`). */
export const AGENT_OPTIONS = {
  config: { flags: '-c, --config <file>', short: 'c', type: 'string', description: 'agent config (YAML)' },
  watch: { flags: '-w, --watch', short: 'w', type: 'boolean', description: 'reload when the config file changes (SIGHUP always reloads)' },
} as const;

/**
 * The options of `meshlet agent ARGS`, or undefined when commander should handle ARGS: a help
 * request, an unknown option, a stray argument or a missing --config.
 */
export function parseAgentArgs(args: readonly string[]): AgentOptions | undefined {
  try {
    const { values } = parseArgs({ args: [...args], options: AGENT_OPTIONS, strict: true, allowPositionals: false });
    return values.config === undefined ? undefined : { config: values.config, watch: values.watch === true };
  } catch {
    return undefined;
  }
}
