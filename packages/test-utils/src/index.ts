export {
  signInHeadlessly,
  startOidcProvider,
  type OidcProviderHandle,
  type OidcProviderOptions,
  type OidcRequest,
} from './oidc-provider.js';
export { useSandbox } from './sandbox.js';
