// What the browser page runs: the fetch and axios adapters in a real browser, which
// follows redirects out of sight. Each scenario reports what happened; the test reads
// what each server received.
import axios from 'axios';
import { createApiKeyStrategy, createAuthStrategy, createToken, type AuthStrategy } from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { createAuthFetch } from '@authrail/fetch';

interface Outcome {
  status?: number;
  error?: string;
}

async function outcome(run: () => Promise<{ status: number }>): Promise<Outcome> {
  try {
    return { status: (await run()).status };
  } catch (error) {
    return { error: (error as Error).name };
  }
}

function strategies(api: string): Record<string, () => AuthStrategy> {
  let issued = 0;
  return {
    bearer: () =>
      createAuthStrategy({
        source: {
          identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'browser' },
          fetchToken: () =>
            Promise.resolve(createToken({ accessToken: `browser-token-${(issued += 1)}`, expiresIn: 3600 })),
        },
        origins: [api],
      }),
    apiKey: () => createApiKeyStrategy({ key: 'browser-api-key', header: 'X-Api-Key', origins: [api] }),
  };
}

async function run(api: string, other: string): Promise<Record<string, Outcome>> {
  const make = strategies(api);
  const away = `${api}/go?to=${encodeURIComponent(`${other}/landed`)}`;
  const results: Record<string, Outcome> = {};
  results.fetchBearer = await outcome(() => createAuthFetch(make.bearer!())(away));
  results.fetchApiKey = await outcome(() => createAuthFetch(make.apiKey!())(away));
  results.fetchReplay = await outcome(() => createAuthFetch(make.bearer!())(`${api}/reject-first`));
  const xhrBearer = axios.create({ adapter: 'xhr' });
  attachAuth(xhrBearer, make.bearer!());
  results.xhrBearer = await outcome(() => xhrBearer.get(away));
  const xhrApiKey = axios.create({ adapter: 'xhr' });
  attachAuth(xhrApiKey, make.apiKey!());
  results.xhrApiKey = await outcome(() => xhrApiKey.get(away));
  return results;
}

(globalThis as { runScenarios?: typeof run }).runScenarios = run;
