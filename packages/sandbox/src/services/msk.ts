// MSK APIM: client_secret_post only, scope=full, consented_on in the response; Blaze FHIR
// requires ?researchstudy=<protocol> granted to the client, and answers JSON only.
import { sendJson, type Exchange } from '../http.js';
import type { SandboxState } from '../state.js';
import { authenticate, badGrant, outcome, patientBundle, readTokenRequest, tokenResponse } from './common.js';
import { nonceHeader, tokenRequestBinding } from './dpop.js';

/** Path of the MSK APIM token endpoint. */
export const MSK_TOKEN_PATH = '/msk-apim/external/msk-oidc/oauth2/token';
/** Path of the Blaze FHIR base behind MSK APIM. */
export const MSK_FHIR_PATH = '/msk-apim/external/blaze/fhir';

/** `POST {base}/msk-apim/external/msk-oidc/oauth2/token`. */
export function mskToken(ex: Exchange, state: SandboxState): void {
  const request = readTokenRequest(ex);
  if (!request) return;
  if (ex.record.clientAuth !== 'client_secret_post') {
    return sendJson(ex, 401, {
      error: 'invalid_client',
      error_description:
        ex.record.clientAuth === 'client_secret_basic'
          ? 'HTTP Basic client authentication is not supported: send client_id and client_secret in the request body'
          : 'client_id and client_secret must be sent in the request body',
    });
  }
  const client = state.client('mskApim', request.clientId);
  if (!client || client.clientSecret === undefined || client.clientSecret !== request.clientSecret) {
    return sendJson(ex, 401, {
      error: 'invalid_client',
      error_description: 'Client authentication failed: unknown client or wrong secret',
    });
  }
  if (request.grantType !== 'client_credentials')
    return badGrant(ex, request.grantType, ['client_credentials']);
  const scope = request.form.get('scope');
  if (scope !== 'full') {
    return sendJson(ex, 400, {
      error: 'invalid_scope',
      error_description: `The requested scope is invalid: ${scope ?? '(none)'}; scope must be "full"`,
    });
  }
  const binding = tokenRequestBinding(ex, state.dpop);
  const nonce = nonceHeader(state.dpop);
  if ('error' in binding)
    return sendJson(ex, 400, { error: binding.error, error_description: binding.description }, nonce);
  const { accessToken, expiresIn } = state.issue('mskApim', client.clientId, 'full', binding.jkt);
  tokenResponse(
    ex,
    {
      access_token: accessToken,
      token_type: binding.jkt ? 'DPoP' : 'Bearer',
      expires_in: expiresIn,
      scope: 'full',
      consented_on: new Date().toISOString(),
    },
    nonce,
  );
}

const fhirJson = { 'Content-Type': 'application/fhir+json' };

/** Reads under `{base}/msk-apim/external/blaze/fhir`. */
export function mskFhir(ex: Exchange, state: SandboxState, baseUrl: string): void {
  const token = authenticate(ex, state, ['mskApim']);
  if (!token) return;
  const study = ex.url.searchParams.get('researchstudy');
  if (!study) {
    return outcome(
      ex,
      403,
      'forbidden',
      'The researchstudy parameter is required: every request must name the protocol it reads',
    );
  }
  if (!token.researchStudies.includes(study)) {
    return outcome(ex, 403, 'forbidden', `This client has no access to research study ${study}`);
  }
  if (ex.req.method !== 'GET') {
    return outcome(ex, 405, 'not-supported', 'Only reads (GET) are available in the sandbox');
  }
  const accept = (ex.req.headers.accept ?? '*/*').toLowerCase();
  if (!/json|\*\/\*|application\/\*/.test(accept)) {
    return outcome(ex, 406, 'not-supported', 'Blaze answers JSON only (application/fhir+json)');
  }
  const path = ex.url.pathname.slice(MSK_FHIR_PATH.length).replace(/\/$/, '');
  const base = `${baseUrl}${MSK_FHIR_PATH}`;
  const tag = { tag: [{ system: 'researchstudy', code: study }] };
  const single = /^\/([A-Za-z]+)\/([^/]+)$/.exec(path);
  if (single) return sendJson(ex, 200, { resourceType: single[1], id: single[2], meta: tag }, fhirJson);
  if (path === '/Patient') return sendJson(ex, 200, patientBundle(base, study), fhirJson);
  if (path === '/ResearchSubject') {
    return sendJson(
      ex,
      200,
      {
        resourceType: 'Bundle',
        type: 'searchset',
        total: 2,
        entry: ['p1', 'p2'].map((patient, i) => ({
          fullUrl: `${base}/ResearchSubject/rs${i + 1}`,
          resource: {
            resourceType: 'ResearchSubject',
            id: `rs${i + 1}`,
            meta: tag,
            status: 'on-study',
            study: { reference: `ResearchStudy/${study}` },
            individual: { reference: `Patient/${patient}` },
          },
        })),
      },
      fhirJson,
    );
  }
  sendJson(ex, 200, { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] }, fhirJson);
}
