// undici-oidc-interceptor ships no types; the part the benchmark uses, from its README.
declare module 'undici-oidc-interceptor' {
  import type { Dispatcher } from 'undici';

  export interface OidcInterceptorOptions {
    idpTokenUrl: string;
    clientId: string;
    clientSecret?: string;
    refreshToken?: string;
    retryOnStatusCodes?: number[];
    /** Origins that get the token. */
    urls: string[];
    accessToken?: string;
  }

  export function createOidcInterceptor(
    options: OidcInterceptorOptions,
  ): Dispatcher.DispatcherComposeInterceptor;
}
