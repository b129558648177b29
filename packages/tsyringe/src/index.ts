/**
 * `@authrail/tsyringe`: put an authrail strategy and authenticated HTTP clients into a
 * tsyringe container. The package imports only tsyringe's types, so it needs no
 * decorators and no `reflect-metadata` of its own; your classes use `@inject(...)` with
 * the tokens below as usual.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * import { container, inject, injectable } from 'tsyringe';
 * import { createAuthFetch } from '@authrail/fetch';
 * import { mskApim } from '@authrail/msk-apim';
 * import { AUTH_FETCH, registerAuthClient, registerAuthStrategy } from '@authrail/tsyringe';
 *
 * registerAuthStrategy(container, () => mskApim({ baseUrl, clientId, clientSecret, researchStudy: '17-001' }));
 * registerAuthClient(container, AUTH_FETCH, createAuthFetch);
 *
 * @injectable()
 * class PatientService {
 *   constructor(@inject(AUTH_FETCH) private readonly api: typeof fetch) {}
 * }
 * ```
 *
 * @packageDocumentation
 */
export {
  AUTH_AXIOS,
  AUTH_FETCH,
  AUTH_KY,
  AUTH_STRATEGY,
  createAuthChildContainer,
  registerAuthClient,
  registerAuthStrategy,
  resolveAuthStrategy,
  type AuthClientFactory,
  type AuthStrategyProvider,
} from './container.js';
