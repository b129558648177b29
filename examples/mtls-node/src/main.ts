// Mutual TLS (RFC 8705): runs against the sandbox in TLS mode (with a PKI made up here)
// unless MTLS_ISSUER is set; then against your authorization server and API.
import { runLocal } from './local.js';
import { mtlsApi } from './mtls-api.js';

const env = process.env;
if (env.MTLS_ISSUER) {
  const { api, tls } = mtlsApi({
    issuer: env.MTLS_ISSUER,
    clientId: env.MTLS_CLIENT_ID ?? '',
    method:
      env.MTLS_METHOD === 'self_signed_tls_client_auth' ? 'self_signed_tls_client_auth' : 'tls_client_auth',
    cert: env.MTLS_CERT ?? '',
    key: env.MTLS_KEY ?? '',
    ...(env.MTLS_CA ? { ca: env.MTLS_CA } : {}),
    apiOrigin: new URL(env.MTLS_API_URL ?? '').origin,
    ...(env.MTLS_RESOURCE ? { resource: env.MTLS_RESOURCE } : {}),
    ...(env.MTLS_SCOPE ? { scope: env.MTLS_SCOPE } : {}),
  });
  try {
    console.log(`client certificate ${(await tls.certificate()).thumbprint}`);
    const response = await api(env.MTLS_API_URL ?? '');
    console.log(`GET ${env.MTLS_API_URL} → ${response.status}`);
  } finally {
    await tls.close();
  }
} else {
  await runLocal((line) => console.log(line));
}
