// Command-line entry for Node, Bun and Deno: the config as JSON in the first argument
// (Deno: in AUTHRAIL_SMOKE), the report as JSON on stdout.
import { smoke, type SmokeConfig } from './smoke.js';

const scope = globalThis as {
  process?: { argv: string[] };
  Deno?: { env: { get(name: string): string | undefined } };
};
const raw = scope.Deno?.env.get('AUTHRAIL_SMOKE') ?? scope.process?.argv[2] ?? '';
console.log(JSON.stringify(await smoke(JSON.parse(raw) as SmokeConfig)));
