// A SMART on FHIR server: `.well-known/smart-configuration`; a token endpoint for
// Backend Services (`private_key_jwt` client assertions, RS384 / ES384, checked the way
// SMART App Launch 2.x says: signature by `kid`, iss = sub = client_id, aud = the token
// URL, exp at most 5 minutes ahead, jti never seen before) and for App Launch (public
// clients with PKCE, confidential symmetric ones with `client_secret_basic`, confidential
// asymmetric ones with assertions); a FHIR API that checks scopes and binds a launch's
// tokens to its patient; and bulk data `$export` (kick-off, status polls, ndjson files).
import { generateKeyPairSync, sign, type JsonWebKey as NodeJsonWebKey, type KeyObject } from 'node:crypto';
import { basicCredentials, sendJson, send, type Exchange } from '../http.js';
import { randomToken, type IssuedToken, type SandboxState } from '../state.js';
import { authorize, codeFlowGrant, type CodeFlow } from './code-flow.js';
import { checkProof, nonceHeader, tokenRequestBinding } from './dpop.js';
import { parseJws, signatureRefusal } from './jwt.js';
import type { SandboxClient } from '../types.js';
import {
  authenticate,
  badGrant,
  insufficientScopeHeader,
  outcome,
  patientBundle,
  readTokenRequest,
  tokenResponse,
  type TokenRequest,
} from './common.js';

/** Everything SMART lives under. */
export const SMART_PREFIX = '/smart';
/** The token endpoint's path. */
export const SMART_TOKEN_PATH = `${SMART_PREFIX}/auth/token`;
/** The FHIR base path. */
export const SMART_FHIR_PATH = `${SMART_PREFIX}/fhir`;
/** The authorize endpoint's path (App Launch). */
export const SMART_AUTHORIZE_PATH = `${SMART_PREFIX}/auth/authorize`;
/** Where the SMART configuration is, under the FHIR base. */
const CONFIGURATION_PATH = `${SMART_FHIR_PATH}/.well-known/smart-configuration`;

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The algorithms SMART Backend Services require servers to support. */
const ALGORITHMS = ['RS384', 'ES384'];
/** SMART: `exp` no more than five minutes in the future. A little clock skew is forgiven. */
const MAX_ASSERTION_SECONDS = 300;
const SKEW_SECONDS = 5;

/** The server's own memory of SMART: assertion ids seen (until they expire), JWKS fetched by URL, export jobs. */
export interface SmartMemory {
  /** jti → its assertion's expiry (epoch s): a jti is refused while its assertion could still be used. */
  jtis: Map<string, number>;
  /** EHR launches (`sandbox.smartLaunch`) by their `launch` value: the context a sign-in gets. */
  launches: Map<string, Record<string, unknown>>;
  /** Bulk data jobs by id. */
  exports: Map<string, ExportJob>;
}

/** A bulk data export in progress. */
interface ExportJob {
  /** Who asked: only the same client may poll, download or cancel. */
  clientId: string;
  /** The kick-off request URL, as the manifest repeats it. */
  request: string;
  /** Resource types asked for. */
  types: string[];
  /** Status polls left that answer 202 before the manifest. */
  pollsLeft: number;
  /** When the kick-off happened (ISO). */
  transactionTime: string;
}

/** A new, empty SMART memory. */
export function smartMemory(): SmartMemory {
  return { jtis: new Map(), exports: new Map(), launches: new Map() };
}

function invalidClient(ex: Exchange, description: string): void {
  sendJson(ex, 401, { error: 'invalid_client', error_description: description });
}

/** The client's public keys: registered, or read from its JWKS URL on each token request. */
async function keysOf(client: SandboxClient): Promise<NodeJsonWebKey[] | string> {
  if (client.jwks) return client.jwks.keys as NodeJsonWebKey[];
  if (!client.jwksUrl) return 'The client has no registered keys';
  try {
    const response = await fetch(client.jwksUrl, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) return `The client's JWKS URL answered ${response.status}`;
    const body = (await response.json()) as { keys?: unknown };
    return Array.isArray(body.keys) ? (body.keys as NodeJsonWebKey[]) : "The client's JWKS has no keys";
  } catch {
    return "The client's JWKS URL could not be read";
  }
}

/**
 * Checks a client assertion as SMART Backend Services says. Returns the client id on
 * success, or the reason it was refused.
 */
async function checkAssertion(
  state: SandboxState,
  memory: SmartMemory,
  assertion: string,
  tokenUrl: string,
): Promise<{ clientId: string } | { refused: string }> {
  const jws = parseJws(assertion);
  if (!jws) return { refused: 'The client assertion is not a JWT' };
  const { claims } = jws;
  const clientId = claims.iss;
  if (typeof clientId !== 'string' || claims.sub !== clientId)
    return { refused: 'The client assertion needs iss and sub, both the client_id' };
  const client = state.client('smart', clientId);
  if (!client) return { refused: `Unknown client ${clientId}` };
  const keys = await keysOf(client);
  if (typeof keys === 'string') return { refused: keys };
  const refusal = signatureRefusal(jws, keys, ALGORITHMS, 'The client assertion');
  if (refusal) return { refused: refusal };
  if (claims.aud !== tokenUrl) return { refused: `The client assertion's aud must be ${tokenUrl}` };
  const now = Math.floor(Date.now() / 1000);
  const exp = claims.exp;
  if (typeof exp !== 'number') return { refused: 'The client assertion has no exp' };
  if (exp <= now - SKEW_SECONDS) return { refused: 'The client assertion expired' };
  if (exp > now + MAX_ASSERTION_SECONDS + SKEW_SECONDS)
    return { refused: 'The client assertion expires more than 5 minutes ahead' };
  const jti = claims.jti;
  if (typeof jti !== 'string' || !jti) return { refused: 'The client assertion has no jti' };
  for (const [seen, until] of memory.jtis) if (until < now - SKEW_SECONDS) memory.jtis.delete(seen);
  if (memory.jtis.has(jti)) return { refused: 'The client assertion was already used (jti replay)' };
  memory.jtis.set(jti, exp);
  return { clientId };
}

/** SMART v1 `read`/`write`/`*` and v2 `cruds` letters, as the set of letters they allow. */
function permissions(scope: string): { context: string; type: string; letters: Set<string> } | undefined {
  const match = /^(system|user|patient)\/([A-Za-z*]+)\.(read|write|\*|[cruds]+)$/.exec(scope);
  if (!match) return undefined;
  const [, context, type, access] = match as unknown as [string, string, string, string];
  const letters = access === 'read' ? 'rs' : access === 'write' ? 'cud' : access === '*' ? 'cruds' : access;
  return { context, type, letters: new Set(letters) };
}

/** Whether an allowed scope covers a requested one (same context; `*` covers any type; letters a subset). */
function covers(allowed: string, requested: string): boolean {
  if (allowed === requested) return true;
  const a = permissions(allowed);
  const r = permissions(requested);
  if (!a || !r || a.context !== r.context) return false;
  if (a.type !== '*' && a.type !== r.type) return false;
  return [...r.letters].every((letter) => a.letters.has(letter));
}

/**
 * Authenticates the client of a token request the way it registered: a client assertion
 * (`private_key_jwt`: Backend Services, and App Launch's confidential asymmetric clients),
 * HTTP Basic with its secret (`client_secret_basic`: App Launch's confidential symmetric
 * clients), or nothing (a public App Launch client, with PKCE). Answers 401 and returns
 * undefined when it fails.
 */
async function smartClient(
  ex: Exchange,
  state: SandboxState,
  memory: SmartMemory,
  request: TokenRequest,
  tokenUrl: string,
): Promise<SandboxClient | undefined> {
  const assertion = request.form.get('client_assertion');
  if (assertion) {
    ex.record.clientAuth = 'private_key_jwt';
    if (request.form.get('client_assertion_type') !== JWT_BEARER) {
      invalidClient(ex, `A client assertion needs client_assertion_type=${JWT_BEARER}`);
      return undefined;
    }
    const checked = await checkAssertion(state, memory, assertion, tokenUrl);
    if ('refused' in checked) return void invalidClient(ex, checked.refused);
    ex.record.clientId = checked.clientId;
    if (request.clientId !== undefined && request.clientId !== checked.clientId)
      return void invalidClient(ex, 'client_id does not match the client assertion');
    return state.client('smart', checked.clientId);
  }
  const client = state.client('smart', request.clientId);
  if (!client) return void invalidClient(ex, `Unknown client ${request.clientId ?? '(none)'}`);
  if (client.jwks || client.jwksUrl)
    return void invalidClient(
      ex,
      `This client authenticates with client_assertion_type=${JWT_BEARER} and a client_assertion`,
    );
  if (client.clientSecret !== undefined) {
    const basic = basicCredentials(ex);
    if (!basic)
      return void invalidClient(ex, 'This client authenticates with HTTP Basic (client_secret_basic)');
    if (basic.clientSecret !== client.clientSecret) return void invalidClient(ex, 'Wrong client secret');
  }
  return client;
}

async function smartToken(
  ex: Exchange,
  state: SandboxState,
  memory: SmartMemory,
  tokenUrl: string,
): Promise<void> {
  const request = readTokenRequest(ex);
  if (!request) return;
  const client = await smartClient(ex, state, memory, request, tokenUrl);
  if (!client) return;
  // App Launch: any registered client redeems its code or refresh token here.
  const baseUrl = tokenUrl.slice(0, -SMART_TOKEN_PATH.length);
  if (codeFlowGrant(ex, state, smartFlow(state, memory, baseUrl), request, client)) return;
  // Backend Services: client credentials, for clients that sign assertions.
  if (request.grantType !== 'client_credentials' || !(client.jwks || client.jwksUrl))
    return badGrant(ex, request.grantType, ['authorization_code', 'refresh_token', 'client_credentials']);
  const requested = (request.form.get('scope') ?? '').split(' ').filter(Boolean);
  if (requested.length === 0)
    return sendJson(ex, 400, {
      error: 'invalid_scope',
      error_description: 'scope is required (e.g. system/Patient.rs)',
    });
  const allowed = client.scopes ?? [];
  const refused = requested.filter((s) => !s.startsWith('system/') || !allowed.some((a) => covers(a, s)));
  if (refused.length > 0) {
    return sendJson(ex, 400, {
      error: 'invalid_scope',
      error_description: `Not granted to this client: ${refused.join(' ')}`,
    });
  }
  const scope = requested.join(' ');
  // DPoP (RFC 9449 §5): a proof on the token request binds the token to its key.
  let jkt: string | undefined;
  const nonce = nonceHeader(state.dpop);
  if (ex.req.headers.dpop !== undefined) {
    const proof = checkProof(ex, state.dpop, tokenUrl);
    if ('error' in proof)
      return sendJson(ex, 400, { error: proof.error, error_description: proof.description }, nonce);
    jkt = proof.jkt;
  }
  const { accessToken, expiresIn } = state.issue('smart', client.clientId, scope, jkt);
  tokenResponse(
    ex,
    { token_type: jkt ? 'DPoP' : 'Bearer', expires_in: expiresIn, access_token: accessToken, scope },
    nonce,
  );
}

/** The SMART configuration document (SMART App Launch 2.x §"SMART configuration"). */
function configuration(ex: Exchange, state: SandboxState, baseUrl: string): void {
  const scopes = [
    ...new Set(
      [...state.clients.values()].filter((c) => c.service === 'smart').flatMap((c) => c.scopes ?? []),
    ),
  ];
  sendJson(ex, 200, {
    issuer: `${baseUrl}${SMART_PREFIX}/auth`,
    token_endpoint: `${baseUrl}${SMART_TOKEN_PATH}`,
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic', 'none'],
    token_endpoint_auth_signing_alg_values_supported: ALGORITHMS,
    grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token'],
    authorization_endpoint: `${baseUrl}${SMART_AUTHORIZE_PATH}`,
    jwks_uri: `${baseUrl}${SMART_PREFIX}/auth/jwks`,
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['S256'],
    response_types_supported: ['code'],
    scopes_supported: scopes,
    capabilities: [
      'client-confidential-asymmetric',
      'client-confidential-symmetric',
      'client-public',
      'launch-ehr',
      'launch-standalone',
      'context-ehr-patient',
      'context-ehr-encounter',
      'context-standalone-patient',
      'context-banner',
      'context-style',
      'permission-offline',
      'permission-online',
      'permission-patient',
      'permission-user',
      'permission-v1',
      'permission-v2',
      'sso-openid-connect',
    ],
    dpop_signing_alg_values_supported: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
  });
}

/** Whether a token's scope lets it read a resource type. */
function mayRead(token: IssuedToken, type: string): boolean {
  // The sandbox has no compartments: a patient/ or user/ scope reads as a system/ one does.
  return token.scope
    .split(' ')
    .some((granted) =>
      ['system', 'user', 'patient'].some(
        (context) => covers(granted, `${context}/${type}.rs`) || covers(granted, `${context}/${type}.read`),
      ),
    );
}

const fhirJson = { 'Content-Type': 'application/fhir+json' };

/** 403 with an OperationOutcome and `Bearer error="insufficient_scope"` naming the scope needed. */
function lacksScope(ex: Exchange, needed: string): void {
  sendJson(
    ex,
    403,
    {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'forbidden', diagnostics: `Needs ${needed}` }],
    },
    { ...fhirJson, ...insufficientScopeHeader(needed) },
  );
}
/** What a bulk export can contain in the sandbox. */
const EXPORT_TYPES = ['Patient', 'Observation'];

function ndjson(type: string, base: string): string {
  const bundle = patientBundle(base) as { entry: { resource: { id: string } }[] };
  if (type === 'Patient') return bundle.entry.map((e) => JSON.stringify(e.resource)).join('\n') + '\n';
  return (
    bundle.entry
      .map((e, i) =>
        JSON.stringify({
          resourceType: 'Observation',
          id: `o${i + 1}`,
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
          subject: { reference: `Patient/${e.resource.id}` },
          valueQuantity: { value: 60 + i * 7, unit: 'beats/minute' },
        }),
      )
      .join('\n') + '\n'
  );
}

/** `$export` kick-off: 202 and where to poll (FHIR Bulk Data Access 2.0). */
function kickOff(ex: Exchange, token: IssuedToken, memory: SmartMemory, fhirBase: string): void {
  if (!/respond-async/i.test(String(ex.req.headers.prefer ?? ''))) {
    return outcome(ex, 400, 'invalid', 'A bulk data kick-off needs Prefer: respond-async');
  }
  const asked = ex.url.searchParams.get('_type');
  const types = asked
    ? asked
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
    : EXPORT_TYPES;
  const unknown = types.filter((t) => !EXPORT_TYPES.includes(t));
  if (unknown.length > 0)
    return outcome(ex, 400, 'not-supported', `The sandbox cannot export ${unknown.join(', ')}`);
  const denied = types.filter((t) => !mayRead(token, t));
  if (denied.length > 0) {
    return lacksScope(ex, `system/${denied[0]}.rs`);
  }
  const id = randomToken(12);
  memory.exports.set(id, {
    clientId: token.clientId,
    request: `${fhirBase}${ex.url.pathname.slice(SMART_FHIR_PATH.length)}${ex.url.search}`,
    types,
    pollsLeft: 1,
    transactionTime: new Date().toISOString(),
  });
  send(ex, 202, '', { 'Content-Location': `${fhirBase}/bulkstatus/${id}` });
}

function exportJob(ex: Exchange, token: IssuedToken, memory: SmartMemory, id: string): ExportJob | undefined {
  const job = memory.exports.get(id);
  if (!job || job.clientId !== token.clientId) {
    outcome(ex, 404, 'not-found', `No export job ${id}`);
    return undefined;
  }
  return job;
}

/** Status poll (202 with progress, then the manifest), cancel (DELETE), and file downloads. */
function bulkRoute(
  ex: Exchange,
  token: IssuedToken,
  memory: SmartMemory,
  fhirBase: string,
  path: string,
): boolean {
  const status = /^\/bulkstatus\/([\w-]+)$/.exec(path);
  if (status) {
    const job = exportJob(ex, token, memory, status[1]!);
    if (!job) return true;
    if (ex.req.method === 'DELETE') {
      memory.exports.delete(status[1]!);
      send(ex, 202, '');
      return true;
    }
    if (job.pollsLeft > 0) {
      job.pollsLeft -= 1;
      send(ex, 202, '', { 'X-Progress': 'in progress: 50%', 'Retry-After': '1' });
      return true;
    }
    sendJson(ex, 200, {
      transactionTime: job.transactionTime,
      request: job.request,
      requiresAccessToken: true,
      output: job.types.map((type) => ({ type, url: `${fhirBase}/bulkfiles/${status[1]}/${type}.ndjson` })),
      error: [],
    });
    return true;
  }
  const file = /^\/bulkfiles\/([\w-]+)\/([A-Za-z]+)\.ndjson$/.exec(path);
  if (file) {
    const job = exportJob(ex, token, memory, file[1]!);
    if (!job) return true;
    if (!job.types.includes(file[2]!)) {
      outcome(ex, 404, 'not-found', `The export has no ${file[2]} file`);
      return true;
    }
    send(ex, 200, ndjson(file[2]!, fhirBase), { 'Content-Type': 'application/fhir+ndjson' });
    return true;
  }
  return false;
}

function smartFhir(ex: Exchange, state: SandboxState, memory: SmartMemory, baseUrl: string): void {
  const token = authenticate(ex, state, ['smart']);
  if (!token) return;
  const fhirBase = `${baseUrl}${SMART_FHIR_PATH}`;
  const path = ex.url.pathname.slice(SMART_FHIR_PATH.length).replace(/\/$/, '');
  if (bulkRoute(ex, token, memory, fhirBase, path)) return;
  if (/^(\/Patient|\/Group\/[^/]+)?\/\$export$/.test(path)) {
    if (ex.req.method !== 'GET' && ex.req.method !== 'POST')
      return outcome(ex, 405, 'not-supported', 'Kick off an export with GET (or POST)');
    return kickOff(ex, token, memory, fhirBase);
  }
  if (ex.req.method !== 'GET')
    return outcome(ex, 405, 'not-supported', 'Only reads (GET) are available in the sandbox');
  const type = /^\/([A-Za-z]+)/.exec(path)?.[1] ?? '';
  if (!type)
    return sendJson(
      ex,
      200,
      {
        resourceType: 'CapabilityStatement',
        status: 'active',
        kind: 'instance',
        fhirVersion: '4.0.1',
        format: ['json'],
      },
      fhirJson,
    );
  if (!mayRead(token, type)) {
    return lacksScope(ex, `system/${type}.rs`);
  }
  const single = /^\/([A-Za-z]+)\/([^/]+)$/.exec(path);
  if (single?.[1] === 'Patient' && token.patient !== undefined && single[2] !== token.patient)
    // A token of a launch reads its own patient only, as servers that scope tokens to the launch do.
    return outcome(ex, 403, 'forbidden', `This token was issued for the launch of Patient/${token.patient}`);
  if (single) return sendJson(ex, 200, { resourceType: single[1], id: single[2] }, fhirJson);
  if (type === 'Patient') return sendJson(ex, 200, patientBundle(fhirBase), fhirJson);
  sendJson(ex, 200, { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] }, fhirJson);
}

/**
 * SMART App Launch's code flow: the authorize request must name this FHIR server as
 * `aud`; `launch` with scope `launch` is an EHR launch (its context from
 * `sandbox.smartLaunch`), `launch/patient` without one a standalone launch (the patient
 * "picked" is p1). The context comes back beside the first token, not on refresh.
 */
function smartFlow(state: SandboxState, memory: SmartMemory, baseUrl: string): CodeFlow {
  const fhirBase = `${baseUrl}${SMART_FHIR_PATH}`;
  return {
    service: 'smart',
    title: 'SMART on FHIR',
    tokenType: 'Bearer',
    defaultScope: 'launch/patient patient/*.rs',
    authorizeCheck(params) {
      if (params.get('aud') !== fhirBase)
        return { error: 'invalid_request', description: `aud must be the FHIR base URL ${fhirBase}` };
      const scopes = (params.get('scope') ?? '').split(' ');
      const common = { need_patient_banner: true, smart_style_url: `${baseUrl}${SMART_PREFIX}/style.json` };
      if (scopes.includes('launch')) {
        const context = memory.launches.get(params.get('launch') ?? '');
        if (!context) return { error: 'invalid_request', description: 'Unknown or missing launch' };
        return { context: { ...common, ...context } };
      }
      if (params.has('launch'))
        return { error: 'invalid_scope', description: 'launch needs the launch scope' };
      return { context: scopes.includes('launch/patient') ? { ...common, patient: 'p1' } : {} };
    },
    idToken(clientId, scope) {
      const scopes = scope.split(' ');
      if (!scopes.includes('openid')) return undefined;
      const now = Math.floor(Date.now() / 1000);
      return signIdToken({
        iss: `${baseUrl}${SMART_PREFIX}/auth`,
        sub: 'demo',
        aud: clientId,
        iat: now,
        exp: now + 300,
        ...(scopes.includes('fhirUser') ? { fhirUser: `${fhirBase}/Practitioner/demo` } : {}),
      });
    },
    tokenBinding: (ex) => tokenRequestBinding(ex, state.dpop),
  };
}

/** The sandbox's ID token signing key (RS256), made on first use. */
let idTokenKey: { privateKey: KeyObject; jwk: NodeJsonWebKey } | undefined;
function signingKey(): { privateKey: KeyObject; jwk: NodeJsonWebKey } {
  if (!idTokenKey) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    idTokenKey = {
      privateKey,
      jwk: { ...publicKey.export({ format: 'jwk' }), kid: 'sandbox-id-token', alg: 'RS256', use: 'sig' },
    };
  }
  return idTokenKey;
}

function signIdToken(claims: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'sandbox-id-token' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), signingKey().privateKey).toString('base64url')}`;
}

/** Handles `/smart/...`; returns false when the path is not one of SMART's. */
export function smartRoute(
  ex: Exchange,
  state: SandboxState,
  memory: SmartMemory,
  baseUrl: string,
): boolean | Promise<void> {
  const { pathname } = ex.url;
  if (pathname === CONFIGURATION_PATH) {
    configuration(ex, state, baseUrl);
    return true;
  }
  if (pathname === SMART_TOKEN_PATH) return smartToken(ex, state, memory, `${baseUrl}${SMART_TOKEN_PATH}`);
  if (pathname === `${SMART_PREFIX}/auth/jwks`) {
    sendJson(ex, 200, { keys: [signingKey().jwk] });
    return true;
  }
  if (pathname === SMART_AUTHORIZE_PATH) {
    authorize(ex, state, smartFlow(state, memory, baseUrl));
    return true;
  }
  if (pathname === SMART_FHIR_PATH || pathname.startsWith(`${SMART_FHIR_PATH}/`)) {
    smartFhir(ex, state, memory, baseUrl);
    return true;
  }
  return false;
}
