// Where ring_hash / maglev take their key from, chosen once at config time.

import type { HashOn } from '../../config/types.ts';
import { headerValue, type ProxiedRequest } from '../call/proxied-request.ts';

export type HashKeyExtractor = (request: ProxiedRequest) => string | undefined;

const noKey: HashKeyExtractor = () => undefined;

export function hashKeyExtractor(hashOn: HashOn | undefined): HashKeyExtractor {
  if (hashOn === undefined) return noKey;
  if ('header' in hashOn) {
    const name = hashOn.header.toLowerCase();
    return (request) => headerValue(request.headers, name);
  }
  if ('cookie' in hashOn) {
    const prefix = `${hashOn.cookie}=`;
    return (request) => cookieValue(headerValue(request.headers, 'cookie'), prefix);
  }
  return (request) => request.sourceAddress;
}

function cookieValue(header: string | undefined, prefix: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const pair = part.trim();
    if (pair.startsWith(prefix)) return pair.slice(prefix.length);
  }
  return undefined;
}
