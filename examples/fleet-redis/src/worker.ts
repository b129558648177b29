// One worker of the fleet: what each process of your service does. It builds its
// strategy once, with the Redis store when REDIS_URL is set, and calls the API.
import { Redis } from 'ioredis';
import { createAuthFetch } from '@authrail/fetch';
import { mskApim } from '@authrail/msk-apim';
import { createRedisTokenStore } from '@authrail/redis';

const env = process.env;
const client = env.REDIS_URL ? new Redis(env.REDIS_URL) : undefined;
const store = client ? createRedisTokenStore({ client, logger: console }) : undefined;
const api = createAuthFetch(
  mskApim({
    baseUrl: env.MSK_APIM_BASE_URL!,
    clientId: env.MSK_CLIENT_ID!,
    clientSecret: env.MSK_CLIENT_SECRET!,
    researchStudy: env.MSK_RESEARCH_STUDY!,
    ...(store ? { store } : {}),
  }),
);

let ok = 0;
for (let i = 0; i < Number(env.REQUESTS ?? 5); i += 1) {
  const response = await api(`${env.MSK_APIM_BASE_URL}/msk-apim/external/blaze/fhir/Patient`);
  await response.text();
  if (response.ok) ok += 1;
}
process.send?.({ ok });
await store?.close();
client?.disconnect();
