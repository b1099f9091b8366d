import { spawnSync } from 'node:child_process';

// The load generators, HAProxy, Serf, stress-ng and iptables come from Debian; installed here only when missing.
const DEBIAN_PACKAGE_OF: Readonly<Record<string, string>> = {
  wrk: 'wrk',
  h2load: 'nghttp2-client',
  haproxy: 'haproxy',
  taskset: 'util-linux',
  serf: 'serf',
  'stress-ng': 'stress-ng',
  iptables: 'iptables',
  'iptables-restore': 'iptables',
};

export function isOnPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function ensureTools(commands: readonly string[]): void {
  const missing = commands.filter((command) => !isOnPath(command));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((command) => DEBIAN_PACKAGE_OF[command] ?? command))];
  process.stdout.write(`installing ${packages.join(', ')} with apt-get\n`);
  for (const args of [['update'], ['install', '-y', ...packages]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed; install ${packages.join(' ')} by hand`);
  }
}

/** First line a command prints about its version, or "unknown". */
export function versionLine(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  const line = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.split('\n').map((l) => l.trim()).find(Boolean);
  return line ?? 'unknown';
}
