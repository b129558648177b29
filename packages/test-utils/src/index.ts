export {
  signInHeadlessly,
  startOidcProvider,
  type OidcProviderHandle,
  type OidcProviderOptions,
  type OidcRequest,
} from './oidc-provider.js';
export { ACCESS_TOKEN_TYPE, createJwtIssuer, type JwtIssuer, type ResourceServers } from './oidc-grants.js';
export { signInOnSandbox, useSandbox } from './sandbox.js';
export {
  FAST_RETRY,
  TOKEN_FAULT_CASES,
  expectTokenFault,
  type FaultOutcome,
  type TokenFaultCase,
} from './token-faults.js';
export { sendThrough } from './transport.js';
export {
  TEST_CA,
  answer,
  fetchTransport,
  redirectTo,
  rejectFirstCredential,
  request,
  testLookup,
  useOrigins,
  type FetchHop,
  type Origins,
  type Route,
  type Seen,
} from './origins.js';
export { SECRET, fakeSource, manualClock, settle, type FakeSource, type Step } from './fake-source.js';
export { launchChromium } from './chromium.js';
export { runChild, spawnTs, type ChildRun } from './child-process.js';
export {
  startRedis,
  startRedisCluster,
  startRedisSentinel,
  type RedisCluster,
  type RedisSentinel,
  type RedisServer,
} from './redis.js';
export {
  CLIENT_SAN,
  createTestPki,
  jwkOfCertificate,
  startBoundResourceServer,
  thumbprintOf,
  type BoundResourceServer,
  type TestCertificate,
  type TestPki,
} from './tls.js';
