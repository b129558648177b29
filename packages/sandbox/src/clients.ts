// The demo clients every sandbox knows, and the resolution of sandbox options.
import type { SandboxClient, SandboxOptions, SandboxService, SandboxTrustedIssuer } from './types.js';

/**
 * The demo clients every sandbox knows (and the demo user of the Medblocks sign-in
 * page). These are fake credentials of the local sandbox, safe to print and commit.
 * `SandboxOptions.clients` adds to them, replacing one with the same `clientId`.
 *
 * @example
 * ```ts
 * const sandbox = await startSandbox();
 * const res = await fetch(sandbox.urls.mskApim.tokenEndpoint, {
 *   method: 'POST',
 *   body: new URLSearchParams({
 *     grant_type: 'client_credentials',
 *     scope: 'full',
 *     client_id: demoClients.mskApim.clientId,
 *     client_secret: demoClients.mskApim.clientSecret,
 *   }),
 * });
 * ```
 */
export const demoClients = {
  /** The MSK APIM client. */
  mskApim: {
    /** Client id. */
    clientId: 'msk-demo-client',
    /** Client secret (fake, local only). */
    clientSecret: 'msk-demo-secret',
    /** Protocols it may access. */
    researchStudies: ['12-245', '17-001'],
  },
  /** The Okta (CTRP) service app. */
  okta: {
    /** Client id. */
    clientId: 'ctrp-demo-client',
    /** Client secret (fake, local only). */
    clientSecret: 'ctrp-demo-secret',
    /** Scopes it may request. */
    scopes: ['ctrp.accrual', 'ctrp.read'],
  },
  /**
   * An Okta service app with no secret, for the JWT bearer grant (RFC 7523 §2.1): its
   * credential is a JWT the {@link demoClients.workloadIssuer} signed.
   */
  oktaWorkload: {
    /** Client id. */
    clientId: 'ctrp-demo-workload',
    /** Scopes it may request. */
    scopes: ['ctrp.read'],
  },
  /**
   * The issuer the sandbox's Okta server trusts for JWT bearer grants: a stand-in for a
   * Kubernetes cluster's service-account issuer. Its ES256 key pair is a fake of the
   * local sandbox: the private JWK is here so examples can sign assertions as kubelet would.
   */
  workloadIssuer: {
    /** The `iss` of its JWTs. */
    issuer: 'https://kubernetes.sandbox.invalid',
    /** The `sub` it is trusted for, a service account's. */
    subject: 'system:serviceaccount:ctrp:accrual-sync',
    /** The key id of its signing key. */
    kid: 'workload-demo-es256',
    /** Its private key as a JWK (ES256, P-256; fake, local only). Import with `crypto.subtle.importKey('jwk', …)`. */
    privateJwk: {
      /** Key type. */
      kty: 'EC',
      /** Curve. */
      crv: 'P-256',
      /** Public x coordinate. */
      x: '-3NMtNig3o1z2z_yY5QRwB_vSuEW1a4_XPCDBtbTFsI',
      /** Public y coordinate. */
      y: 'yJHB9x1yY6nLoqTir7Zl3avbyIHX6mcgGooS0R_nAvo',
      /** The private part (fake, local only). */
      d: 'uk7-f4DQNJsN7c_AzFL2v9zK2JMfh8dcNAIRAcsh6ak',
    },
  },
  /** The Medblocks backend client (client credentials). */
  medblocksBackend: {
    /** Client id. */
    clientId: 'medblocks-demo-backend',
    /** Client secret (fake, local only). */
    clientSecret: 'medblocks-demo-secret',
  },
  /** The Medblocks public client for browser apps (PKCE, no secret). */
  medblocksSpa: {
    /** Client id. */
    clientId: 'medblocks-demo-spa',
  },
  /** The Medblocks public client for scripts and CLIs: the device flow (RFC 8628), no secret. */
  medblocksCli: {
    /** Client id. */
    clientId: 'medblocks-demo-cli',
  },
  /**
   * The SMART Backend Services client. Its ES384 key pair is a fake of the local
   * sandbox: the private JWK is here so examples run without a key of their own.
   */
  smartBackend: {
    /** Client id. */
    clientId: 'smart-demo-backend',
    /** The key id registered for it. */
    kid: 'smart-demo-es384',
    /** Its private key as a JWK (ES384, P-384; fake, local only). Import with `crypto.subtle.importKey('jwk', …)`. */
    privateJwk: {
      /** Key type. */
      kty: 'EC',
      /** Curve. */
      crv: 'P-384',
      /** Public x coordinate. */
      x: 'tGJoY3gH2hnho_yJa5HrC2wqkPL_nN8bYITBumUvAkJzrek7mJITOB5N8MY5RXdL',
      /** Public y coordinate. */
      y: 'Bc_nKrGAwf2LCNkh7BGTiBVkD3dXXnLXd_OSfyKfx4hNXKMAflfe0ZvtEj421qsV',
      /** The private part (fake, local only). */
      d: 'nPa9hK6h2dOHgD-ROw5YAA5_TjcP7XaB8uGwpzoCSkCG7cjyhjvuZCrT4ryC-1R-',
    },
    /** Scopes it may request. */
    scopes: ['system/*.rs', 'system/*.read'],
  },
  /** The SMART App Launch public client (a browser app: PKCE, no secret). */
  smartApp: {
    /** Client id. */
    clientId: 'smart-demo-app',
  },
  /**
   * A SMART App Launch confidential symmetric client (an app with a server side): PKCE and
   * `client_secret_basic`.
   */
  smartConfidentialApp: {
    /** Client id. */
    clientId: 'smart-demo-confidential-app',
    /** Client secret (fake, local only). */
    clientSecret: 'smart-demo-app-secret',
  },
  /**
   * A SMART App Launch confidential asymmetric client: PKCE and `private_key_jwt`, with the
   * same fake ES384 key as {@link demoClients.smartBackend}, registered under its own `kid`.
   */
  smartAsymmetricApp: {
    /** Client id. */
    clientId: 'smart-demo-asymmetric-app',
    /** The key id registered for it. */
    kid: 'smart-demo-app-es384',
  },
  /** The user of the Medblocks sign-in page. */
  user: {
    /** Sign-in name. */
    username: 'demo',
    /** Its password. */
    password: 'demo',
  },
} as const;

/** The demo clients as {@link SandboxClient} registrations. */
const DEMO_CLIENTS: SandboxClient[] = [
  { service: 'mskApim', ...demoClients.mskApim, researchStudies: [...demoClients.mskApim.researchStudies] },
  { service: 'okta', ...demoClients.okta, scopes: [...demoClients.okta.scopes] },
  { service: 'okta', ...demoClients.oktaWorkload, scopes: [...demoClients.oktaWorkload.scopes] },
  { service: 'medblocks', ...demoClients.medblocksBackend },
  { service: 'medblocks', ...demoClients.medblocksSpa },
  { service: 'medblocks', ...demoClients.medblocksCli },
  {
    service: 'smart',
    clientId: demoClients.smartBackend.clientId,
    scopes: [...demoClients.smartBackend.scopes],
    jwks: { keys: [publicJwk(demoClients.smartBackend.privateJwk, demoClients.smartBackend.kid)] },
  },
  { service: 'smart', ...demoClients.smartApp },
  { service: 'smart', ...demoClients.smartConfidentialApp },
  {
    service: 'smart',
    clientId: demoClients.smartAsymmetricApp.clientId,
    jwks: { keys: [publicJwk(demoClients.smartBackend.privateJwk, demoClients.smartAsymmetricApp.kid)] },
  },
];

/** The public half of a private EC JWK, with its kid and alg. */
function publicJwk(
  jwk: { kty: string; crv: string; x: string; y: string },
  kid: string,
  alg = 'ES384',
): JsonWebKey & { kid: string } {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg, use: 'sig' };
}

/** The demo workload issuer as the Okta server trusts it. */
const DEMO_ISSUER: SandboxTrustedIssuer = {
  issuer: demoClients.workloadIssuer.issuer,
  jwks: { keys: [publicJwk(demoClients.workloadIssuer.privateJwk, demoClients.workloadIssuer.kid, 'ES256')] },
  subjects: [demoClients.workloadIssuer.subject],
};

/** The demo issuer, with `extra` added (an `extra` issuer replaces one with the same `issuer`). */
export function resolveIssuers(
  extra: readonly SandboxTrustedIssuer[] = [],
): Map<string, SandboxTrustedIssuer> {
  const issuers = new Map([[DEMO_ISSUER.issuer, DEMO_ISSUER]]);
  for (const trusted of extra) {
    if (!trusted || typeof trusted.issuer !== 'string' || !trusted.issuer)
      throw new TypeError('trustedIssuers: every issuer needs an issuer');
    if (!Array.isArray(trusted.jwks?.keys))
      throw new TypeError(`trustedIssuers: ${trusted.issuer} needs a jwks with keys`);
    if (trusted.subjects !== undefined && !Array.isArray(trusted.subjects))
      throw new TypeError(`trustedIssuers: ${trusted.issuer}'s subjects must be an array`);
    issuers.set(trusted.issuer, trusted);
  }
  return issuers;
}

/** SMART's access token lifetime unless one is given: SMART servers issue short tokens. */
const SMART_LIFETIME_SECONDS = 300;

/** The default access token lifetime of every service, seconds. */
const DEFAULT_LIFETIME_SECONDS = 3600;

/** Resolves `tokenLifetimeSeconds` to one positive lifetime per service. */
export function resolveLifetimes(
  option: SandboxOptions['tokenLifetimeSeconds'],
): Record<SandboxService, number> {
  const all = typeof option === 'number' ? option : DEFAULT_LIFETIME_SECONDS;
  const per = typeof option === 'object' && option !== null ? option : {};
  const check = (value: number, name: string) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw new TypeError(`tokenLifetimeSeconds${name}: must be a positive number of seconds`);
    return value;
  };
  return {
    mskApim: check(per.mskApim ?? all, '.mskApim'),
    okta: check(per.okta ?? all, '.okta'),
    medblocks: check(per.medblocks ?? all, '.medblocks'),
    smart: check(per.smart ?? (typeof option === 'number' ? option : SMART_LIFETIME_SECONDS), '.smart'),
  };
}

/** The demo clients, with `extra` added (an `extra` client replaces a demo client of the same id). */
export function resolveClients(extra: readonly SandboxClient[] = []): SandboxClient[] {
  const clients = new Map(DEMO_CLIENTS.map((c) => [c.clientId, c]));
  for (const client of extra) {
    if (!client || typeof client.clientId !== 'string' || !client.clientId)
      throw new TypeError('clients: every client needs a clientId');
    if (!['mskApim', 'okta', 'medblocks', 'smart'].includes(client.service))
      throw new TypeError(`clients: ${client.clientId} has an unknown service ${String(client.service)}`);

    clients.set(client.clientId, client);
  }
  return [...clients.values()];
}
