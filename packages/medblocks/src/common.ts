import { endpointsAt, type EndpointPaths, type ServerEndpoints } from '@authrail/oauth2';

/** Medblocks' endpoints under its base URL. */
export function medblocksServer(baseUrl: unknown, paths: Partial<EndpointPaths> = {}): ServerEndpoints {
  return endpointsAt(baseUrl, { token: '/oauth2/token', ...paths });
}
