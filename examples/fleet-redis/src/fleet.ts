// Starts N worker processes at once and waits for them: the fleet.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface FleetOptions {
  workers: number;
  requests: number;
  /** Where the workers share tokens; without it each keeps its own (the memory store). */
  redisUrl?: string;
  /** The MSK APIM the workers call. */
  msk: { baseUrl: string; clientId: string; clientSecret: string; researchStudy: string };
}

/** Runs the fleet; resolves with the requests that succeeded. */
export async function runFleet(options: FleetOptions): Promise<{ ok: number }> {
  const worker = fileURLToPath(new URL('./worker.ts', import.meta.url));
  const runs = Array.from(
    { length: options.workers },
    () =>
      new Promise<number>((resolve, reject) => {
        let ok = 0;
        const child = fork(worker, [], {
          execArgv: ['--conditions=@authrail/source', '--import', import.meta.resolve('tsx')],
          env: {
            ...process.env,
            MSK_APIM_BASE_URL: options.msk.baseUrl,
            MSK_CLIENT_ID: options.msk.clientId,
            MSK_CLIENT_SECRET: options.msk.clientSecret,
            MSK_RESEARCH_STUDY: options.msk.researchStudy,
            REQUESTS: String(options.requests),
            ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : { REDIS_URL: '' }),
          },
        });
        child.on('message', (message: { ok: number }) => (ok = message.ok));
        child.once('error', reject);
        child.once('exit', (code) =>
          code === 0 ? resolve(ok) : reject(new Error(`a worker exited with ${code}`)),
        );
      }),
  );
  const oks = await Promise.all(runs);
  return { ok: oks.reduce((a, b) => a + b, 0) };
}
