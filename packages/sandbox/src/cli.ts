#!/usr/bin/env node
// The `authrail-sandbox` command: prints the URLs and demo credentials, runs until
// SIGINT/SIGTERM, then closes cleanly (exit code 0). Bad options exit with code 2.
import { runCli } from './cli-main.js';

try {
  const handle = await runCli(process.argv.slice(2));
  if (handle) {
    const stop = () => {
      handle.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(
            `authrail-sandbox: ${error instanceof Error ? error.message : String(error)}\n`,
          );
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
} catch (error) {
  process.stderr.write(`authrail-sandbox: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
