// Parses a config in a child process: zod and yaml load into its heap and leave with it, so
// the long-running agent never holds them, nor the pages a worker's heap would leave behind.

import { loadConfigFile, parseConfig } from '../config/load.ts';
import type { ConfigRequest } from './config-source.ts';

process.once('message', (message) => {
  const { source, env, hostname } = message as ConfigRequest;
  const options = { env, hostname };
  const loading = 'text' in source ? Promise.resolve(parseConfig(source.text, options)) : loadConfigFile(source.path, options);
  void loading.then((result) => {
    process.send!(result, () => process.disconnect());
  });
});
