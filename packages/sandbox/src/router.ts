// Which named route a path is, and the dispatch of a main-listener request to the
// emulated service that answers it.
import { redirect, sendJson, type Exchange } from './http.js';
import { authenticate } from './services/common.js';
import { CTRP_PREFIX, ctrpAccrual } from './services/ctrp.js';
import { MEDBLOCKS_DEVICE_PATH, MEDBLOCKS_PREFIX, medblocksRoute } from './services/medblocks.js';
import { MSK_FHIR_PATH, MSK_TOKEN_PATH, mskFhir, mskToken } from './services/msk.js';
import { oktaRoute } from './services/okta.js';
import { SMART_FHIR_PATH, SMART_PREFIX, SMART_TOKEN_PATH, smartRoute } from './services/smart.js';
import type { SandboxState } from './state.js';
import type { SandboxRoute, SandboxService } from './types.js';

/** Every named route. */
export const ROUTES: ReadonlySet<SandboxRoute> = new Set<SandboxRoute>([
  'msk-token',
  'okta-token',
  'medblocks-token',
  'medblocks-authorize',
  'medblocks-device',
  'msk-fhir',
  'ctrp-accrual',
  'medblocks-fhir',
  'echo',
  'smart-token',
  'smart-fhir',
]);

/** The token endpoint routes, with the service each belongs to. */
export const TOKEN_ROUTE_SERVICE: ReadonlyMap<SandboxRoute, SandboxService> = new Map<
  SandboxRoute,
  SandboxService
>([
  ['msk-token', 'mskApim'],
  ['okta-token', 'okta'],
  ['medblocks-token', 'medblocks'],
  ['smart-token', 'smart'],
]);

/** The protected resource routes. */
export const RESOURCE_ROUTES: ReadonlySet<SandboxRoute> = new Set<SandboxRoute>([
  'msk-fhir',
  'ctrp-accrual',
  'medblocks-fhir',
  'echo',
  'smart-fhir',
]);

const under = (pathname: string, prefix: string) => pathname === prefix || pathname.startsWith(`${prefix}/`);

/** The named route of a path, if it has one. */
export function routeOf(pathname: string): SandboxRoute | undefined {
  if (pathname === MSK_TOKEN_PATH) return 'msk-token';
  if (under(pathname, MSK_FHIR_PATH)) return 'msk-fhir';
  if (/^\/oauth2\/[^/]+\/v1\/token$/.test(pathname)) return 'okta-token';
  if (pathname.startsWith(`${CTRP_PREFIX}/accrual-services/`)) return 'ctrp-accrual';
  if (pathname === `${MEDBLOCKS_PREFIX}/oauth2/token`) return 'medblocks-token';
  if (pathname === `${MEDBLOCKS_PREFIX}/oauth2/auth` || pathname === `${MEDBLOCKS_PREFIX}/oauth2/authorize`)
    return 'medblocks-authorize';
  if (pathname === `${MEDBLOCKS_PREFIX}${MEDBLOCKS_DEVICE_PATH}`) return 'medblocks-device';
  if (under(pathname, `${MEDBLOCKS_PREFIX}/fhir`)) return 'medblocks-fhir';
  if (under(pathname, '/echo')) return 'echo';
  if (pathname === SMART_TOKEN_PATH) return 'smart-token';
  if (under(pathname, SMART_FHIR_PATH) && !pathname.startsWith(`${SMART_FHIR_PATH}/.well-known/`))
    return 'smart-fhir';
  return undefined;
}

/** What the echo route and the other origin answer: the request as received. */
export function echoBody(ex: Exchange): Record<string, unknown> {
  return {
    method: ex.record.method,
    path: ex.record.path,
    query: ex.record.query,
    headers: ex.record.headers,
    bodyBase64: ex.body.toString('base64'),
    contentType: ex.req.headers['content-type'] ?? null,
  };
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function redirectRoute(ex: Exchange): void {
  const to = ex.url.searchParams.get('to');
  const status = Number(ex.url.searchParams.get('status') ?? 302);
  let target: URL | undefined;
  try {
    target = to ? new URL(to) : undefined;
  } catch {
    target = undefined;
  }
  if (
    !target ||
    (target.protocol !== 'http:' && target.protocol !== 'https:') ||
    !REDIRECT_STATUSES.has(status)
  ) {
    return sendJson(ex, 400, {
      error: 'invalid_request',
      error_description: 'to must be an absolute http(s) URL; status one of 301, 302, 303, 307, 308',
    });
  }
  redirect(ex, target.href, status);
}

/** Answers a request to the main listener (after any fault let it through). */
export function dispatch(ex: Exchange, state: SandboxState, baseUrl: string): void | Promise<void> {
  const pathname = ex.url.pathname;
  const route = ex.record.route;
  if (route === 'msk-token') return mskToken(ex, state);
  if (route === 'msk-fhir') return mskFhir(ex, state, baseUrl);
  if (route === 'echo') {
    if (authenticate(ex, state, ['mskApim', 'okta', 'medblocks', 'smart'])) sendJson(ex, 200, echoBody(ex));
    return;
  }
  if (pathname === '/redirect') return redirectRoute(ex);
  if (oktaRoute(ex, state, baseUrl)) return;
  if (ctrpAccrual(ex, state)) return;
  if (under(pathname, MEDBLOCKS_PREFIX) && medblocksRoute(ex, state, baseUrl)) return;
  if (under(pathname, SMART_PREFIX)) {
    const handled = smartRoute(ex, state, state.smart, baseUrl);
    if (handled instanceof Promise) return handled;
    if (handled) return;
  }
  sendJson(ex, 404, {
    error: 'not_found',
    error_description: `No sandbox route for ${ex.record.method} ${pathname}`,
  });
}
