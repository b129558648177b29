// The options table: every option of every public factory, each given a value that is
// wrong in the way users get it wrong (a string for an object, a typo, a path where an
// origin goes, a URL with a password). Each must fail at construction with a ConfigError
// that names the option, and never quote a secret.
import { inspect } from 'node:util';
import axios from 'axios';
import ky from 'ky';
import { describe, expect, test } from 'vitest';
import {
  ConfigError,
  createApiKeyStrategy,
  createAuthStrategy,
  createMemoryTokenStore,
  createStaticTokenStrategy,
  createTokenManager,
  queryParamScope,
  type AuthStrategy,
  type TokenSource,
} from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { medblocksAuthorizationCode, medblocksClientCredentials } from '@authrail/medblocks';
import { mskApim } from '@authrail/msk-apim';
import {
  authorizationCode,
  clientCredentials,
  clientSecretBasic,
  clientSecretPost,
  none,
  privateKeyJwt,
} from '@authrail/oauth2';
import { oktaClientCredentials } from '@authrail/okta';

/** Values that must never appear in an error, whatever the option. */
const SECRETS = ['s3cret-value', 'p4ssw0rd', 'static-token-value'];
const API = 'https://api.example.org';
const source: TokenSource = {
  identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'svc' },
  fetchToken: () => Promise.reject(new Error('not called at construction')),
};
const strategy: AuthStrategy = createStaticTokenStrategy({ token: 'static-token-value', origins: [API] });

type Options = Record<string, unknown>;

/** A factory: valid options, and how to build with (changed) options. */
interface Factory {
  valid: () => Options;
  build: (options: Options) => unknown;
}

const FACTORIES: Record<string, Factory> = {
  createAuthStrategy: {
    valid: () => ({ source, origins: [API] }),
    build: (o) => createAuthStrategy(o as never),
  },
  createStaticTokenStrategy: {
    valid: () => ({ token: 'static-token-value', origins: [API] }),
    build: (o) => createStaticTokenStrategy(o as never),
  },
  createApiKeyStrategy: {
    valid: () => ({ key: 's3cret-value', origins: [API] }),
    build: (o) => createApiKeyStrategy(o as never),
  },
  createTokenManager: { valid: () => ({ source }), build: (o) => createTokenManager(o as never) },
  queryParamScope: { valid: () => ({ param: 'researchstudy' }), build: (o) => queryParamScope(o as never) },
  clientCredentials: {
    valid: () => ({
      server: { issuer: 'https://auth.example.org', tokenEndpoint: 'https://auth.example.org/token' },
      clientId: 'svc',
      clientAuth: clientSecretPost('s3cret-value'),
    }),
    build: (o) => clientCredentials(o as never),
  },
  authorizationCode: {
    valid: () => ({
      server: {
        issuer: 'https://auth.example.org',
        tokenEndpoint: 'https://auth.example.org/token',
        authorizationEndpoint: 'https://auth.example.org/authorize',
      },
      clientId: 'spa',
      redirectUri: 'https://app.example.org/callback',
    }),
    build: (o) => authorizationCode(o as never),
  },
  clientSecretPost: {
    valid: () => ({ secret: 's3cret-value' }),
    build: (o) => clientSecretPost(o.secret as never),
  },
  clientSecretBasic: {
    valid: () => ({ secret: 's3cret-value' }),
    build: (o) => clientSecretBasic(o.secret as never),
  },
  privateKeyJwt: { valid: () => ({ key: () => undefined }), build: (o) => privateKeyJwt(o.key as never) },
  mskApim: {
    valid: () => ({
      baseUrl: 'https://apim.mskcc.org',
      clientId: 'svc',
      clientSecret: 's3cret-value',
      researchStudy: '17-001',
    }),
    build: (o) => mskApim(o as never),
  },
  'mskApim().withResearchStudy': {
    valid: () => ({ researchStudy: '20-123' }),
    build: (o) =>
      mskApim({
        baseUrl: 'https://apim.mskcc.org',
        clientId: 'svc',
        clientSecret: 's3cret-value',
      }).withResearchStudy(o.researchStudy as never),
  },
  oktaClientCredentials: {
    valid: () => ({
      issuer: 'https://nci.okta.com/oauth2/default',
      clientId: 'svc',
      clientSecret: 's3cret-value',
      origins: [API],
    }),
    build: (o) => oktaClientCredentials(o as never),
  },
  medblocksClientCredentials: {
    valid: () => ({ baseUrl: 'https://api.medblocks.com', clientId: 'svc', clientSecret: 's3cret-value' }),
    build: (o) => medblocksClientCredentials(o as never),
  },
  medblocksAuthorizationCode: {
    valid: () => ({
      baseUrl: 'https://api.medblocks.com',
      clientId: 'spa',
      redirectUri: 'https://app.example.org/callback',
    }),
    build: (o) => medblocksAuthorizationCode(o as never),
  },
  createAuthFetch: {
    valid: () => ({ strategy }),
    build: ({ strategy: s, ...o }) => createAuthFetch(s as never, o as never),
  },
  createAuthKy: {
    valid: () => ({ strategy }),
    build: ({ strategy: s, ...o }) => createAuthKy(s as never, o as never),
  },
  attachAuth: {
    valid: () => ({ instance: axios.create(), strategy }),
    build: (o) => {
      const detach = attachAuth(o.instance as never, o.strategy as never);
      detach();
      return detach;
    },
  },
};

/** [factory, option path, wrong value, option the error must name (default: the path)]. */
type Row = [factory: string, path: string, value: unknown, option?: string];

/** What every strategy factory takes (StrategyOptions). */
const strategyRows = (factory: string, withOrigins = true): Row[] => [
  ...(withOrigins
    ? ([
        [factory, 'origins', API, 'origins'],
        [factory, 'origins', [`${API}/fhir`], 'origins'],
        [factory, 'origins', ['http://api.example.org'], 'origins'],
        [factory, 'origins', [`https://user:p4ssw0rd@api.example.org`], 'origins'],
      ] as Row[])
    : []),
  [factory, 'policies', 'researchstudy'],
  [factory, 'policies', [42]],
  [factory, 'rejectWhen', 'sometimes'],
  [factory, 'logger', 'console'],
  [factory, 'logger', {}],
  [factory, 'logger', { warn: 'yes' }],
  [factory, 'on', 'events'],
  [factory, 'on', { tokenFetch: () => undefined }, 'on.tokenFetch'],
  [factory, 'on', { error: 'log' }, 'on.error'],
];

/** What every factory with a token manager takes (TokenOptions). */
const tokenRows = (factory: string): Row[] => [
  [factory, 'store', {}],
  [factory, 'store', 'redis'],
  [factory, 'refresh', '60s'],
  [factory, 'refresh', { skewMs: -1 }, 'refresh.skewMs'],
  [factory, 'refresh', { skew: 5 }, 'refresh.skew'],
  [factory, 'retry', 'three times'],
  [factory, 'retry', { maxAttempts: 0 }, 'retry.maxAttempts'],
  [factory, 'retry', { attemptTimeoutMs: 2 ** 31 }, 'retry.attemptTimeoutMs'],
  [factory, 'retry', { baseDelayMs: Number.NaN }, 'retry.baseDelayMs'],
  [factory, 'retry', { failureCooldownMs: -5 }, 'retry.failureCooldownMs'],
  [factory, 'retry', { maxAttempt: 5 }, 'retry.maxAttempt'],
];

/** What every grant and preset on one takes (GrantOptions). */
const grantRows = (factory: string): Row[] => [
  [factory, 'fetch', 'fetch'],
  [factory, 'maxResponseBytes', 0],
  [factory, 'maxResponseBytes', '1MB'],
];

/** Options of presets on a confidential client (ClientSecretPresetOptions). */
const presetRows = (factory: string): Row[] => [
  ...strategyRows(factory),
  ...tokenRows(factory),
  ...grantRows(factory),
  [factory, 'clientId', ''],
  [factory, 'clientId', 42],
];

const secret = (factory: string): Row[] => [
  [factory, 'clientSecret', ''],
  [factory, 'clientSecret', 42],
  [factory, 'clientSecret', 'bad\ud800s3cret-value'],
];

const ROWS: Row[] = [
  ['createAuthStrategy', 'options', undefined],
  ...strategyRows('createAuthStrategy'),
  ...tokenRows('createAuthStrategy'),
  ['createAuthStrategy', 'source', undefined],
  ['createAuthStrategy', 'source', {}],
  ['createAuthStrategy', 'credential', 'bearer'],
  ['createAuthStrategy', 'tokens', {}],

  ...strategyRows('createStaticTokenStrategy'),
  ['createStaticTokenStrategy', 'token', ''],
  ['createStaticTokenStrategy', 'token', 'two words'],
  ['createStaticTokenStrategy', 'token', 'static-token-value\u0000'],
  ['createStaticTokenStrategy', 'token', 'stätic-token-value'],
  ['createStaticTokenStrategy', 'tokenType', 'DPoP'],

  ...strategyRows('createApiKeyStrategy'),
  ['createApiKeyStrategy', 'key', 42],
  ['createApiKeyStrategy', 'key', 's3cret-value\r\nX-Injected: 1'],
  ['createApiKeyStrategy', 'key', 'ş3cret-value'],
  ['createApiKeyStrategy', 'header', 'bad header'],
  ['createApiKeyStrategy', 'query', ''],

  ...tokenRows('createTokenManager'),
  ['createTokenManager', 'source', { fetchToken: 'x' }],
  ['createTokenManager', 'now', 'Date.now'],
  ['createTokenManager', 'random', 4],
  ['createTokenManager', 'logger', 'console'],
  ['createTokenManager', 'on', { refreshed: () => undefined }, 'on.refreshed'],

  ['queryParamScope', 'param', ''],
  ['queryParamScope', 'value', 17001],
  ['queryParamScope', 'required', 'yes'],

  ...grantRows('clientCredentials'),
  ['clientCredentials', 'options', undefined],
  ['clientCredentials', 'server', undefined],
  [
    'clientCredentials',
    'server',
    { issuer: 'not a url', tokenEndpoint: 'https://a.example/token' },
    'server.issuer',
  ],
  [
    'clientCredentials',
    'server',
    { issuer: 'https://a.example', tokenEndpoint: 'http://a.example/token' },
    'server.tokenEndpoint',
  ],
  [
    'clientCredentials',
    'server',
    { issuer: 'https://a.example', tokenEndpoint: 'https://u:p4ssw0rd@a.example/token' },
    'server.tokenEndpoint',
  ],
  ['clientCredentials', 'server', { issuer: 'https://a.example', tokenEndpoint: 42 }, 'server.tokenEndpoint'],
  [
    'clientCredentials',
    'server',
    { issuer: 'https://a.example', discovery: true, algorithm: 'saml' },
    'server.algorithm',
  ],
  ['clientCredentials', 'clientId', ''],
  ['clientCredentials', 'clientAuth', 's3cret-value'],
  ['clientCredentials', 'clientAuth', none()],
  ['clientCredentials', 'scope', ['a', 'b']],
  ['clientCredentials', 'resource', 42],
  ['clientCredentials', 'resource', 'https://api.example.org/#x'],
  ['clientCredentials', 'parameters', 'x=1'],
  ['clientCredentials', 'parameters', { audience: 42 }],
  ['clientCredentials', 'parameters', { grant_type: 'password' }],

  ...grantRows('authorizationCode'),
  [
    'authorizationCode',
    'server',
    { issuer: 'https://a.example', tokenEndpoint: 'https://a.example/token' },
    'server.authorizationEndpoint',
  ],
  ['authorizationCode', 'redirectUri', 'https://app.example.org/callback#done'],
  ['authorizationCode', 'redirectUri', 'http://app.example.org/callback'],
  ['authorizationCode', 'redirectUri', 'callback'],
  ['authorizationCode', 'clientAuth', 'none'],
  ['authorizationCode', 'storage', {}],
  ['authorizationCode', 'storage', 'sessionStorage'],
  ['authorizationCode', 'storageKey', 42],
  ['authorizationCode', 'session', ''],
  ['authorizationCode', 'session', 7],

  ['clientSecretPost', 'secret', '', 'clientSecret'],
  ['clientSecretPost', 'secret', 42, 'clientSecret'],
  ['clientSecretBasic', 'secret', 'lone\udc00s3cret-value', 'clientSecret'],
  ['privateKeyJwt', 'key', '-----BEGIN PRIVATE KEY-----', 'privateKey'],

  ...presetRows('mskApim'),
  ...secret('mskApim'),
  ['mskApim', 'options', undefined],
  ['mskApim', 'baseUrl', undefined],
  ['mskApim', 'baseUrl', 'https://apim.mskcc.org/?x=1'],
  ['mskApim', 'baseUrl', 'https://svc:p4ssw0rd@apim.mskcc.org'],
  ['mskApim', 'baseUrl', 'http://apim.mskcc.org'],
  ['mskApim', 'researchStudy', ''],
  ['mskApim', 'researchStudy', 17001],
  ['mskApim', 'tokenPath', 'oauth2/token'],
  ['mskApim', 'scope', 42],
  ['mskApim().withResearchStudy', 'researchStudy', ''],
  ['mskApim().withResearchStudy', 'researchStudy', undefined],

  ...presetRows('oktaClientCredentials'),
  ...secret('oktaClientCredentials'),
  ['oktaClientCredentials', 'issuer', 'nci.okta.com'],
  ['oktaClientCredentials', 'issuer', 'http://nci.okta.com/oauth2/default'],
  ['oktaClientCredentials', 'scope', 42],

  ...presetRows('medblocksClientCredentials'),
  ...secret('medblocksClientCredentials'),
  ['medblocksClientCredentials', 'baseUrl', 'https://api.medblocks.com#x'],
  ['medblocksClientCredentials', 'scope', 42],

  ...presetRows('medblocksAuthorizationCode'),
  ['medblocksAuthorizationCode', 'redirectUri', 'https://app.example.org/callback#x'],
  ['medblocksAuthorizationCode', 'authorizePath', 'oauth2/auth'],
  ['medblocksAuthorizationCode', 'revocationPath', 42],
  ['medblocksAuthorizationCode', 'storage', { getItem: () => null }],
  ['medblocksAuthorizationCode', 'session', ''],
  ['medblocksAuthorizationCode', 'store', createMemoryTokenStore(), 'session'],
  ['medblocksAuthorizationCode', 'scope', ['openid']],

  ['createAuthFetch', 'strategy', {}],
  ['createAuthFetch', 'fetch', 'fetch'],
  ['createAuthFetch', 'redirects', 'follow'],
  ['createAuthFetch', 'isOneShot', true],
  ['createAuthKy', 'strategy', undefined],
  ['createAuthKy', 'ky', {}],
  ['createAuthKy', 'fetch', 'fetch'],
  ['attachAuth', 'instance', ky],
  ['attachAuth', 'strategy', {}],
];

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('the options table (issue 9 #10)', () => {
  test('every factory builds with its valid options (the table starts from working ones)', () => {
    for (const [name, factory] of Object.entries(FACTORIES)) {
      expect(
        errorOf(() => factory.build(factory.valid())),
        name,
      ).toBeUndefined();
    }
  });

  test.each(
    ROWS.map((row) => [`${row[0]} ${row[1]}: ${inspect(row[2], { breakLength: Infinity })}`, row] as const),
  )('%s', (_name, [factory, path, value, option = path]) => {
    const { valid, build } = FACTORIES[factory]!;
    const options = path === 'options' ? value : { ...valid(), [path]: value };
    const error = errorOf(() => build(options as Options));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(option);
    expect((error as Error).message.startsWith(`${option}: `)).toBe(true);
    const text = [
      (error as Error).message,
      (error as Error).stack,
      JSON.stringify(error),
      inspect(error, { depth: 8, showHidden: true }),
    ].join('\n');
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  test('the table covers every factory', () => {
    expect(new Set(ROWS.map((r) => r[0]))).toEqual(new Set(Object.keys(FACTORIES)));
  });
});
