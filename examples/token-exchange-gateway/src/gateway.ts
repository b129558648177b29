// An HTTP service in front of NCI CTRP that calls it as whoever called the service: the
// caller's bearer token is put in an AsyncLocalStorage for the request, and the token
// exchange strategy reads it from there, exchanges it once per caller (RFC 8693), and
// sends the exchanged token downstream. A caller whose token the server refuses gets 401.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isNotAuthenticatedError, type AuthEvents } from '@authrail/core';
import { createAuthFetch } from '@authrail/fetch';
import { clientSecretBasic, createTokenExchangeStrategy } from '@authrail/oauth2';

export interface GatewayConfig {
  /** The Okta authorization server that exchanges tokens. */
  issuer: string;
  tokenEndpoint: string;
  /** This service's own client at Okta (the token exchange grant enabled). */
  clientId: string;
  clientSecret: string;
  /** The downstream API: NCI CTRP's accrual services base URL. */
  ctrpBaseUrl: string;
  /** The audience of the exchanged tokens, as the authorization server names CTRP. */
  audience: string;
  scope: string;
}

export interface Gateway {
  url: string;
  close(): Promise<void>;
}

/** The caller's token, for the duration of one request. */
const caller = new AsyncLocalStorage<{ token: string }>();

/** Starts the service on 127.0.0.1: `GET /trials/{id}/sites/{poId}` answers CTRP's accrual summary. */
export async function startGateway(config: GatewayConfig, on: AuthEvents = {}): Promise<Gateway> {
  const ctrp = createAuthFetch(
    createTokenExchangeStrategy({
      server: { issuer: config.issuer, tokenEndpoint: config.tokenEndpoint },
      clientId: config.clientId,
      clientAuth: clientSecretBasic(config.clientSecret),
      subjectToken: () => caller.getStore()?.token,
      audience: config.audience,
      scope: config.scope,
      origins: [new URL(config.ctrpBaseUrl).origin],
      on,
    }),
  );
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const route = /^\/trials\/([\w-]+)\/sites\/(\d+)$/.exec(req.url ?? '');
    if (!route) return send(res, 404, 'not found');
    if (!token) return send(res, 401, 'a bearer token is required', { 'WWW-Authenticate': 'Bearer' });
    try {
      const answer = await caller.run({ token }, () =>
        ctrp(`${config.ctrpBaseUrl}/accrual-services/trials/nci/${route[1]}/sites/po/${route[2]}`),
      );
      send(res, answer.status, await answer.text(), {
        'Content-Type': answer.headers.get('content-type') ?? 'text/plain',
      });
    } catch (error) {
      // No token for the caller (expired, revoked, not for us): their 401, not our 500.
      if (isNotAuthenticatedError(error))
        return send(res, 401, 'your token was refused', {
          'WWW-Authenticate': 'Bearer error="invalid_token"',
        });
      send(res, 502, 'the downstream call failed');
    }
  };
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', ...headers });
  res.end(body);
}
