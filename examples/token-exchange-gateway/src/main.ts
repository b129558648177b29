// Runs against the embedded sandbox unless OKTA_ISSUER, GATEWAY_CLIENT_ID,
// GATEWAY_CLIENT_SECRET, CTRP_BASE_URL, CTRP_AUDIENCE and CALLER_TOKENS (comma-separated
// access tokens of your callers) are set.
import { startSandbox } from '@authrail/sandbox';
import { startGateway, type GatewayConfig } from './gateway.js';
import { callerTokens, GATEWAY_CLIENT, sandboxCallers } from './sandbox-setup.js';

const env = process.env;
const real = env.OKTA_ISSUER && env.GATEWAY_CLIENT_ID && env.GATEWAY_CLIENT_SECRET && env.CTRP_BASE_URL;
const sandbox = real ? undefined : await startSandbox({ clients: sandboxCallers });

const config: GatewayConfig = real
  ? {
      issuer: env.OKTA_ISSUER!,
      tokenEndpoint: `${env.OKTA_ISSUER!}/v1/token`,
      clientId: env.GATEWAY_CLIENT_ID!,
      clientSecret: env.GATEWAY_CLIENT_SECRET!,
      ctrpBaseUrl: env.CTRP_BASE_URL!,
      audience: env.CTRP_AUDIENCE ?? 'api://ctrp',
      scope: env.CTRP_SCOPE ?? 'ctrp.read',
    }
  : {
      issuer: sandbox!.urls.okta.issuer,
      tokenEndpoint: sandbox!.urls.okta.tokenEndpoint,
      ...GATEWAY_CLIENT,
      ctrpBaseUrl: sandbox!.urls.ctrp.baseUrl,
      audience: 'api://ctrp',
      scope: 'ctrp.read',
    };

let exchanges = 0;
const gateway = await startGateway(config, { tokenFetched: () => (exchanges += 1) });
try {
  console.log(
    `gateway at ${gateway.url}, exchanging at ${config.tokenEndpoint} (${real ? 'real Okta' : 'sandbox'})`,
  );
  const tokens = real ? env.CALLER_TOKENS!.split(',') : await callerTokens(sandbox!);
  for (const [i, token] of [...tokens, ...tokens].entries()) {
    const answer = await fetch(`${gateway.url}/trials/NCI-2024-00001/sites/123`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    console.log(
      `  caller ${(i % tokens.length) + 1}: ${answer.status} ${(await answer.text()).replace(/\s+/g, ' ').slice(0, 70)}…`,
    );
  }
  console.log(`  ${exchanges} token exchanges for ${tokens.length} callers and ${tokens.length * 2} calls`);
  const refused = await fetch(`${gateway.url}/trials/NCI-2024-00001/sites/123`, {
    headers: { Authorization: 'Bearer not-a-token-okta-issued' },
  });
  console.log(`  a caller with a token Okta refuses: ${refused.status} ${await refused.text()}`);
} finally {
  await gateway.close();
  await sandbox?.close();
}
