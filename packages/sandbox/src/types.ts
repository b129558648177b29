// Node's types (`Buffer`), for consumers whose TypeScript loads no @types package unless told (TS 7).
/// <reference types="node" preserve="true" />
/**
 * The services the sandbox emulates, as used in filters and client registrations.
 *
 * @example
 * ```ts
 * sandbox.tokenRequests({ service: 'okta' });
 * ```
 */
export type SandboxService =
  /** MSK APIM (OAuth token endpoint and Blaze FHIR). */
  | 'mskApim'
  /** Okta, the authorization server for NCI CTRP. */
  | 'okta'
  /** Medblocks (OAuth token/authorize endpoints and FHIR). */
  | 'medblocks'
  /** A SMART on FHIR server (Backend Services: `private_key_jwt`, system scopes, bulk `$export`). */
  | 'smart';

/**
 * Routes that faults can be injected into and requests are counted by.
 *
 * @example
 * ```ts
 * sandbox.inject('medblocks-fhir', { type: 'unauthorized' }, { times: 1 });
 * sandbox.resourceRequests({ route: 'medblocks-fhir' });
 * ```
 */
export type SandboxRoute =
  /** MSK APIM token endpoint, `/msk-apim/external/msk-oidc/oauth2/token`. */
  | 'msk-token'
  /** Okta token endpoint, `/oauth2/{authServer}/v1/token`. */
  | 'okta-token'
  /** Medblocks token endpoint, `/medblocks/oauth2/token`. */
  | 'medblocks-token'
  /** Medblocks sign-in page, `/medblocks/oauth2/auth` (or `/oauth2/authorize`). */
  | 'medblocks-authorize'
  /** Medblocks device authorization endpoint (RFC 8628), `/medblocks/oauth2/device/auth`. */
  | 'medblocks-device'
  /** MSK Blaze FHIR API, `/msk-apim/external/blaze/fhir` and below. */
  | 'msk-fhir'
  /** NCI CTRP accrual API, `/ctrp/accrual-services/...`. */
  | 'ctrp-accrual'
  /** Medblocks FHIR API, `/medblocks/fhir` and below. */
  | 'medblocks-fhir'
  /** The authenticated echo route, `/echo` and below. */
  | 'echo'
  /** SMART token endpoint, `/smart/auth/token`. */
  | 'smart-token'
  /** SMART FHIR API, `/smart/fhir` and below (bulk export status and files included). */
  | 'smart-fhir';

/**
 * A fault to inject into a route with `sandbox.inject`. Faults are queued per route and
 * consumed in order; each applies `times` times (default: every request). A fault acts
 * before normal handling; `delay` then lets the request through.
 *
 * @example
 * ```ts
 * sandbox.inject('msk-token', { type: 'status', status: 503 }, { times: 1 });
 * sandbox.inject('msk-token', { type: 'rate-limit', retryAfterSeconds: 2 }, { times: 1 });
 * sandbox.inject('okta-token', { type: 'okta-error', status: 400, errorCode: 'E0000021', errorSummary: 'Bad request' });
 * sandbox.inject('echo', { type: 'unauthorized', status: 403, challenge: 'Bearer error="insufficient_scope", scope="a"' });
 * ```
 */
export type Fault =
  /** Answer with this status (e.g. 500, 502, 503) and an optional body. */
  | {
      /** Fault kind. */
      type: 'status';
      /** The HTTP status to answer with. */
      status: number;
      /** The body; default a JSON `server_error`. */
      body?: string;
      /** Its content type; default `application/json`. */
      contentType?: string;
    }
  /**
   * 429 with `Retry-After` in seconds (or as an HTTP date), or with Okta's
   * `X-Rate-Limit-Reset` (epoch seconds) and no `Retry-After`.
   */
  | {
      /** Fault kind. */
      type: 'rate-limit';
      /** The `Retry-After` value, in seconds. */
      retryAfterSeconds: number;
      /** How the wait is said. Default `seconds` (`Retry-After: 120`); `date` sends an HTTP date; `okta-reset` sends only `X-Rate-Limit-Reset`. */
      form?: 'seconds' | 'date' | 'okta-reset';
    }
  /** Wait, then handle the request normally. */
  | {
      /** Fault kind. */
      type: 'delay';
      /** How long to wait, in milliseconds. */
      ms: number;
    }
  /** Never answer (until the sandbox closes). */
  | {
      /** Fault kind. */
      type: 'hang';
    }
  /** Destroy the connection without a response. */
  | {
      /** Fault kind. */
      type: 'reset';
    }
  /** An HTML error page, as a gateway sends. */
  | {
      /** Fault kind. */
      type: 'html';
      /** The status; default 502. */
      status?: number;
    }
  /** 200 `application/json` whose body is not valid JSON. */
  | {
      /** Fault kind. */
      type: 'malformed-json';
    }
  /** 200 JSON token response without `access_token` (token routes). */
  | {
      /** Fault kind. */
      type: 'missing-access-token';
    }
  /**
   * The route's own token response (a real token) with these fields set over it, or
   * removed when `null` (token routes), e.g. `{ expires_in: 0 }`, `{ token_type: 'DPoP' }`,
   * `{ access_token: 'a\u0000b' }`. A request the route refuses is refused as usual.
   */
  | {
      /** Fault kind. */
      type: 'token-response';
      /** Fields set (or, as `null`, left out) in the response. */
      fields: Record<string, unknown>;
    }
  /**
   * 401 `invalid_client` whose description quotes what the client sent: its
   * `Authorization` header and its raw form body (secrets, refresh tokens, codes), as
   * careless servers do. For testing that no error passes them on.
   */
  | {
      /** Fault kind. */
      type: 'echo-credentials';
    }
  /** A body of this many bytes (streamed, never held whole): a huge token response or error page. */
  | {
      /** Fault kind. */
      type: 'huge-body';
      /** Body size in bytes. */
      bytes: number;
      /** The status. Default 200. */
      status?: number;
    }
  /** A small gzip body that expands to `bytes` (a decompression bomb). */
  | {
      /** Fault kind. */
      type: 'gzip-bomb';
      /** Size after decompression, in bytes. */
      bytes: number;
    }
  /** Headers, then a body that never ends (a chunk every few milliseconds until the client leaves). */
  | {
      /** Fault kind. */
      type: 'endless-body';
    }
  /** `Content-Encoding: gzip` headers and the start of a gzip stream, then nothing (until the sandbox closes). */
  | {
      /** Fault kind. */
      type: 'stalled-gzip';
    }
  /**
   * A rejected credential (resource routes): 401 with `WWW-Authenticate: Bearer
   * error="invalid_token"` by default, or another status and challenge, e.g. 403 with
   * `Bearer error="insufficient_scope", scope="patient/*.rs"`.
   */
  | {
      /** Fault kind. */
      type: 'unauthorized';
      /** The status. Default 401. */
      status?: number;
      /** The `WWW-Authenticate` value. Default `Bearer error="invalid_token", …`; `''` sends none. */
      challenge?: string;
    }
  /** An error in Okta's own shape: `{ errorCode, errorSummary, errorLink, errorId, errorCauses }`. */
  | {
      /** Fault kind. */
      type: 'okta-error';
      /** The HTTP status. */
      status: number;
      /** Okta's error code, e.g. `E0000011`. */
      errorCode: string;
      /** Okta's human-readable summary. */
      errorSummary: string;
    };

/**
 * A client registered with one of the emulated services, in `SandboxOptions.clients`.
 *
 * @example
 * ```ts
 * const sandbox = await startSandbox({
 *   clients: [
 *     { service: 'mskApim', clientId: 'etl', clientSecret: 's3cret', researchStudies: ['20-123'] },
 *     { service: 'medblocks', clientId: 'my-spa', redirectUris: ['http://127.0.0.1:5173/callback'] },
 *     { service: 'smart', clientId: 'exporter', jwks: { keys: [publicJwk] }, scopes: ['system/*.rs'] },
 *   ],
 * });
 * ```
 */
export interface SandboxClient {
  /** Which emulated service the client belongs to. */
  service: SandboxService;
  /** The client id. */
  clientId: string;
  /** Absent for a public client (the Medblocks SPA). */
  clientSecret?: string;
  /** MSK: the protocols this client may access. */
  researchStudies?: string[];
  /** Scopes the client may request. */
  scopes?: string[];
  /** Medblocks public client: allowed redirect URIs. Default: any `http://127.0.0.1:*` or `http://localhost:*` URI. */
  redirectUris?: string[];
  /** SMART: the client's public keys (a JWKS), each with its `kid`. */
  jwks?: {
    /** The public keys, each with its `kid`. */
    keys: JsonWebKey[];
  };
  /** SMART: where the client publishes its JWKS; read on each token request. */
  jwksUrl?: string;
  /**
   * Okta, in TLS mode with `tls.ca`: the client authenticates with `tls_client_auth`
   * (RFC 8705 §2.1) instead of a secret. Its certificate must chain to `tls.ca` and carry
   * this DNS subject alternative name; its tokens are bound to that certificate.
   */
  tlsClientAuthSanDns?: string;
}

/**
 * An issuer whose signed JWTs the sandbox's Okta server takes as JWT bearer grants
 * (RFC 7523 §2.1, `urn:ietf:params:oauth:grant-type:jwt-bearer`): a Kubernetes
 * cluster's service-account issuer, a CI provider's OIDC issuer. In
 * `SandboxOptions.trustedIssuers`; {@link demoClients}' `workloadIssuer` is trusted always.
 *
 * @example
 * ```ts
 * const sandbox = await startSandbox({
 *   trustedIssuers: [
 *     { issuer: 'https://token.actions.githubusercontent.com', jwks: { keys: [publicJwk] }, subjects: ['repo:acme/orders:ref:refs/heads/main'] },
 *   ],
 * });
 * ```
 */
export interface SandboxTrustedIssuer {
  /** The `iss` its JWTs carry, compared exactly. */
  issuer: string;
  /** Its public keys (a JWKS), each with its `kid`: RS256, RS384, ES256 or ES384. */
  jwks: {
    /** The public keys, each with its `kid`. */
    keys: JsonWebKey[];
  };
  /** The `sub` values taken from it (as a federated credential names one). Default: any. */
  subjects?: string[];
}

/**
 * Options of `startSandbox`. Every field is optional.
 *
 * @example
 * ```ts
 * const sandbox = await startSandbox({
 *   tokenLifetimeSeconds: { okta: 1800 },
 *   users: [{ username: 'nurse', password: 'nurse' }],
 * });
 * ```
 */
export interface SandboxOptions {
  /** Port of the main listener. Default 0 (any free port). The host is always 127.0.0.1. */
  port?: number;
  /** Access token lifetime in seconds, for all services or per service. Default 3600. */
  tokenLifetimeSeconds?:
    | number
    | {
        /** MSK APIM tokens, seconds. */
        mskApim?: number;
        /** Okta tokens, seconds. */
        okta?: number;
        /** Medblocks tokens, seconds. */
        medblocks?: number;
        /** SMART tokens, seconds. Default 300 when no lifetime for all services is given, as SMART servers issue. */
        smart?: number;
      };
  /** Clients added to the demo clients (same `clientId` replaces). */
  clients?: SandboxClient[];
  /**
   * DPoP (RFC 9449): require the server's nonce in every proof, at the SMART token
   * endpoint and on every API. A proof without it gets `use_dpop_nonce` and a
   * `DPoP-Nonce`; `sandbox.rotateDPoPNonce()` changes it. Default false.
   */
  dpopNonces?: boolean;
  /**
   * The Medblocks device flow (RFC 8628): the `interval` and `expires_in` its device
   * authorization endpoint gives. A client polling faster than the interval gets `slow_down`
   * (and the interval grows by 5 s). Default 5 s and 600 s.
   */
  device?: {
    /** Seconds between polls. Default 5. */
    intervalSeconds?: number;
    /** How long a code lives, seconds. Default 600. */
    expiresInSeconds?: number;
  };
  /**
   * Serve https instead of http, on both listeners, with this server certificate (for
   * 127.0.0.1). With `ca`, mutual TLS (RFC 8705) too: the sandbox asks every connection
   * for a client certificate (optional: clients without one still work), Okta accepts
   * `tls_client_auth` clients (see `SandboxClient.tlsClientAuthSanDns`), and their tokens
   * work only over the certificate they were issued to. Default: plain http.
   */
  tls?: {
    /** The server's private key, PEM. */
    key: string | Buffer;
    /** The server's certificate for 127.0.0.1, PEM. */
    cert: string | Buffer;
    /** The CA client certificates must chain to, PEM: turns mutual TLS on. */
    ca?: string | Buffer;
  };
  /**
   * Issuers the Okta server trusts for the JWT bearer grant (RFC 7523 §2.1), besides the
   * demo `workloadIssuer`. A later entry with the same `issuer` replaces.
   */
  trustedIssuers?: SandboxTrustedIssuer[];
  /** Users of the Medblocks sign-in page. Default `demo` / `demo`. */
  users?: {
    /** Sign-in name. */
    username: string;
    /** Its password. */
    password: string;
  }[];
}

/**
 * One request the sandbox received, in `sandbox.requests` and the counters. `status` is
 * filled in when the response is sent (0 for `hang` and `reset`, or a client that left).
 *
 * @example
 * ```ts
 * const [first] = sandbox.tokenRequests({ service: 'okta' });
 * expect(first).toMatchObject({ clientAuth: 'client_secret_basic', grantType: 'client_credentials', status: 200 });
 * ```
 */
export interface RecordedRequest {
  /** `main`, or `elsewhere` for the second origin. */
  listener:
    /** The main listener (all emulated services). */
    | 'main'
    /** The second origin on another port. */
    | 'elsewhere';
  /** The named route it hit, if any. */
  route?: SandboxRoute;
  /** HTTP method. */
  method: string;
  /** URL path, without the query. */
  path: string;
  /** Query parameters (last value wins). */
  query: Record<string, string>;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  /** The raw request body. */
  body: Buffer;
  /** Status sent, or 0 when there was none (hang, reset). */
  status: number;
  /** The client the request was for (token routes), or whose token it carried (resource routes). */
  clientId?: string;
  /**
   * Resource routes, with a token from token exchange (RFC 8693) or a JWT bearer grant
   * (RFC 7523): whose behalf it acts on. Token routes, for a JWT bearer grant: the
   * assertion's `sub`, once its signature verified.
   */
  subject?: string;
  /** Token routes: the client authentication the request really used. */
  clientAuth?:
    /** Credentials in an HTTP Basic `Authorization` header. */
    | 'client_secret_basic'
    /** `client_secret` in the form body. */
    | 'client_secret_post'
    /** Neither a Basic header nor a `client_secret` (e.g. a public client). */
    | 'none'
    /** A signed client assertion (`client_assertion`, RFC 7523). */
    | 'private_key_jwt'
    /** The client certificate of the connection (RFC 8705 §2.1), in TLS mode. */
    | 'tls_client_auth';
  /** Token routes: the `grant_type` sent. */
  grantType?: string;
  /** TLS mode: the thumbprint (SHA-256 of the DER, base64url) of the client certificate the connection presented. */
  clientCertificate?: string;
  /** When it arrived, epoch ms. */
  time: number;
}

/**
 * Filters for `tokenRequests`, `revokeTokens` and `issuedTokens`; an empty filter
 * matches everything.
 *
 * @example
 * ```ts
 * sandbox.revokeTokens({ clientId: demoClients.okta.clientId });
 * ```
 */
export interface TokenFilter {
  /** Only this service. */
  service?: SandboxService;
  /** Only this client. */
  clientId?: string;
}
