// `npm run demo` lands here (through scripts/bootstrap.mjs and `pnpm demo:run`).
import { runDemo } from './demo.js';

try {
  await runDemo();
} catch (error) {
  process.stderr.write(
    `demo failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
  );
  process.exitCode = 1;
}
