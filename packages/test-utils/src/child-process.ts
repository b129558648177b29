// Runs a TypeScript file in a Node process of its own, to watch what a test process
// cannot watch in itself: unhandled rejections, and whether the process ends by itself
// once its work is done (no timer, socket or listener left holding it).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** tsx's loader, as this package resolves it (the root need not have tsx). */
const TSX = import.meta.resolve('tsx');

/**
 * Starts `script` (a .ts file) in a Node process of its own, through tsx, with workspace
 * packages resolved to their sources, from the repository root.
 */
export function spawnTs(
  script: string,
  options: {
    args?: readonly string[];
    nodeArgs?: readonly string[];
    env?: NodeJS.ProcessEnv;
    stdio?: StdioOptions;
  } = {},
): ChildProcess {
  const { args = [], nodeArgs = [], env = {}, stdio = ['ignore', 'pipe', 'pipe'] } = options;
  return spawn(
    process.execPath,
    [...nodeArgs, '--conditions=@authrail/source', '--import', TSX, script, ...args],
    {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio,
    },
  );
}

export interface ChildRun<Report> {
  /** The last line the child wrote to stdout, parsed as JSON; undefined when there was none. */
  report: Report | undefined;
  /** Whether it exited with code 0 within the grace period after its report, unkilled. */
  exitedByItself: boolean;
  code: number | null;
  stderr: string;
}

/**
 * Runs `script` (a .ts file, through tsx, resolving workspace packages to their sources)
 * with `args`. Once it has written a line to stdout it has `graceMs` to end by itself;
 * after that it is killed and reported as not having ended.
 */
export function runChild<Report>(
  script: string,
  args: readonly string[] = [],
  options: { graceMs?: number; nodeArgs?: readonly string[] } = {},
): Promise<ChildRun<Report>> {
  const { graceMs = 10_000, nodeArgs = [] } = options;
  return new Promise((resolve) => {
    const child = spawnTs(script, { args, nodeArgs });
    let stdout = '';
    let stderr = '';
    let grace: NodeJS.Timeout | undefined;
    let killed = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!grace && stdout.includes('\n'))
        grace = setTimeout(() => {
          killed = true;
          child.kill('SIGKILL');
        }, graceMs);
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(grace);
      const line = stdout.trim().split('\n').at(-1);
      let report: Report | undefined;
      try {
        report = line ? (JSON.parse(line) as Report) : undefined;
      } catch {
        report = undefined;
      }
      resolve({ report, exitedByItself: !killed && code === 0, code, stderr });
    });
  });
}
