import { container as rootContainer, inject, injectable } from 'tsyringe';
import { afterEach, describe, expect, test } from 'vitest';
import { ConfigError, createStaticTokenStrategy, type AuthStrategy } from '@authrail/core';
import {
  AUTH_FETCH,
  AUTH_STRATEGY,
  createAuthChildContainer,
  registerAuthClient,
  registerAuthStrategy,
  resolveAuthStrategy,
} from '@authrail/tsyringe';

const API = 'https://api.example.org';

/** A client that records which strategy built it; the adapters' own tests cover real HTTP. */
function clientFactory() {
  const built: AuthStrategy[] = [];
  return {
    built,
    create: (strategy: AuthStrategy) => (built.push(strategy), { strategy }) as unknown as typeof fetch,
  };
}

afterEach(() => rootContainer.reset());

describe('registerAuthStrategy', () => {
  test('a factory runs once, lazily: every consumer shares one strategy', () => {
    const container = rootContainer.createChildContainer();
    let calls = 0;
    registerAuthStrategy(container, () => {
      calls += 1;
      return createStaticTokenStrategy({ token: 'tok-1234', origins: [API] });
    });
    expect(calls).toBe(0);
    const a = resolveAuthStrategy(container);
    const b = container.resolve(AUTH_STRATEGY);
    expect(a).toBe(b);
    expect(calls).toBe(1);
  });

  test('an instance is registered as it is', () => {
    const container = rootContainer.createChildContainer();
    const strategy = createStaticTokenStrategy({ token: 'tok-1234', origins: [API] });
    registerAuthStrategy(container, strategy);
    expect(resolveAuthStrategy(container)).toBe(strategy);
  });

  test('bad arguments fail naming the option', () => {
    const container = rootContainer.createChildContainer();
    expect(() => registerAuthStrategy(container, 'nope' as never)).toThrow(/^strategy:/);
    expect(() =>
      registerAuthStrategy({} as never, () => createStaticTokenStrategy({ token: 'abcd', origins: [API] })),
    ).toThrow(ConfigError);
    registerAuthStrategy(container, () => ({}) as AuthStrategy);
    expect(() => resolveAuthStrategy(container)).toThrow(/did not return an AuthStrategy/);
    expect(() => registerAuthClient(container, AUTH_FETCH, 'x' as never)).toThrow(/^create:/);
    expect(() => createAuthChildContainer(container, 'x' as never)).toThrow(/^derive:/);
  });
});

describe('registerAuthClient and child containers', () => {
  test('classes get the client injected; one client per container', () => {
    const container = rootContainer.createChildContainer();
    const strategy = createStaticTokenStrategy({ token: 'tok-1234', origins: [API] });
    const factory = clientFactory();
    registerAuthStrategy(container, strategy);
    registerAuthClient(container, AUTH_FETCH, factory.create);

    @injectable()
    class PatientService {
      constructor(@inject(AUTH_FETCH) readonly api: typeof fetch) {}
    }
    @injectable()
    class AccrualService {
      constructor(@inject(AUTH_FETCH) readonly api: typeof fetch) {}
    }
    const patients = container.resolve(PatientService);
    const accrual = container.resolve(AccrualService);
    expect(patients.api).toBe(accrual.api);
    expect(factory.built).toEqual([strategy]);
  });

  test('a child container gets a client bound to its derived strategy', () => {
    const container = rootContainer.createChildContainer();
    const parentStrategy = createStaticTokenStrategy({ token: 'tok-1234', origins: [API] });
    const childStrategy = createStaticTokenStrategy({ token: 'tok-5678', origins: [API] });
    const factory = clientFactory();
    registerAuthStrategy(container, parentStrategy);
    registerAuthClient(container, AUTH_FETCH, factory.create);
    let derivedFrom: AuthStrategy | undefined;
    const child = createAuthChildContainer(container, (parent) => {
      derivedFrom = parent;
      return childStrategy;
    });
    expect(derivedFrom).toBe(parentStrategy);
    expect(resolveAuthStrategy(child)).toBe(childStrategy);
    const parentClient = container.resolve(AUTH_FETCH);
    const childClient = child.resolve(AUTH_FETCH);
    expect(childClient).not.toBe(parentClient);
    expect(child.resolve(AUTH_FETCH)).toBe(childClient);
    expect(factory.built).toEqual([parentStrategy, childStrategy]);
  });
});
