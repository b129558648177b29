// The only authrail code of the process: two strategies, routed by origin, installed as
// undici's global dispatcher. From here on every `fetch` (Node's own, and npm undici's
// `fetch` and `request`) to MSK carries MSK's token and `researchstudy`, every one to
// CTRP carries the Okta token, and every other origin gets no credential at all.
import { Agent, setGlobalDispatcher } from 'undici';
import type { AuthEvents } from '@authrail/core';
import { mskApim } from '@authrail/msk-apim';
import { oktaClientCredentials } from '@authrail/okta';
import { authrail } from '@authrail/undici';

export interface MskConfig {
  /** The APIM base URL, e.g. https://apim.mskcc.org: its origin is routed to MSK's strategy. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  researchStudy: string;
}

export interface CtrpConfig {
  /** The Okta authorization server, e.g. https://nci.okta.com/oauth2/default. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  /** Base of the CTRP API, e.g. https://ctrp.cancer.gov: its origin is routed to the Okta strategy. */
  baseUrl: string;
}

/**
 * Authenticates every request of this process to MSK APIM and NCI CTRP. Returns the
 * agent under the global dispatcher: close it at shutdown.
 */
export function authenticateProcess(msk: MskConfig, ctrp: CtrpConfig, on: AuthEvents = {}): Agent {
  const mskOrigin = new URL(msk.baseUrl).origin;
  const { baseUrl: ctrpBaseUrl, ...okta } = ctrp;
  const ctrpOrigin = new URL(ctrpBaseUrl).origin;
  const agent = new Agent();
  setGlobalDispatcher(
    agent.compose(
      authrail(
        {
          [mskOrigin]: mskApim({ ...msk, on }),
          [ctrpOrigin]: oktaClientCredentials({ ...okta, origins: [ctrpOrigin], on }),
        },
        // Node's fetch hands every body to the dispatcher as a one-shot stream: read the
        // small ones into memory, so a PUT can be sent again after a 401.
        { bufferBodiesUpTo: 1 << 20 },
      ),
    ),
  );
  return agent;
}
