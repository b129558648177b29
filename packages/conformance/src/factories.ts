// Every public factory with options that work, for the options table and the options
// fuzzer: each builds from valid() and from valid() with one option changed.
import axios from 'axios';
import {
  createApiKeyStrategy,
  createAuthStrategy,
  createStaticTokenStrategy,
  createTabTokenStore,
  createTokenManager,
  queryParamScope,
  type AuthStrategy,
  type TokenSource,
} from '@authrail/core';
import { attachAuth } from '@authrail/axios';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { authrail } from '@authrail/undici';
import { medblocksAuthorizationCode, medblocksClientCredentials } from '@authrail/medblocks';
import { mskApim } from '@authrail/msk-apim';
import {
  authorizationCode,
  clientCredentials,
  clientSecretBasic,
  clientSecretPost,
  privateKeyJwt,
} from '@authrail/oauth2';
import { oktaClientCredentials } from '@authrail/okta';
import { createRedisTokenStore } from '@authrail/redis';
import { Redis } from 'ioredis';

/** Values that must never appear in an error, whatever the option. */
export const SECRETS = ['s3cret-value', 'p4ssw0rd', 'static-token-value'];
export const API = 'https://api.example.org';
const source: TokenSource = {
  identity: { tokenEndpoint: 'https://auth.example.org/token', clientId: 'svc' },
  fetchToken: () => Promise.reject(new Error('not called at construction')),
};
const redisClient = new Redis({ lazyConnect: true });
const strategy: AuthStrategy = createStaticTokenStrategy({ token: 'static-token-value', origins: [API] });

export type Options = Record<string, unknown>;

/** A factory: valid options, and how to build with (changed) options. */
export interface Factory {
  valid: () => Options;
  build: (options: Options) => unknown;
}

export const FACTORIES: Record<string, Factory> = {
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
  createTabTokenStore: { valid: () => ({}), build: (o) => createTabTokenStore(o as never) },
  createRedisTokenStore: {
    // lazyConnect: built, never connected (the store subscribes on first use only).
    valid: () => ({ client: redisClient }),
    build: (o) => createRedisTokenStore(o as never),
  },
  authrail: {
    valid: () => ({ routes: { [API]: strategy } }),
    build: ({ routes, ...o }) => authrail(routes as never, o),
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
