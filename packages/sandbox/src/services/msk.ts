// MSK APIM: client_secret_post only, scope=full, consented_on in the response; Blaze FHIR
// requires ?researchstudy=<protocol> granted to the client.
import { formOf, sendJson, type Exchange } from '../http.js';
import type { SandboxState } from '../state.js';
import { authenticate, clientAuthOf, outcome, patientBundle } from './common.js';

export const MSK_TOKEN_PATH = '/msk-apim/external/msk-oidc/oauth2/token';
export const MSK_FHIR_PATH = '/msk-apim/external/blaze/fhir';

export function mskToken(ex: Exchange, state: SandboxState): void {
  if (ex.req.method !== 'POST')
    return sendJson(ex, 405, { error: 'invalid_request', error_description: 'POST only' });
  const form = formOf(ex);
  ex.record.clientAuth = clientAuthOf(ex, form);
  ex.record.grantType = form.get('grant_type') ?? undefined;
  const clientId = form.get('client_id') ?? undefined;
  ex.record.clientId = clientId;
  if (ex.record.clientAuth !== 'client_secret_post') {
    return sendJson(ex, 401, {
      error: 'invalid_client',
      error_description: 'client_id and client_secret must be sent in the request body',
    });
  }
  const client = state.client('mskApim', clientId);
  if (!client || client.clientSecret !== form.get('client_secret')) {
    return sendJson(ex, 401, { error: 'invalid_client', error_description: 'Client authentication failed' });
  }
  if (form.get('grant_type') !== 'client_credentials') {
    return sendJson(ex, 400, {
      error: 'unsupported_grant_type',
      error_description: 'Only client_credentials is supported',
    });
  }
  if (form.get('scope') !== 'full') {
    return sendJson(ex, 400, { error: 'invalid_scope', error_description: 'scope must be "full"' });
  }
  const { accessToken, expiresIn } = state.issue('mskApim', client.clientId, 'full');
  sendJson(
    ex,
    200,
    {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
      scope: 'full',
      consented_on: '2024-05-01T00:00:00Z',
    },
    { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
  );
}

export function mskFhir(ex: Exchange, state: SandboxState, baseUrl: string): void {
  if (ex.req.method !== 'GET')
    return outcome(ex, 405, 'not-supported', 'Only reads are available in the sandbox');
  const accept = ex.req.headers.accept ?? '*/*';
  if (!/json|\*\/\*/.test(accept)) return outcome(ex, 406, 'not-supported', 'Blaze answers JSON only');
  const token = authenticate(ex, state, ['mskApim']);
  if (!token) return;
  const study = ex.url.searchParams.get('researchstudy');
  if (!study) return outcome(ex, 403, 'forbidden', 'The researchstudy parameter is required');
  const client = state.client('mskApim', token.clientId);
  if (!client?.researchStudies?.includes(study)) {
    return outcome(ex, 403, 'forbidden', `This client has no access to research study ${study}`);
  }
  const path = ex.url.pathname.slice(MSK_FHIR_PATH.length);
  const base = `${baseUrl}${MSK_FHIR_PATH}`;
  const single = /^\/Patient\/([^/]+)$/.exec(path);
  if (single) {
    return sendJson(
      ex,
      200,
      { resourceType: 'Patient', id: single[1], meta: { tag: [{ system: 'researchstudy', code: study }] } },
      { 'Content-Type': 'application/fhir+json' },
    );
  }
  if (path === '/Patient' || path === '/Patient/') {
    return sendJson(ex, 200, patientBundle(base, study), { 'Content-Type': 'application/fhir+json' });
  }
  sendJson(
    ex,
    200,
    { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] },
    { 'Content-Type': 'application/fhir+json' },
  );
}
