import { generateGossipKey } from '../gossip/keyring.ts';

export function runKeygen(): number {
  process.stdout.write(`${generateGossipKey()}\n`);
  return 0;
}
