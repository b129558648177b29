// One variant of the instruction count (`pnpm bench:instructions`): sends N requests through
// one client with a transport that answers at once, then exits. Run under valgrind by
// instructions.ts, twice (N and N + 10,000): the difference is the instructions per request.
//
//   node instructions-child.mjs <variant> <requests>
import axios from 'axios';
import ky from 'ky';
import { MockAgent, request } from 'undici';
import { attachAuth } from '@authrail/axios';
import { createAuthStrategy, createToken } from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { authrail } from '@authrail/undici';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.bench-access-token-with-a-realistic-length.signature-0123456789';
const STATIC = `Bearer ${TOKEN}`;
const origin = 'http://127.0.0.1:3000';
const url = `${origin}/fhir/Patient`;
const strategy = createAuthStrategy({
  source: {
    identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'bench' },
    fetchToken: () => Promise.resolve(createToken({ accessToken: TOKEN, expiresIn: 24 * 3600 })),
  },
  origins: [origin],
});
const BODY = '{"resourceType":"Bundle"}';
// What fetch does with its arguments before the wire (a Request), then an answer at once.
const answer = (input, init) => {
  new Request(input, init);
  return Promise.resolve(new Response(BODY, { status: 200 }));
};
const canned = (config) =>
  Promise.resolve({ data: '{}', status: 200, statusText: 'OK', headers: {}, config, request: {} });

const authFetch = createAuthFetch(strategy, { fetch: answer });
const bareKy = ky.create({ fetch: answer, retry: 0, headers: { authorization: STATIC } });
const authKy = createAuthKy(strategy, { ky, fetch: answer, retry: 0 });
const bareAxios = axios.create({ adapter: canned, headers: { authorization: STATIC } });
const authAxios = axios.create({ adapter: canned });
attachAuth(authAxios, strategy);
// undici: a MockAgent answers every request at once (no socket); the interceptor composed over it.
const mock = new MockAgent();
mock.disableNetConnect();
mock.get(origin).intercept({ path: '/fhir/Patient' }).reply(200, BODY).persist();
const authMock = mock.compose(authrail({ [origin]: strategy }));

const variants = {
  'fetch bare': () => answer(url, { headers: { authorization: STATIC } }).then((r) => r.text()),
  'fetch authrail': () => authFetch(url).then((r) => r.text()),
  'ky bare': () => bareKy.get(url).text(),
  'ky authrail': () => authKy.get(url).text(),
  'axios bare': () => bareAxios.get(url),
  'axios authrail': () => authAxios.get(url),
  'undici bare': () =>
    request(url, { dispatcher: mock, headers: { authorization: STATIC } }).then((r) => r.body.text()),
  'undici authrail': () => request(url, { dispatcher: authMock }).then((r) => r.body.text()),
};

const [variant, count] = process.argv.slice(2);
const send = variants[variant];
if (!send) throw new Error(`no variant "${variant}"; one of: ${Object.keys(variants).join(', ')}`);
for (let i = 0; i < Number(count); i += 1) await send();
