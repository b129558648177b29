// Runs the script (src/script.ts) in a process of its own, as a user runs it from a shell.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./script.ts', import.meta.url));

/** One run of the script with `env` added; resolves with what it printed. */
export function runScript(env: Record<string, string>, args: string[] = []): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--conditions=@authrail/source', '--import', import.meta.resolve('tsx'), SCRIPT, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim()),
    ),
  );
}
