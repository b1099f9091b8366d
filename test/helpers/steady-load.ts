// Steady GET traffic for the browser tests: one request to each URL at a time, about 40 rounds
// a second, until stopped; bounded to 2 minutes whatever happens.
import { request, type Dispatcher } from 'undici';

export interface SteadyLoad {
  stop(): Promise<void>;
}

export function startSteadyLoad(urls: readonly string[], dispatcher: Dispatcher): SteadyLoad {
  let running = true;
  const loop = (async () => {
    const until = performance.now() + 120_000;
    while (running && performance.now() < until) {
      await Promise.all(urls.map(async (url) => (await request(url, { dispatcher })).body.dump()));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
