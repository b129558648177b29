// The options table: every option of every public factory, each given a value that is
// wrong in the way users get it wrong (a string for an object, a typo, a path where an
// origin goes, a URL with a password). Each must fail at construction with a ConfigError
// that names the option, and never quote a secret.
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { ConfigError, createMemoryTokenStore } from '@authrail/core';
import { none } from '@authrail/oauth2';
import { API, FACTORIES, SECRETS, type Options } from './factories.js';
import ky from 'ky';

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
  [factory, 'policies', {}],
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
  [factory, 'store', { get() {}, set() {}, delete() {}, singleFlight: 'yes' }],
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

/** Every options object is checked whole: not an object, or a key it does not take (a typo, a removed option). */
const wholeRows = (factory: string): Row[] => [
  [factory, 'options', null],
  [factory, 'options', 'options'],
  [factory, 'timeoutMs', 5_000],
  [factory, 'orign', 'https://api.example.org'],
];

const ROWS: Row[] = [
  ...[
    'createTabTokenStore',
    'createAuthStrategy',
    'createStaticTokenStrategy',
    'createApiKeyStrategy',
    'createTokenManager',
    'queryParamScope',
    'clientCredentials',
    'authorizationCode',
    'mskApim',
    'oktaClientCredentials',
    'medblocksClientCredentials',
    'medblocksAuthorizationCode',
  ].flatMap(wholeRows),
  // (its options are the second argument: the table's `options` rows cannot say null there)
  ...wholeRows('createAuthFetch').filter(([, path]) => path !== 'options'),
  ['createApiKeyStrategy', 'header', 42],
  ['mskApim', 'scopes', ['full']],
  ['createAuthStrategy', 'origin', 'https://api.example.org'],
  ['createTabTokenStore', 'name', ''],
  ['createTabTokenStore', 'name', 42],
  ['createTabTokenStore', 'askMs', -1],
  ['createTabTokenStore', 'askMs', '100'],
  ['createRedisTokenStore', 'options', undefined],
  ...wholeRows('createRedisTokenStore'),
  ['createRedisTokenStore', 'client', {}],
  ['createRedisTokenStore', 'client', 'redis://127.0.0.1:6379'],
  ['createRedisTokenStore', 'prefix', 'a{b}'],
  ['createRedisTokenStore', 'prefix', ''],
  ['createRedisTokenStore', 'leaseMs', 0],
  ['createRedisTokenStore', 'commandTimeoutMs', 2 ** 31],
  ['createRedisTokenStore', 'pollMs', 'fast'],
  ['createRedisTokenStore', 'failureHoldMs', -5],
  ['createRedisTokenStore', 'refreshTokenTtlMs', Number.NaN],
  ['createRedisTokenStore', 'defaultTtlMs', Infinity],
  ['createRedisTokenStore', 'encryption', 'p4ssw0rd'],
  ['createRedisTokenStore', 'encryption', { current: 'a', keys: { a: 'p4ssw0rd' } }],
  ['createRedisTokenStore', 'encryption', { current: 'b', keys: { a: Buffer.alloc(32).toString('base64') } }],
  ['createRedisTokenStore', 'logger', 'console'],
  ['createRedisTokenStore', 'on', { expired: () => undefined }],
  ['createRedisTokenStore', 'on', 'degraded'],
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
  ['authrail', 'routes', API, 'routes'],
  ['authrail', 'routes', {}, 'routes'],
  ['authrail', 'routes', { [`${API}/fhir`]: {} }, 'routes'],
  ['authrail', 'routes', { 'https://user:p4ssw0rd@api.example.org': {} }, 'routes'],
  ['authrail', 'routes', { [API]: 'static-token-value' }, 'routes'],
  ['authrail', 'bufferBodiesUpTo', -1],
  ['authrail', 'bufferBodiesUpTo', '1mb'],
  ['authrail', 'logger', 'console'],
  ['authrail', 'logger', { debug: 'yes' }],
  ['authrail', 'followRedirects', true],
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

  test('a removed option, or one users reach for by habit, says what to use instead', () => {
    const said = (factory: string, key: string) =>
      (errorOf(() => FACTORIES[factory]!.build({ ...FACTORIES[factory]!.valid(), [key]: 1 })) as Error)
        .message;
    expect(said('createAuthStrategy', 'timeoutMs')).toBe(
      'timeoutMs: is not an option (any more): use retry.attemptTimeoutMs',
    );
    expect(said('createAuthStrategy', 'origin')).toContain(
      "use origins: ['https://api.example.org'] (a list)",
    );
    expect(said('mskApim', 'scopes')).toContain("use scope: 'a b' (one space-separated string)");
    expect(said('oktaClientCredentials', 'issuers')).toMatch(
      /^issuers: is not an option; the options are .*issuer/,
    );
  });

  test('the table covers every factory', () => {
    expect(new Set(ROWS.map((r) => r[0]))).toEqual(new Set(Object.keys(FACTORIES)));
  });
});
