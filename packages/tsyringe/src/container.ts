import { ConfigError, type AuthStrategy } from '@authrail/core';
import type { DependencyContainer, InjectionToken } from 'tsyringe';

/** Injection token of the container's {@link AuthStrategy} (one per container, shared by all its clients). */
export const AUTH_STRATEGY: InjectionToken<AuthStrategy> = Symbol.for('@authrail/tsyringe:AuthStrategy');
/** Injection token for an authenticated `fetch` (`@authrail/fetch`'s `createAuthFetch`). */
export const AUTH_FETCH: InjectionToken<typeof fetch> = Symbol.for('@authrail/tsyringe:AuthFetch');
/**
 * Injection token for an authenticated ky instance (`@authrail/ky`'s `createAuthKy`).
 * A plain symbol, so you name the type you resolve: `container.resolve<KyInstance>(AUTH_KY)`.
 */
export const AUTH_KY: symbol = Symbol.for('@authrail/tsyringe:AuthKy');
/**
 * Injection token for an axios instance with authrail attached (`@authrail/axios`'s
 * `attachAuth`): `container.resolve<AxiosInstance>(AUTH_AXIOS)`.
 */
export const AUTH_AXIOS: symbol = Symbol.for('@authrail/tsyringe:AuthAxios');

/** A strategy, or a function that builds it from the container (called once, on first use). */
export type AuthStrategyProvider = AuthStrategy | ((container: DependencyContainer) => AuthStrategy);

/** Builds an authenticated client from a strategy, e.g. `createAuthFetch` or `(s) => createAuthKy(s)`. */
export type AuthClientFactory<T> = (strategy: AuthStrategy) => T;

function isStrategy(value: unknown): value is AuthStrategy {
  return typeof (value as Partial<AuthStrategy> | undefined)?.send === 'function';
}

function checkContainer(container: DependencyContainer): void {
  if (typeof container?.register !== 'function' || typeof container.resolve !== 'function') {
    throw new ConfigError('must be a tsyringe DependencyContainer', { option: 'container' });
  }
}

/**
 * Registers the container's strategy as a singleton: every client and class resolved
 * from this container shares one strategy, so one token and one refresh for all.
 *
 * @throws `ConfigError` (from `@authrail/core`) when `strategy` is neither a strategy nor a function
 */
export function registerAuthStrategy(container: DependencyContainer, strategy: AuthStrategyProvider): void {
  checkContainer(container);
  if (isStrategy(strategy)) {
    container.register(AUTH_STRATEGY, { useValue: strategy });
    return;
  }
  if (typeof strategy !== 'function') {
    throw new ConfigError('must be an AuthStrategy or a function returning one', { option: 'strategy' });
  }
  let built: AuthStrategy | undefined;
  container.register(AUTH_STRATEGY, {
    useFactory: (resolving) => {
      if (built) return built;
      const value = strategy(resolving);
      if (!isStrategy(value)) {
        throw new ConfigError('the factory did not return an AuthStrategy', { option: 'strategy' });
      }
      built = value;
      return built;
    },
  });
}

/** Resolves the {@link AuthStrategy} that applies in `container` (its own, or its parent's). */
export function resolveAuthStrategy(container: DependencyContainer): AuthStrategy {
  return container.resolve(AUTH_STRATEGY);
}

/**
 * Registers an authenticated client under `token`. The client is built once per
 * container from the strategy that container resolves, so a child container made with
 * {@link createAuthChildContainer} gets its own client bound to its own strategy.
 *
 * @example
 * ```ts
 * registerAuthClient(container, AUTH_FETCH, createAuthFetch);
 * registerAuthClient(container, AUTH_KY, (strategy) => createAuthKy(strategy, { timeout: 10_000 }));
 * registerAuthClient(container, AUTH_AXIOS, (strategy) => {
 *   const instance = axios.create({ baseURL });
 *   attachAuth(instance, strategy);
 *   return instance;
 * });
 * ```
 */
export function registerAuthClient<T>(
  container: DependencyContainer,
  token: InjectionToken<T>,
  create: AuthClientFactory<T>,
): void {
  checkContainer(container);
  if (typeof create !== 'function') {
    throw new ConfigError('must be a function that builds a client from a strategy', { option: 'create' });
  }
  const perContainer = new WeakMap<DependencyContainer, T>();
  container.register(token, {
    useFactory: (resolving) => {
      if (perContainer.has(resolving)) return perContainer.get(resolving) as T;
      const client = create(resolving.resolve(AUTH_STRATEGY));
      perContainer.set(resolving, client);
      return client;
    },
  });
}

/**
 * Creates a child container whose strategy is derived from the parent's, e.g. the same
 * MSK client bound to another protocol. Clients registered on the parent with
 * {@link registerAuthClient} resolve in the child with the child's strategy.
 *
 * @example
 * ```ts
 * const study20123 = createAuthChildContainer(container, (parent) => (parent as MskApimStrategy).withResearchStudy('20-123'));
 * const api = study20123.resolve<typeof fetch>(AUTH_FETCH); // ?researchstudy=20-123, same token
 * ```
 */
export function createAuthChildContainer(
  container: DependencyContainer,
  derive: (parent: AuthStrategy) => AuthStrategy,
): DependencyContainer {
  checkContainer(container);
  if (typeof derive !== 'function') {
    throw new ConfigError('must be a function deriving a strategy from the parent one', { option: 'derive' });
  }
  const parent = container.resolve(AUTH_STRATEGY);
  const child = container.createChildContainer();
  registerAuthStrategy(child, derive(parent));
  return child;
}
