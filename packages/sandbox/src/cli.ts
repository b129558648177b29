#!/usr/bin/env node
// The `authrail-sandbox` command: runs until SIGINT/SIGTERM, then closes cleanly.
import { runCli } from './cli-main.js';

try {
  const handle = await runCli(process.argv.slice(2));
  if (handle) {
    const stop = () => {
      void handle.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
} catch (error) {
  process.stderr.write(`authrail-sandbox: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
