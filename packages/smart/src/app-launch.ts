import {
  AuthrailError,
  ConfigError,
  ErrorCodes,
  createTabTokenStore,
  type AuthRequest,
  type AuthResponse,
  type SendOptions,
  type Transport,
} from '@authrail/core';
import {
  clientPresetOptionsOf,
  authorizationCode,
  clientSecretBasic,
  createMemoryStorage,
  createSignInStrategy,
  endpointsAt,
  type AssertionSigner,
  type AuthorizationCodeSource,
  type ClientAuthentication,
  type ClientPresetOptions,
  type FlowStorage,
  type GrantOptions,
  type PrivateKeyInput,
  type SecretInput,
  type SignInStrategy,
  type SignInStrategyOptions,
} from '@authrail/oauth2';
import { assertionClient, configurationCheck } from './client-auth.js';

/** Options of {@link smartAppLaunch}. */
export interface SmartAppLaunchOptions extends ClientPresetOptions {
  /** The FHIR server's base URL: the `aud` of every sign-in, the origin tokens go to, where the SMART configuration is. */
  fhirBaseUrl: string;
  /** Where the server sends the browser back to (registered with the client). */
  redirectUri: string;
  /**
   * Scopes, space separated. Standalone launch: `launch/patient` and the data scopes
   * (`patient/*.rs`); EHR launch: `launch` (added when you launch from an EHR). Add
   * `offline_access` (or `online_access`) for a refresh token.
   */
  scope: string;
  /**
   * Where the pending PKCE verifier and state, the launch a tab is in and its context are
   * kept. Default `sessionStorage` in browsers (each tab its own), memory otherwise.
   */
  storage?: FlowStorage;
  /** Whose tokens these are: your app's session (or user) id; required with a shared `store`. */
  session?: string;
  /**
   * A confidential symmetric client (SMART's `client-confidential-symmetric`: an app whose
   * server side keeps a secret): the secret, sent with HTTP Basic (`client_secret_basic`),
   * or a function that reads it (read again after `invalid_client`). Never in a browser
   * page: a page cannot keep a secret. Give at most one of `clientSecret`, `privateKey` and
   * `signer`; with none the app is a public client (`client-public`: PKCE, no secret).
   */
  clientSecret?: SecretInput;
  /**
   * A confidential asymmetric client (SMART's `client-confidential-asymmetric`): the
   * private key its assertions are signed with (`private_key_jwt`), RS384 or ES384, with
   * the `kid` it is registered under (`{ key, kid }`), or a function returning one.
   */
  privateKey?: PrivateKeyInput | (() => PrivateKeyInput | Promise<PrivateKeyInput>);
  /** A confidential asymmetric client whose key lives in a KMS or HSM: signs its assertions. */
  signer?: AssertionSigner;
}

/**
 * The launch context that came with the token (SMART App Launch 2.x, "Launch context
 * arrives with your access_token"): who and what the app was opened for.
 */
export interface LaunchContext {
  /** The patient in context (`Patient/{id}` is its resource). */
  patient?: string;
  /** The encounter in context. */
  encounter?: string;
  /** The user, as a FHIR resource URL (`Practitioner/…`): the ID token's claim, with scopes `openid fhirUser`. */
  fhirUser?: string;
  /** Whether the app must show a patient banner (the EHR does not). */
  needPatientBanner?: boolean;
  /** Where the EHR's style sheet for embedded apps is. */
  smartStyleUrl?: string;
  /** The EHR's tenant, when it has several. */
  tenant?: string;
  /** What the user wants to do, when the EHR says (`reconcile-medications`…). */
  intent?: string;
  /** More resources in context (SMART 2.x `fhirContext`). */
  fhirContext?: unknown[];
}

/** The strategy {@link smartAppLaunch} returns: a sign-in strategy for every adapter, launch-aware. */
export interface SmartAppLaunchStrategy extends Omit<SignInStrategy, 'authorizationUrl' | 'login'> {
  /**
   * The authorize URL. Given the URL your app was launched at by an EHR (`?iss=…&launch=…`),
   * an EHR launch: `iss` must be this strategy's FHIR server (anything else is refused:
   * tokens never go to a server a link names), and `launch` is passed on with the
   * `launch` scope. Without it, a standalone launch.
   */
  authorizationUrl(launchedAt?: string | URL): Promise<URL>;
  /** Browser: navigates to {@link authorizationUrl} (an EHR launch when given the launch URL). */
  login(launchedAt?: string | URL): Promise<void>;
  /**
   * The launch context of this tab's launch. A refresh keeps what it does not restate
   * (SMART servers give context at launch) and updates what it does.
   */
  launchContext(): Promise<LaunchContext | undefined>;
}

const CONTEXT_FIELDS: Record<string, keyof LaunchContext> = {
  patient: 'patient',
  encounter: 'encounter',
  fhirUser: 'fhirUser',
  need_patient_banner: 'needPatientBanner',
  smart_style_url: 'smartStyleUrl',
  tenant: 'tenant',
  intent: 'intent',
  fhirContext: 'fhirContext',
};

function contextOf(extra: Readonly<Record<string, unknown>>): LaunchContext | undefined {
  const context: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(CONTEXT_FIELDS))
    if (extra[field] !== undefined) context[name] = extra[field];
  // fhirUser is an ID token claim (scopes `openid fhirUser`).
  const fhirUser = (extra.idTokenClaims as { fhirUser?: unknown } | undefined)?.fhirUser;
  if (context.fhirUser === undefined && typeof fhirUser === 'string') context.fhirUser = fhirUser;
  return Object.keys(context).length ? (context as LaunchContext) : undefined;
}

/** Whether a sign-in's context names a patient or an encounter: then it is a launch of its own. */
function isPatientContext(context: LaunchContext | undefined): boolean {
  return (
    !!context &&
    (context.patient !== undefined || context.encounter !== undefined || !!context.fhirContext?.length)
  );
}

function parseJson(raw: string | null): unknown {
  try {
    return raw ? (JSON.parse(raw) as unknown) : undefined;
  } catch {
    return undefined; // not ours: treated as nothing stored
  }
}

function defaultStorage(): FlowStorage {
  const session = (globalThis as { sessionStorage?: FlowStorage }).sessionStorage;
  return session ?? createMemoryStorage();
}

/**
 * The authorization code source of the app: PKCE always, the client authenticated as it
 * is registered. Every sign-in starts here: an EHR launch is remembered by the sign-in's
 * state, so its redirect knows which launch its token is for.
 */
function appSource(
  options: SmartAppLaunchOptions,
  grant: GrantOptions,
  at: {
    tokenEndpoint: string;
    scopes: readonly string[];
    storage: FlowStorage;
    memory: ReturnType<typeof tabMemory>;
  },
): AuthorizationCodeSource {
  const { clientAuth, check } = appClient(options);
  const base = authorizationCode({
    server: { metadataUrl: at.tokenEndpoint, ...(check ? { check } : {}) },
    clientId: options.clientId,
    redirectUri: options.redirectUri,
    scope: at.scopes.join(' '),
    storage: at.storage,
    ...(clientAuth ? { clientAuth } : {}),
    ...grant,
    storageKey: 'authrail:smart:',
    session: options.session,
  });
  return {
    ...base,
    async authorizationUrl(parameters, call) {
      const url = await base.authorizationUrl(parameters, call);
      if (parameters?.launch) await at.memory.remember(url.searchParams.get('state')!, parameters.launch);
      return url;
    },
  };
}

/** How the client authenticates: public (PKCE only), a secret with HTTP Basic, or assertions. */
function appClient(options: SmartAppLaunchOptions): {
  clientAuth?: ClientAuthentication;
  check?: ReturnType<typeof configurationCheck>;
} {
  const given = (['clientSecret', 'privateKey', 'signer'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1)
    throw new ConfigError(
      `give at most one of clientSecret, privateKey and signer, not ${given.join(' and ')}`,
      {
        option: given[1]!,
      },
    );
  if (options.clientSecret !== undefined)
    return {
      clientAuth: clientSecretBasic(options.clientSecret),
      check: configurationCheck('client_secret_basic'),
    };
  return given.length ? assertionClient(options) : {};
}

/**
 * SMART App Launch: standalone launch (the app starts the sign-in, `launch/patient` asks
 * the user to pick a patient) and EHR launch (the EHR opens the app with `iss` and
 * `launch`). The server is read from `{fhirBaseUrl}/.well-known/smart-configuration`;
 * `aud` is always the FHIR server; PKCE S256 and state are always on. The client is
 * public by default; `clientSecret` (`client_secret_basic`) or `privateKey` / `signer`
 * (`private_key_jwt`) make it confidential, for an app with a server side.
 *
 * One launch, one token, one context. Each EHR launch (each `launch` of the FHIR server)
 * and each standalone sign-in that picks a patient has its own token and launch context,
 * and a tab keeps the launch it was opened for: two tabs launched for two patients each
 * read their own patient. Tabs share a token only within one launch (a tab opened from
 * it, the same launch opened again), or, for a sign-in without patient context, as one
 * user's sign-in (a tab opened later is signed in). The context (`patient`, `encounter`,
 * `need_patient_banner`, `smart_style_url`, `fhirUser`…) is kept across refreshes: what a
 * refresh does not restate stays. Refresh with `offline_access` / `online_access`;
 * sign-out with revocation when the server has a revocation endpoint.
 *
 * @throws `ConfigError` (from `@authrail/core`) naming the option, for bad options
 * @example
 * ```ts
 * const smart = smartAppLaunch({
 *   fhirBaseUrl: 'https://ehr.example.org/fhir',
 *   clientId: 'growth-chart',
 *   redirectUri: `${location.origin}/callback`,
 *   scope: 'launch/patient patient/Observation.rs offline_access',
 * });
 * const here = new URL(location.href);
 * if (here.searchParams.has('launch')) await smart.login(here); // opened from the EHR
 * else if (here.searchParams.has('code')) await smart.handleRedirect(here);
 * const { patient } = (await smart.launchContext()) ?? {};
 * ```
 * @see https://hl7.org/fhir/smart-app-launch/app-launch.html
 */
export function smartAppLaunch(options: SmartAppLaunchOptions): SmartAppLaunchStrategy {
  const { preset, grant } = clientPresetOptionsOf(options, [
    'fhirBaseUrl',
    'redirectUri',
    'scope',
    'storage',
    'session',
    'clientSecret',
    'privateKey',
    'signer',
  ]);
  const fhir = endpointsAt(options.fhirBaseUrl, { token: '/.well-known/smart-configuration' }, 'fhirBaseUrl');
  if (typeof options.scope !== 'string' || !options.scope.trim())
    throw new ConfigError('must name the scopes, e.g. launch/patient patient/*.rs', { option: 'scope' });
  const scopes = options.scope.trim().split(/\s+/);
  const storage = options.storage ?? defaultStorage();
  const name = `authrail:smart:${options.clientId}`;
  const memory = tabMemory(storage, name);
  const source = appSource(options, grant, { tokenEndpoint: fhir.tokenEndpoint, scopes, storage, memory });
  // In a page, one tab store for every launch: each launch's tokens under their own key.
  const inPage = typeof (globalThis as { document?: unknown }).document === 'object';
  const store = options.store ?? (inPage ? createTabTokenStore({ name }) : undefined);
  const signInOf = launchSignIns(source, {
    strategy: {
      ...preset,
      origins: preset.origins ?? [new URL(fhir.issuer).origin],
      ...(store ? { store } : {}),
    },
    session: options.session,
    tabChannel: name,
  });
  const user = signInOf(USER); // built now, so bad core options fail at construction
  const active = async () => signInOf(await memory.current());

  const parametersFor = (launchedAt: string | URL | undefined) =>
    signInParameters(fhir.issuer, scopes, launchedAt);
  const attemptTimeoutMs = options.retry?.attemptTimeoutMs;
  return {
    // The tokens of this tab's launch, whichever it is.
    tokens: launchTokens(source, memory, signInOf, active),
    send<R extends AuthResponse>(request: AuthRequest, next: Transport<R>, sendOptions?: SendOptions) {
      const launch = memory.currentNow();
      return launch === undefined
        ? active().then((signIn) => signIn.send(request, next, sendOptions))
        : signInOf(launch).send(request, next, sendOptions);
    },
    authorizationUrl: async (launchedAt) => user.authorizationUrl(parametersFor(launchedAt)),
    login: async (launchedAt) => user.login(parametersFor(launchedAt)),
    handleRedirect: (url) => completeLaunch(source, memory, signInOf, url, attemptTimeoutMs),
    isSignedIn: async () => (await active()).isSignedIn(),
    async launchContext() {
      const token = await (await active()).tokens.peek();
      return token ? memory.context(contextOf(token.extra)) : undefined;
    },
    async logout() {
      const signIn = await active();
      const left = await memory.enter(USER, undefined);
      if (left !== undefined) signInOf.forget(left);
      return signIn.logout();
    },
  };
}

type TabMemory = ReturnType<typeof tabMemory>;
type LaunchSignIns = ReturnType<typeof launchSignIns>;

/**
 * {@link SmartAppLaunchStrategy.tokens}: the tokens of this tab's launch, whichever it is.
 * `active` resolves that launch's sign-in.
 */
function launchTokens(
  source: AuthorizationCodeSource,
  memory: TabMemory,
  signInOf: LaunchSignIns,
  active: () => Promise<SignInStrategy>,
): SmartAppLaunchStrategy['tokens'] {
  return {
    getToken: async (getOptions) => (await active()).tokens.getToken(getOptions),
    invalidate: async (token) => (await active()).tokens.invalidate(token),
    setToken: async (token) => (await active()).tokens.setToken(token),
    clear: async () => (await active()).tokens.clear(),
    peek: async () => (await active()).tokens.peek(),
    getTokenNow() {
      const launch = memory.currentNow();
      return launch === undefined ? undefined : signInOf(launch).tokens.getTokenNow?.();
    },
    // Every launch's tokens are bound to the one key of the source, when they are.
    ...(source.dpop ? { dpop: source.dpop } : {}),
  };
}

/**
 * {@link SmartAppLaunchStrategy.handleRedirect}: exchanges the code, then keeps the token
 * under the launch it belongs to (the EHR launch its state began, a standalone launch with
 * patient context, or the user's) and makes that launch this tab's.
 */
async function completeLaunch(
  source: AuthorizationCodeSource,
  memory: TabMemory,
  signInOf: LaunchSignIns,
  url: string | URL,
  attemptTimeoutMs: number | undefined,
): Promise<void> {
  const token = await source.handleRedirect(
    url,
    attemptTimeoutMs === undefined ? {} : { signal: AbortSignal.timeout(attemptTimeoutMs) },
  );
  const state = new URL(String(url)).searchParams.get('state');
  const ehrLaunch = await memory.take(state);
  const context = contextOf(token.extra);
  const launch =
    ehrLaunch !== undefined ? `launch ${ehrLaunch}` : isPatientContext(context) ? `sign-in ${state}` : USER;
  await signInOf(launch).tokens.setToken(token);
  const left = await memory.enter(launch, context);
  if (left !== undefined) signInOf.forget(left);
}

/** The tokens of the sign-in with no patient context: shared by the tabs, as one user's. */
const USER = '';

/**
 * A sign-in's authorize parameters: `aud` always; for an EHR launch (`launchedAt` has
 * `launch`), `launch` and the `launch` scope, after checking that its `iss` is this FHIR
 * server (tokens never go to a server a link names).
 */
function signInParameters(
  issuer: string,
  scopes: readonly string[],
  launchedAt: string | URL | undefined,
): Record<string, string> {
  const params = launchedAt === undefined ? undefined : new URL(String(launchedAt)).searchParams;
  const launch = params?.get('launch');
  if (!launch) return { aud: issuer };
  const iss = (params!.get('iss') ?? '').replace(/\/$/, '');
  if (iss !== issuer)
    throw new AuthrailError(
      ErrorCodes.AUTHORIZATION_RESPONSE,
      `the launch names another FHIR server (iss ${iss.slice(0, 200) || '(none)'}); this app signs in to ${issuer} only`,
    );
  return { aud: issuer, launch, scope: [...new Set(['launch', ...scopes])].join(' ') };
}

/** How long an EHR launch waits for its redirect: as long as the sign-in it started. */
const PENDING_LAUNCH_MS = 10 * 60_000;

/** Pending EHR launches by the state of their sign-in, until the redirect comes back. */
type PendingLaunches = Record<string, { launch: string; at: number }>;

/**
 * What a tab remembers in its own storage (`sessionStorage`): the EHR launches its
 * sign-ins were for, the launch it is in, and that launch's context.
 */
function tabMemory(storage: FlowStorage, name: string) {
  const launchesKey = `${name}:launches`;
  const currentKey = `${name}:launch`;
  const contextKey = (launch: string) => `${name}:context:${launch}`;
  // Read once: this tab alone changes it.
  let current: string | undefined;

  async function pending(): Promise<PendingLaunches> {
    const value = parseJson(await storage.getItem(launchesKey));
    const entries = typeof value === 'object' && value !== null ? Object.entries(value) : [];
    return Object.fromEntries(
      entries.filter(
        ([, e]) =>
          typeof (e as PendingLaunches[string])?.launch === 'string' &&
          Date.now() - (e as PendingLaunches[string]).at < PENDING_LAUNCH_MS,
      ),
    ) as PendingLaunches;
  }
  async function write(launches: PendingLaunches): Promise<void> {
    if (Object.keys(launches).length) await storage.setItem(launchesKey, JSON.stringify(launches));
    else await storage.removeItem(launchesKey);
  }
  async function currentLaunch(): Promise<string> {
    if (current === undefined) {
      const stored = await storage.getItem(currentKey);
      current ??= stored ?? USER;
    }
    return current;
  }

  return {
    /** Remembers that the sign-in with `state` is for the EHR's `launch`. */
    async remember(state: string, launch: string): Promise<void> {
      await write({ ...(await pending()), [state]: { launch, at: Date.now() } });
    },
    /** The EHR launch the sign-in with `state` was for, if any (used up). */
    async take(state: string | null): Promise<string | undefined> {
      const launches = await pending();
      const entry = state === null ? undefined : launches[state];
      if (entry) delete launches[state!];
      await write(launches);
      return entry?.launch;
    },
    current: currentLaunch,
    /** The launch, when already read: requests need not wait for the storage. */
    currentNow: () => current,
    /**
     * This tab is now in `launch`, with the context its token came with. Returns the
     * launch it left, if another.
     */
    async enter(launch: string, context: LaunchContext | undefined): Promise<string | undefined> {
      const previous = await currentLaunch();
      if (previous !== launch) await storage.removeItem(contextKey(previous));
      current = launch;
      if (launch === USER) await storage.removeItem(currentKey);
      else await storage.setItem(currentKey, launch);
      if (context) await storage.setItem(contextKey(launch), JSON.stringify(context));
      else await storage.removeItem(contextKey(launch));
      return previous !== launch ? previous : undefined;
    },
    /** The launch's context: what was kept, updated with what the current token restates. */
    async context(restated: LaunchContext | undefined): Promise<LaunchContext | undefined> {
      const key = contextKey(await currentLaunch());
      const kept = parseJson(await storage.getItem(key)) as LaunchContext | undefined;
      const context = { ...kept, ...restated };
      if (restated && JSON.stringify(context) !== JSON.stringify(kept))
        await storage.setItem(key, JSON.stringify(context));
      return Object.keys(context).length ? context : undefined;
    },
  };
}

/**
 * The sign-ins of one app, a launch each: the user's (no patient context) on the source's
 * own session, every other launch on a session of its own, so each has its own token in
 * the store, under its own key.
 */
function launchSignIns(
  source: AuthorizationCodeSource,
  options: Omit<SignInStrategyOptions, 'source'> & { session: string | undefined },
) {
  const signIns = new Map<string, SignInStrategy>();
  const signInOf = (launch: string): SignInStrategy => {
    let signIn = signIns.get(launch);
    if (!signIn) {
      const session = [options.session, launch].filter(Boolean).join(' ');
      signIn = createSignInStrategy({
        source: launch === USER ? source : { ...source, identity: { ...source.identity, session } },
        strategy: options.strategy,
        tabChannel: options.tabChannel,
      });
      signIns.set(launch, signIn);
    }
    return signIn;
  };
  /** Drops a launch this tab left (its token stays in the store for the other tabs of it). */
  signInOf.forget = (launch: string) => {
    if (launch !== USER) signIns.delete(launch);
  };
  return signInOf;
}
