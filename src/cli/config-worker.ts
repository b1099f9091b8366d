// Parses the config file in a child process: zod and yaml load into its heap and leave with it,
// so the long-running agent never holds them, nor the pages a worker's heap would leave behind.

import { loadConfigFile } from '../config/load.ts';

process.once('message', (request) => {
  const { path, env, hostname } = request as { path: string; env: Record<string, string | undefined>; hostname: string };
  void loadConfigFile(path, { env, hostname }).then((result) => {
    process.send!(result, () => process.disconnect());
  });
});
