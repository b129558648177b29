// Interleaved rounds (A B A B …) in one process run, reported as ratios to the bare
// client: the machines are shared and noisy, so only a ratio measured side by side says
// anything. Wall time and CPU time (process.cpuUsage) per request, median with its 95 %
// confidence interval and min–max.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Sends one request and reads its body. */
type Send = () => Promise<unknown>;

export interface Variant {
  name: string;
  send: Send;
}

interface Sample {
  wallUs: number;
  cpuUs: number;
}

/** A ratio as the reports show it: the median, [its 95 % confidence interval], (min–max). */
export function formatRatio(ratio: Spread): string {
  const f = (n: number) => n.toFixed(3);
  return `${f(ratio.median)} [${f(ratio.low)}–${f(ratio.high)}] (${f(ratio.min)}–${f(ratio.max)})`;
}

export interface Measured {
  name: string;
  /** Median per-request wall and CPU time, µs. */
  median: Sample;
  /** Per round: this variant's time over the baseline's in the same round. */
  wallRatio: Spread;
  cpuRatio: Spread;
}

interface Spread {
  median: number;
  /**
   * The 95 % confidence interval of the median, from the order statistics of the rounds
   * (no assumption about their distribution): a target inside it is neither met nor
   * missed by this run, however the median falls. Narrows with the square root of the
   * number of rounds.
   */
  low: number;
  high: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mid = n >> 1;
  const median = n % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  // Ranks (1-based) of the interval: n/2 ∓ 1.96·√n/2, the normal approximation of the
  // binomial count of rounds below the true median.
  const half = 0.98 * Math.sqrt(n);
  const lowRank = Math.max(1, Math.floor(n / 2 - half));
  const highRank = Math.min(n, Math.ceil(1 + n / 2 + half));
  return {
    median,
    low: sorted[lowRank - 1]!,
    high: sorted[highRank - 1]!,
    min: sorted[0]!,
    max: sorted.at(-1)!,
  };
}

/** Runs `total` requests with `concurrency` in flight; per-request wall and CPU time. */
async function batch(send: Send, total: number, concurrency: number): Promise<Sample> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        await send();
      }
    }),
  );
  const wallUs = Number(process.hrtime.bigint() - started) / 1000 / total;
  const used = process.cpuUsage(cpu);
  return { wallUs, cpuUs: (used.user + used.system) / total };
}

/**
 * Compares each variant with the baseline (the first) in adjacent pairs: every round runs
 * baseline and variant back to back (the order flips each round), so a slow spell of the
 * machine lands on both sides of a ratio. Reports each variant's per-round ratio to its
 * own paired baseline (median, min–max) and the median per-request times.
 */
export async function compare(
  variants: Variant[],
  options: { rounds: number; perRound: number; concurrency: number; warmup: number },
): Promise<Measured[]> {
  const [base, ...others] = variants;
  if (!base) return [];
  for (const variant of variants) await batch(variant.send, options.warmup, options.concurrency);
  const baseSamples: Sample[] = [];
  const pairs = others.map(() => [] as [Sample, Sample][]);
  for (let round = 0; round < options.rounds; round += 1) {
    for (const [i, variant] of others.entries()) {
      const first = round % 2 === 0;
      const a = first ? await batch(base.send, options.perRound, options.concurrency) : undefined;
      const v = await batch(variant.send, options.perRound, options.concurrency);
      const b = a ?? (await batch(base.send, options.perRound, options.concurrency));
      baseSamples.push(b);
      pairs[i]!.push([b, v]);
    }
  }
  const median = (samples: Sample[]): Sample => ({
    wallUs: spread(samples.map((s) => s.wallUs)).median,
    cpuUs: spread(samples.map((s) => s.cpuUs)).median,
  });
  const one: Spread = { median: 1, low: 1, high: 1, min: 1, max: 1 };
  return [
    { name: base.name, median: median(baseSamples), wallRatio: one, cpuRatio: one },
    ...others.map((variant, i) => ({
      name: variant.name,
      median: median(pairs[i]!.map(([, v]) => v)),
      wallRatio: spread(pairs[i]!.map(([b, v]) => v.wallUs / b.wallUs)),
      cpuRatio: spread(pairs[i]!.map(([b, v]) => v.cpuUs / b.cpuUs)),
    })),
  ];
}

/** Nanoseconds per call of a synchronous-or-async function, median of rounds. */
export async function perCall(fn: () => unknown, calls: number, rounds = 7): Promise<number> {
  for (let i = 0; i < calls; i += 1) await fn();
  const times: number[] = [];
  for (let r = 0; r < rounds; r += 1) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i += 1) await fn();
    times.push(Number(process.hrtime.bigint() - started) / calls);
  }
  return spread(times).median;
}

/** Starts the API server in its own process; resolves with its URL and a stop function. */
export async function startServer(): Promise<{ url: string; stop(): void }> {
  const child = fork(fileURLToPath(new URL('./server.mjs', import.meta.url)), [], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('error', reject);
  });
  return { url, stop: () => child.kill() };
}

/**
 * Prints a run's markdown and, unless it was a `--quick` smoke run, writes it with its data
 * (and any other files) to `bench/results/<name>.*`.
 */
export function report(
  name: string,
  markdown: string,
  data: unknown,
  quick: boolean,
  extra: Record<string, string> = {},
): void {
  process.stdout.write(markdown);
  if (quick) return;
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}${name}.md`, markdown);
  writeFileSync(`${dir}${name}.json`, `${JSON.stringify(data, null, 2)}\n`);
  for (const [file, text] of Object.entries(extra)) writeFileSync(`${dir}${file}`, text);
}
