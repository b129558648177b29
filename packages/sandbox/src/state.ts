import { createHash, randomBytes } from 'node:crypto';
import type {
  Fault,
  RecordedRequest,
  SandboxClient,
  SandboxRoute,
  SandboxService,
  TokenFilter,
} from './types.js';

/** An access token the sandbox issued. */
export interface IssuedToken {
  service: SandboxService;
  clientId: string;
  scope: string;
  expiresAt: number;
  revoked: boolean;
}

/** A pending authorization code (Medblocks code flow). */
export interface PendingCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  scope: string;
  expiresAt: number;
}

/** A refresh token (Medblocks code flow; rotated on use). */
export interface RefreshGrant {
  clientId: string;
  scope: string;
  revoked: boolean;
}

export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** Everything the sandbox remembers; reset by `sandbox.reset()`. */
export class SandboxState {
  readonly clients = new Map<string, SandboxClient>();
  readonly tokens = new Map<string, IssuedToken>();
  readonly codes = new Map<string, PendingCode>();
  readonly refreshTokens = new Map<string, RefreshGrant>();
  readonly requests: RecordedRequest[] = [];
  readonly faults = new Map<SandboxRoute, { fault: Fault; remaining: number }[]>();

  constructor(
    clients: SandboxClient[],
    readonly users: { username: string; password: string }[],
    readonly lifetimes: Record<SandboxService, number>,
  ) {
    for (const client of clients) this.clients.set(client.clientId, client);
  }

  client(service: SandboxService, clientId: string | undefined): SandboxClient | undefined {
    const client = clientId === undefined ? undefined : this.clients.get(clientId);
    return client?.service === service ? client : undefined;
  }

  issue(
    service: SandboxService,
    clientId: string,
    scope: string,
  ): { accessToken: string; expiresIn: number } {
    const accessToken = randomToken();
    const expiresIn = this.lifetimes[service];
    this.tokens.set(accessToken, {
      service,
      clientId,
      scope,
      expiresAt: Date.now() + expiresIn * 1000,
      revoked: false,
    });
    return { accessToken, expiresIn };
  }

  matching(filter: TokenFilter = {}): IssuedToken[] {
    return [...this.tokens.values()].filter(
      (t) =>
        (!filter.service || t.service === filter.service) &&
        (!filter.clientId || t.clientId === filter.clientId),
    );
  }

  nextFault(route: SandboxRoute): Fault | undefined {
    const queue = this.faults.get(route);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.fault;
  }

  reset(): void {
    this.tokens.clear();
    this.codes.clear();
    this.refreshTokens.clear();
    this.requests.length = 0;
    this.faults.clear();
  }
}
