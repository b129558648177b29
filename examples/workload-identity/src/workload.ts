// A workload with no secret of its own: the platform (kubelet, a CI runner) writes a
// short-lived signed JWT to a file and replaces it before it expires. The client reads
// that file for its token requests, as its client assertion
// (`clientAssertion(assertionFromFile(path))`) or as the grant itself
// (`jwtBearer({ assertion: assertionFromFile(path) })`): a replaced file is used on the
// next token request, and an assertion past its exp is never sent.
import type { AuthEvents } from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthStrategy, type TokenAuthStrategy } from '@authrail/core';
import { assertionFromFile, clientAssertion, clientCredentials, jwtBearer } from '@authrail/oauth2';

export interface WorkloadConfig {
  issuer: string;
  tokenEndpoint: string;
  clientId: string;
  /** The file the platform keeps the assertion in, e.g. `/var/run/secrets/tokens/authrail`. */
  assertionFile: string;
  scope: string;
  /** The API's origin: only it gets the token. */
  apiOrigin: string;
}

/** The workload's authenticated fetch, and its strategy (for `tokens`). */
export function workloadFetch(
  config: WorkloadConfig,
  on: AuthEvents = {},
): { api: typeof fetch; strategy: TokenAuthStrategy } {
  const strategy = createAuthStrategy({
    source: clientCredentials({
      server: { issuer: config.issuer, tokenEndpoint: config.tokenEndpoint },
      clientId: config.clientId,
      clientAuth: clientAssertion(assertionFromFile(config.assertionFile)),
      scope: config.scope,
    }),
    origins: [config.apiOrigin],
    on,
  });
  return { api: createAuthFetch(strategy), strategy };
}

export interface FederatedConfig {
  /** The authorization server that trusts the platform's issuer (discovered). */
  issuer: string;
  clientId: string;
  /** The file the platform keeps its service-account token in. */
  assertionFile: string;
  scope: string;
  /** The API's origin: only it gets the token. */
  apiOrigin: string;
}

/**
 * The same workload without a client assertion: the platform's token itself is traded for
 * an access token (the JWT bearer grant, RFC 7523 §2.1), as Entra ID, Google and Okta
 * federate Kubernetes and CI workloads. The assertion is the credential: no client auth.
 */
export function federatedFetch(
  config: FederatedConfig,
  on: AuthEvents = {},
): { api: typeof fetch; strategy: TokenAuthStrategy } {
  const strategy = createAuthStrategy({
    source: jwtBearer({
      server: { issuer: config.issuer, discovery: true },
      clientId: config.clientId,
      assertion: assertionFromFile(config.assertionFile),
      scope: config.scope,
    }),
    origins: [config.apiOrigin],
    on,
  });
  return { api: createAuthFetch(strategy), strategy };
}
