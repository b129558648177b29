/** The services the sandbox emulates. */
export type SandboxService = 'mskApim' | 'okta' | 'medblocks';

/** Routes that faults can be injected into and requests are counted by. */
export type SandboxRoute =
  | 'msk-token'
  | 'okta-token'
  | 'medblocks-token'
  | 'medblocks-authorize'
  | 'msk-fhir'
  | 'ctrp-accrual'
  | 'medblocks-fhir'
  | 'echo';

/**
 * A fault to inject into a route. Faults are queued per route and consumed in order;
 * each applies `times` times (default: every request).
 */
export type Fault =
  /** Answer with this status (e.g. 500, 502, 503) and an optional body. */
  | { type: 'status'; status: number; body?: string; contentType?: string }
  /** 429 with `Retry-After` in seconds. */
  | { type: 'rate-limit'; retryAfterSeconds: number }
  /** Wait, then handle the request normally. */
  | { type: 'delay'; ms: number }
  /** Never answer (until the sandbox closes). */
  | { type: 'hang' }
  /** Destroy the connection without a response. */
  | { type: 'reset' }
  /** An HTML error page, as a gateway sends (default status 502). */
  | { type: 'html'; status?: number }
  /** 200 `application/json` whose body is not valid JSON. */
  | { type: 'malformed-json' }
  /** 200 JSON token response without `access_token` (token routes). */
  | { type: 'missing-access-token' }
  /** 401 with `WWW-Authenticate: Bearer error="invalid_token"` (resource routes). */
  | { type: 'unauthorized' }
  /** An error in Okta's own shape: `{ errorCode, errorSummary, errorLink, errorId, errorCauses }`. */
  | { type: 'okta-error'; status: number; errorCode: string; errorSummary: string };

/** A client registered with one of the emulated services. */
export interface SandboxClient {
  service: SandboxService;
  clientId: string;
  /** Absent for a public client (the Medblocks SPA). */
  clientSecret?: string;
  /** MSK: the protocols this client may access. */
  researchStudies?: string[];
  /** Scopes the client may request. */
  scopes?: string[];
  /** Medblocks public client: allowed redirect URIs. Default: any `http://127.0.0.1:*` or `http://localhost:*` URI. */
  redirectUris?: string[];
}

/** Options of `startSandbox`. */
export interface SandboxOptions {
  /** Port of the main listener. Default 0 (any free port). The host is always 127.0.0.1. */
  port?: number;
  /** Access token lifetime in seconds, for all services or per service. Default 3600. */
  tokenLifetimeSeconds?: number | { mskApim?: number; okta?: number; medblocks?: number };
  /** Clients added to the demo clients (same `clientId` replaces). */
  clients?: SandboxClient[];
  /** Users of the Medblocks sign-in page. Default `demo` / `demo`. */
  users?: { username: string; password: string }[];
}

/** One request the sandbox received. */
export interface RecordedRequest {
  listener: 'main' | 'elsewhere';
  route?: SandboxRoute;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
  /** Status sent, or 0 when there was none (hang, reset). */
  status: number;
  clientId?: string;
  clientAuth?: 'client_secret_basic' | 'client_secret_post' | 'none';
  grantType?: string;
  time: number;
}

/** Filters for counters. */
export interface TokenFilter {
  service?: SandboxService;
  clientId?: string;
}
