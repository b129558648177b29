export {
  signInHeadlessly,
  startOidcProvider,
  type OidcProviderHandle,
  type OidcProviderOptions,
  type OidcRequest,
} from './oidc-provider.js';
export { useSandbox } from './sandbox.js';
export { FAST_RETRY, TOKEN_FAULT_CASES, type FaultOutcome, type TokenFaultCase } from './token-faults.js';
