// Token exchange (RFC 8693) and JWT bearer (RFC 7523 §2.1) as grants registered on
// oidc-provider (it has neither built in), and a JWT issuer to sign assertions with: the
// stand-in for a Kubernetes service-account issuer or a CI job's OIDC issuer.
import type { default as ProviderClass, errors as ProviderErrors, KoaContextWithOIDC } from 'oidc-provider';

const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** An issuer of ES256 JWTs (assertions), with the public key the authorization server trusts. */
export interface JwtIssuer {
  issuer: string;
  /** The public key, as a JWK. */
  publicJwk: JsonWebKey & { kid: string; alg: string };
  /** Signs claims (iss is set unless given; iat set); returns a compact JWS. */
  sign(claims: Record<string, unknown>): Promise<string>;
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

export async function createJwtIssuer(issuer: string, kid = 'test-issuer-1'): Promise<JwtIssuer> {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
  return {
    issuer,
    publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: 'ES256' },
    async sign(claims) {
      const header = b64url(Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid })));
      const iat = Math.floor(Date.now() / 1000);
      const payload = b64url(Buffer.from(JSON.stringify({ iss: issuer, iat, ...claims })));
      const signature = await crypto.subtle.sign(
        { name: 'ECDSA', hash: 'SHA-256' },
        pair.privateKey,
        new TextEncoder().encode(`${header}.${payload}`),
      );
      return `${header}.${payload}.${b64url(new Uint8Array(signature))}`;
    },
  };
}

/** Verifies an ES256 compact JWS with a public JWK; returns its claims, or undefined. */
async function verifyEs256(jws: string, jwk: JsonWebKey): Promise<Record<string, unknown> | undefined> {
  const [header, payload, signature] = jws.split('.');
  if (!header || !payload || !signature) return undefined;
  const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'verify',
  ]);
  const ok = await crypto.subtle.verify(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    Buffer.from(signature, 'base64url'),
    new TextEncoder().encode(`${header}.${payload}`),
  );
  return ok
    ? (JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>)
    : undefined;
}

/** What the resource servers of the provider are: indicator → the scope it grants. */
export type ResourceServers = Readonly<Record<string, { scope: string; accessTokenTTL?: number }>>;

type Provider = InstanceType<typeof ProviderClass>;
type Errors = typeof ProviderErrors;

function resourceServer(provider: Provider, servers: ResourceServers, indicator: string, errors: Errors) {
  const info = servers[indicator];
  if (!info) throw new errors.InvalidTarget();
  return new provider.ResourceServer(indicator, {
    audience: indicator,
    scope: info.scope,
    accessTokenFormat: 'jwt',
    accessTokenTTL: info.accessTokenTTL ?? 300,
  });
}

/** The scopes asked for that the resource server grants (all of them when none are asked). */
function granted(asked: string | undefined, servers: ResourceServers, indicator: string): string | undefined {
  const allowed = (servers[indicator]?.scope ?? '').split(' ');
  return (
    (asked ?? allowed.join(' '))
      .split(' ')
      .filter((s) => allowed.includes(s))
      .join(' ') || undefined
  );
}

/**
 * RFC 8693: an opaque access token this provider issued is exchanged for a JWT access
 * token for one audience or resource; `sub` is the subject's, `act.sub` the actor
 * token's subject or else the client's (see `extraTokenClaims` in `startOidcProvider`).
 */
export function registerTokenExchange(provider: Provider, servers: ResourceServers, errors: Errors): void {
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async (ctx: KoaContextWithOIDC) => {
      const params = ctx.oidc.params as Record<string, string | undefined>;
      const { subject_token: subjectToken, subject_token_type: subjectType } = params;
      if (!subjectToken) throw new errors.InvalidRequest("missing required parameter 'subject_token'");
      if (subjectType !== ACCESS_TOKEN_TYPE)
        throw new errors.InvalidRequest('unsupported subject_token_type');
      const subject = await provider.AccessToken.find(subjectToken);
      if (!subject || subject.isExpired) throw new errors.InvalidGrant('subject_token is invalid or expired');
      if (params.actor_token) {
        const actor = await provider.AccessToken.find(params.actor_token);
        if (!actor || actor.isExpired) throw new errors.InvalidGrant('actor_token is invalid or expired');
        (ctx.state as { actor?: string }).actor = actor.accountId ?? actor.clientId;
      }
      const target = params.audience ?? params.resource;
      if (!target) throw new errors.InvalidTarget();
      const at = new provider.AccessToken({
        accountId: subject.accountId!,
        client: ctx.oidc.client!,
        grantId: subject.grantId!,
        gty: 'token-exchange',
        scope: granted(params.scope, servers, target),
        resourceServer: resourceServer(provider, servers, target, errors),
      });
      ctx.oidc.entity('AccessToken', at);
      // A JWT asked for: the same JWT access token, said to be no access token (RFC 8693 §2.2.1).
      const jwt = params.requested_token_type === JWT_TOKEN_TYPE;
      ctx.body = {
        access_token: await at.save(),
        issued_token_type: jwt ? JWT_TOKEN_TYPE : ACCESS_TOKEN_TYPE,
        token_type: jwt ? 'N_A' : at.tokenType,
        expires_in: at.expiration,
        ...(at.scope ? { scope: at.scope } : {}),
      };
    },
    ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type'].concat(
      ['audience', 'resource', 'scope'],
    ),
  );
}

/**
 * RFC 7523 §2.1: a JWT from `trusted` (signature, `iss`, `aud` the issuer or token
 * endpoint, `exp`) is exchanged for an access token whose `sub` is the assertion's.
 */
export function registerJwtBearer(
  provider: Provider,
  servers: ResourceServers,
  errors: Errors,
  trusted: JwtIssuer,
): void {
  provider.registerGrantType(
    JWT_BEARER_GRANT,
    async (ctx: KoaContextWithOIDC) => {
      const { assertion, scope, resource } = ctx.oidc.params as Record<string, string | undefined>;
      if (!assertion) throw new errors.InvalidRequest("missing required parameter 'assertion'");
      const claims = await verifyEs256(assertion, trusted.publicJwk).catch(() => undefined);
      const audiences = [claims?.aud].flat();
      const fresh = typeof claims?.exp === 'number' && claims.exp * 1000 > Date.now();
      if (
        !claims ||
        claims.iss !== trusted.issuer ||
        !fresh ||
        typeof claims.sub !== 'string' ||
        !audiences.some((a) => a === provider.issuer || a === ctx.oidc.urlFor('token'))
      )
        throw new errors.InvalidGrant('assertion invalid');
      const grant = new provider.Grant({ accountId: claims.sub, clientId: ctx.oidc.client!.clientId });
      const at = new provider.AccessToken({
        accountId: claims.sub,
        client: ctx.oidc.client!,
        grantId: await grant.save(),
        gty: 'jwt-bearer',
        scope: resource ? granted(scope, servers, resource) : scope || undefined,
        ...(resource ? { resourceServer: resourceServer(provider, servers, resource, errors) } : {}),
      });
      ctx.oidc.entity('AccessToken', at);
      ctx.body = {
        access_token: await at.save(),
        token_type: at.tokenType,
        expires_in: at.expiration,
        ...(at.scope ? { scope: at.scope } : {}),
      };
    },
    ['assertion', 'scope', 'resource'],
  );
}
