// The axios adapter outside Node: the same smoke through axios (its Node http adapter) and
// `attachAuth`, for Bun. The config as JSON in the first argument, the report on stdout.
import axios from 'axios';
import { attachAuth } from '@authrail/axios';
import { smokeStrategies, type SmokeConfig, type SmokeReport } from './smoke.js';

async function smokeAxios(config: SmokeConfig): Promise<SmokeReport> {
  const strategies = smokeStrategies(config);
  const slow = axios.create();
  attachAuth(slow, strategies.slow);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const abort = await slow.get(`${config.echo}/aborted`, { signal: controller.signal }).then(
    () => 'not aborted',
    (error: unknown) =>
      (error as { name?: string }).name === 'CanceledError' ? 'AbortError' : String(error),
  );

  const api = axios.create();
  attachAuth(api, strategies.msk);
  const cold = await Promise.all(
    Array.from({ length: 5 }, async () => (await api.get(`${config.mskFhirBaseUrl}/Patient`)).status),
  );
  const replay = (await api.get(`${config.echo}/replayed`)).status;
  const there = (await api.get<{ headers: Record<string, string> }>(`${config.elsewhere}/direct`)).data;
  const via = `${config.redirect}?to=${encodeURIComponent(`${config.elsewhere}/landing`)}&status=302`;
  const redirected = await api.get<{ headers: Record<string, string> }>(via);
  return {
    abort,
    cold,
    replay,
    elsewhere: there.headers.authorization ?? null,
    redirected: redirected.data.headers.authorization ?? null,
    redirectStatus: redirected.status,
  };
}

const argv = (globalThis as { process?: { argv: string[] } }).process?.argv ?? [];
console.log(JSON.stringify(await smokeAxios(JSON.parse(argv[2] ?? '') as SmokeConfig)));
