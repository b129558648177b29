// The container holds real authenticated clients: fetch, ky and axios, all on one
// strategy (one token), and a child container per protocol.
import { container as rootContainer } from 'tsyringe';
import axios, { type AxiosInstance } from 'axios';
import ky, { type KyInstance } from 'ky';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { attachAuth } from '@authrail/axios';
import { createAuthFetch } from '@authrail/fetch';
import { createAuthKy } from '@authrail/ky';
import { mskApim, type MskApimStrategy } from '@authrail/msk-apim';
import { demoClients, startSandbox, type Sandbox } from '@authrail/sandbox';
import {
  AUTH_AXIOS,
  AUTH_FETCH,
  AUTH_KY,
  createAuthChildContainer,
  registerAuthClient,
  registerAuthStrategy,
} from '@authrail/tsyringe';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox();
});
afterAll(() => sb.close());
afterEach(() => {
  sb.reset();
  rootContainer.reset();
});

function configure() {
  const container = rootContainer.createChildContainer();
  registerAuthStrategy(container, () =>
    mskApim({
      baseUrl: sb.urls.mskApim.baseUrl,
      clientId: demoClients.mskApim.clientId,
      clientSecret: demoClients.mskApim.clientSecret,
      researchStudy: '17-001',
    }),
  );
  registerAuthClient(container, AUTH_FETCH, (strategy) => createAuthFetch(strategy));
  registerAuthClient(container, AUTH_KY, (strategy) => createAuthKy(strategy, { ky }));
  registerAuthClient(container, AUTH_AXIOS, (strategy) => {
    const instance = axios.create();
    attachAuth(instance, strategy);
    return instance;
  });
  return container;
}

test('fetch, ky and axios clients from one container share one token', async () => {
  const container = configure();
  const url = `${sb.urls.mskApim.fhirBaseUrl}/Patient`;
  const viaFetch = await container.resolve(AUTH_FETCH)(url);
  const viaKy = await container.resolve<KyInstance>(AUTH_KY).get(url);
  const viaAxios = await container.resolve<AxiosInstance>(AUTH_AXIOS).get(url);
  expect([viaFetch.status, viaKy.status, viaAxios.status]).toEqual([200, 200, 200]);
  expect(sb.tokenRequests()).toHaveLength(1);
  expect(sb.resourceRequests({ route: 'msk-fhir' }).map((r) => r.query.researchstudy)).toEqual([
    '17-001',
    '17-001',
    '17-001',
  ]);
});

test('a child container per protocol: its clients carry its protocol, with the same token', async () => {
  const container = configure();
  const child = createAuthChildContainer(container, (parent) =>
    (parent as MskApimStrategy).withResearchStudy('12-245'),
  );
  const url = `${sb.urls.mskApim.fhirBaseUrl}/Patient`;
  await container.resolve<KyInstance>(AUTH_KY).get(url);
  await child.resolve<KyInstance>(AUTH_KY).get(url);
  await child.resolve<AxiosInstance>(AUTH_AXIOS).get(url);
  expect(sb.resourceRequests({ route: 'msk-fhir' }).map((r) => r.query.researchstudy)).toEqual([
    '17-001',
    '12-245',
    '12-245',
  ]);
  expect(sb.tokenRequests()).toHaveLength(1);
});
