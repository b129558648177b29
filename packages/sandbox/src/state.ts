import { createHash, randomBytes } from 'node:crypto';
import type {
  Fault,
  RecordedRequest,
  SandboxClient,
  SandboxRoute,
  SandboxService,
  SandboxTrustedIssuer,
  TokenFilter,
} from './types.js';
import { dpopMemory } from './services/dpop.js';
import type { DeviceGrant, DeviceSettings } from './services/device.js';
import { smartMemory } from './services/smart.js';

/** An access token the sandbox issued (tokens are opaque: everything lives here). */
export interface IssuedToken {
  /** The service that issued it; other services' APIs refuse it. */
  service: SandboxService;
  /** The client it was issued to. */
  clientId: string;
  /** Granted scope, space-separated. */
  scope: string;
  /** MSK: the protocols the client may read, as granted at issue time. */
  researchStudies: readonly string[];
  /** Expiry, epoch ms. */
  expiresAt: number;
  /** Revoked (RFC 7009 or `sandbox.revokeTokens`). */
  revoked: boolean;
  /** DPoP: the thumbprint of the key the token is bound to; only proofs by that key may use it. */
  jkt?: string;
  /** SMART App Launch: the patient of the launch it was issued for; it reads that patient's record only. */
  patient?: string;
  /** Token exchange (RFC 8693): whose token it is, the subject of the token it was exchanged for. */
  subject?: string;
  /** Mutual TLS (RFC 8705 §3): its `cnf["x5t#S256"]`, the thumbprint of the only client certificate it works over. */
  x5t?: string;
}

/** A pending authorization code (Medblocks code flow): single use, bound to all of this. */
export interface PendingCode {
  /** The client it was issued to. */
  clientId: string;
  /** The redirect URI it was sent to; the token request must repeat it. */
  redirectUri: string;
  /** The PKCE S256 challenge. */
  codeChallenge: string;
  /** Scope asked for. */
  scope: string;
  /** Expiry, epoch ms. */
  expiresAt: number;
  /** What the token response adds (SMART's launch context). */
  context?: Record<string, unknown>;
}

/** A refresh token (Medblocks code flow; rotated on use). */
export interface RefreshGrant {
  /** The client it was issued to. */
  clientId: string;
  /** Scope of the tokens it yields. */
  scope: string;
  /** Used (rotated) or revoked. */
  revoked: boolean;
  /** SMART: the launch context of the sign-in; tokens it yields stay bound to its patient (not restated). */
  context?: Record<string, unknown>;
}

/** An opaque random token, base64url. */
export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** The PKCE S256 challenge of a verifier (RFC 7636 §4.2). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** A fault queued on a route, with how many more requests it applies to. */
export interface QueuedFault {
  /** The fault. */
  fault: Fault;
  /** Requests it still applies to (`Infinity`: all). */
  remaining: number;
}

/** Everything the sandbox remembers; `reset()` forgets all but clients and users. */
export class SandboxState {
  readonly clients = new Map<string, SandboxClient>();
  readonly tokens = new Map<string, IssuedToken>();
  readonly codes = new Map<string, PendingCode>();
  readonly refreshTokens = new Map<string, RefreshGrant>();
  /** Device codes (RFC 8628) by their device code. */
  readonly deviceCodes = new Map<string, DeviceGrant>();
  readonly requests: RecordedRequest[] = [];
  readonly faults = new Map<SandboxRoute, QueuedFault[]>();
  /** SMART's assertion ids seen and bulk export jobs. */
  readonly smart = smartMemory();
  /** DPoP proof ids seen and the nonce proofs must carry. */
  readonly dpop;
  /** TLS mode with a client CA: mutual TLS (RFC 8705) is on. */
  mtls = false;

  constructor(
    clients: SandboxClient[],
    readonly users: { username: string; password: string }[],
    readonly lifetimes: Record<SandboxService, number>,
    requireDPoPNonce = false,
    readonly deviceSettings: DeviceSettings = { intervalSeconds: 5, expiresInSeconds: 600 },
    /** Issuers Okta's JWT bearer grant trusts, by `iss`. */
    readonly trustedIssuers: ReadonlyMap<string, SandboxTrustedIssuer> = new Map(),
  ) {
    this.dpop = dpopMemory(requireDPoPNonce);
    for (const client of clients) this.clients.set(client.clientId, client);
  }

  /** The client with that id, if it belongs to `service`. */
  client(service: SandboxService, clientId: string | undefined): SandboxClient | undefined {
    const client = clientId === undefined ? undefined : this.clients.get(clientId);
    return client?.service === service ? client : undefined;
  }

  /**
   * Issues an access token. `expiresIn` is the configured lifetime rounded up to whole
   * seconds, as `expires_in` must be an integer; the token itself expires at the exact
   * configured lifetime.
   */
  issue(
    service: SandboxService,
    clientId: string,
    scope: string,
    jkt?: string,
    patient?: string,
  ): { accessToken: string; expiresIn: number } {
    const accessToken = randomToken(32);
    const lifetime = this.lifetimes[service];
    this.tokens.set(accessToken, {
      service,
      clientId,
      scope,
      researchStudies: [...(this.clients.get(clientId)?.researchStudies ?? [])],
      expiresAt: Date.now() + lifetime * 1000,
      revoked: false,
      ...(jkt ? { jkt } : {}),
      ...(patient ? { patient } : {}),
    });
    return { accessToken, expiresIn: Math.max(1, Math.ceil(lifetime)) };
  }

  /** The issued access tokens matching a filter. */
  matching(filter: TokenFilter = {}): IssuedToken[] {
    return [...this.tokens.values()].filter(
      (t) =>
        (!filter.service || t.service === filter.service) &&
        (!filter.clientId || t.clientId === filter.clientId),
    );
  }

  /** Takes the next fault for a route, if any, counting one use of it. */
  nextFault(route: SandboxRoute): Fault | undefined {
    const queue = this.faults.get(route);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.fault;
  }

  /** Forgets tokens, codes, requests and faults. */
  reset(): void {
    this.tokens.clear();
    this.codes.clear();
    this.refreshTokens.clear();
    this.deviceCodes.clear();
    this.requests.length = 0;
    this.faults.clear();
    this.smart.jtis.clear();
    this.smart.exports.clear();
    this.smart.launches.clear();
    this.dpop.jtis.clear();
  }
}
