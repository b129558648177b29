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
  /** 429 with `Retry-After` in seconds. */
  | {
      /** Fault kind. */
      type: 'rate-limit';
      /** The `Retry-After` value, in seconds. */
      retryAfterSeconds: number;
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
  /** 401 with `WWW-Authenticate: Bearer error="invalid_token"` (resource routes). */
  | {
      /** Fault kind. */
      type: 'unauthorized';
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

/** A client registered with one of the emulated services. */
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
}

/** Options of `startSandbox`. */
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
      };
  /** Clients added to the demo clients (same `clientId` replaces). */
  clients?: SandboxClient[];
  /** Users of the Medblocks sign-in page. Default `demo` / `demo`. */
  users?: {
    /** Sign-in name. */
    username: string;
    /** Its password. */
    password: string;
  }[];
}

/** One request the sandbox received. */
export interface RecordedRequest {
  /** `main`, or `elsewhere` for the second origin. */
  listener: 'main' | 'elsewhere';
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
  /** Token routes: the client authentication the request really used. */
  clientAuth?: 'client_secret_basic' | 'client_secret_post' | 'none';
  /** Token routes: the `grant_type` sent. */
  grantType?: string;
  /** When it arrived, epoch ms. */
  time: number;
}

/** Filters for counters. */
export interface TokenFilter {
  /** Only this service. */
  service?: SandboxService;
  /** Only this client. */
  clientId?: string;
}
