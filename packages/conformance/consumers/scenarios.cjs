// The checks a consumer runs, shared by the CommonJS and the ES module consumer: each
// passes in its own way of loading authrail and the clients. Prints one JSON line.
'use strict';
const { inspect } = require('node:util');
const https = require('node:https');
const fs = require('node:fs');

const env = process.env;
const lookup = (hostname, options, callback) => {
  const done = typeof options === 'function' ? options : callback;
  if (options && options.all) done(null, [{ address: '127.0.0.1', family: 4 }]);
  else done(null, '127.0.0.1', 4);
};

async function outcome(promise) {
  try {
    const value = await promise;
    return { status: value.status };
  } catch (error) {
    return { error };
  }
}

module.exports = async function run({ authrail, axios, ky }) {
  const results = {};
  // The sandbox's own API, and a second one (API) that rejects the first token it sees on each path.
  const msk = (origins = [env.SANDBOX, env.API]) =>
    authrail.mskApim({
      baseUrl: env.MSK_BASE_URL,
      clientId: env.MSK_CLIENT_ID,
      clientSecret: env.MSK_CLIENT_SECRET,
      researchStudy: '17-001',
      origins,
    });
  const leaked = (value, token) =>
    [inspect(value, { depth: 10, showHidden: true }), JSON.stringify(value)].join('\n').includes(token);

  // axios: the parent queued two 401s on the sandbox's echo route, for "always".
  const strategy = msk();
  const client = axios.create();
  authrail.attachAuth(client, strategy);
  const always = await outcome(client.get(`${env.ECHO}/always`));
  const token = (await strategy.tokens.peek()).accessToken;
  results.axiosError = {
    instanceOfOwnAxiosError: always.error instanceof axios.AxiosError,
    isAxiosError: axios.isAxiosError(always.error),
    status: always.error && always.error.response && always.error.response.status,
    leaked: leaked(always.error, token),
  };
  const replay = await outcome(client.get(`${env.API}/replay-axios`));
  results.axiosReplay = {
    status: replay.status ?? String(replay.error),
    tokensDiffer: (await strategy.tokens.peek()).accessToken !== token,
  };

  // axios: an API key header never crosses a redirect to another origin.
  const keyed = axios.create();
  authrail.attachAuth(
    keyed,
    authrail.createApiKeyStrategy({ key: 'consumer-api-key', header: 'X-Key', origins: [env.SANDBOX] }),
  );
  const hopped = await keyed.get(
    `${env.REDIRECT}?to=${encodeURIComponent(`${env.ELSEWHERE}/landed`)}&status=302`,
  );
  results.axiosRedirect = {
    status: hopped.status,
    keyOnOtherOrigin: hopped.data.headers['x-key'] !== undefined,
  };

  // axios: a subdomain of the allowed host is another origin (axios 1.7's follow-redirects kept it).
  const ca = fs.readFileSync(env.TLS_CA, 'utf8');
  const secure = axios.create({ httpsAgent: new https.Agent({ ca, lookup }) });
  authrail.attachAuth(secure, msk([env.TLS_ALLOWED]));
  const sub = await outcome(secure.get(`${env.TLS_ALLOWED}/up`));
  results.axiosSubdomain = { status: sub.status };

  // ky and fetch: a replay, and HTTPError without the token.
  const kyStrategy = msk();
  const api = authrail.createAuthKy(kyStrategy, { ky, retry: 0 });
  const kyReplay = await outcome(api.get(`${env.API}/replay-ky`));
  results.kyReplay = { status: kyReplay.status };
  const kyError = await outcome(api.get(`${env.SANDBOX}/no-such-route`));
  results.kyError = {
    name: kyError.error && kyError.error.name,
    leaked: leaked(kyError.error, (await kyStrategy.tokens.peek()).accessToken),
  };
  const authFetch = authrail.createAuthFetch(msk());
  results.fetchReplay = { status: (await authFetch(`${env.API}/replay-fetch`)).status };
  return results;
};
