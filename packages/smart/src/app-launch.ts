import { AuthrailError, ConfigError, ErrorCodes } from '@authrail/core';
import {
  grantOptionsOf,
  authorizationCode,
  createMemoryStorage,
  createSignInStrategy,
  endpointsAt,
  type ClientPresetOptions,
  type FlowStorage,
  type SignInStrategy,
} from '@authrail/oauth2';

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
  /** Where the pending PKCE verifier, state and the launch context are kept. Default `sessionStorage` in browsers, memory otherwise. */
  storage?: FlowStorage;
  /** Whose tokens these are: your app's session (or user) id; required with a shared `store`. */
  session?: string;
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
  /** The launch context of the sign-in, kept across refreshes (refresh responses need not repeat it). */
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

function defaultStorage(): FlowStorage {
  const session = (globalThis as { sessionStorage?: FlowStorage }).sessionStorage;
  return session ?? createMemoryStorage();
}

/**
 * SMART App Launch for browser apps (a public client with PKCE S256): standalone launch
 * (the app starts the sign-in, `launch/patient` asks the user to pick a patient) and EHR
 * launch (the EHR opens the app with `iss` and `launch`). The server is read from
 * `{fhirBaseUrl}/.well-known/smart-configuration`; `aud` is always the FHIR server; the
 * launch context that comes with the token (`patient`, `encounter`,
 * `need_patient_banner`, `smart_style_url`…) is kept, also across refreshes. It runs on the
 * same sign-in machinery as the Medblocks preset: tokens shared by the app's tabs,
 * refresh with `offline_access` / `online_access`, sign-out with revocation when the
 * server has a revocation endpoint.
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
  if (!options || typeof options !== 'object')
    throw new ConfigError('must be an options object', { option: 'options' });
  const fhir = endpointsAt(options.fhirBaseUrl, { token: '/.well-known/smart-configuration' }, 'fhirBaseUrl');
  if (typeof options.scope !== 'string' || !options.scope.trim())
    throw new ConfigError('must name the scopes, e.g. launch/patient patient/*.rs', { option: 'scope' });
  const scopes = options.scope.trim().split(/\s+/);
  const storage = options.storage ?? defaultStorage();
  const source = authorizationCode({
    server: { metadataUrl: fhir.tokenEndpoint },
    clientId: options.clientId,
    redirectUri: options.redirectUri,
    scope: scopes.join(' '),
    storage,
    ...grantOptionsOf(options),
    storageKey: 'authrail:smart:',
    session: options.session,
  });
  const contextKey = `authrail:smart:${options.clientId}:context`;
  const signIn = createSignInStrategy({
    source,
    strategy: { ...options, origins: options.origins ?? [new URL(fhir.issuer).origin] },
    tabChannel: `authrail:smart:${options.clientId}`,
  });
  /** Reads `launch` from an EHR's launch URL, after checking its `iss` is this FHIR server. */
  const launchFrom = (launchedAt: string | URL | undefined) => {
    if (launchedAt === undefined) return undefined;
    const params = new URL(String(launchedAt)).searchParams;
    const iss = (params.get('iss') ?? '').replace(/\/$/, '');
    const value = params.get('launch');
    if (!value) return undefined;
    if (iss !== fhir.issuer)
      throw new AuthrailError(
        ErrorCodes.AUTHORIZATION_RESPONSE,
        `the launch names another FHIR server (iss ${iss.slice(0, 200) || '(none)'}); this app signs in to ${fhir.issuer} only`,
      );
    return value;
  };
  /** The sign-in's extra parameters: `aud` always; `launch` and the `launch` scope for an EHR launch. */
  const parametersFor = (launchedAt: string | URL | undefined): Record<string, string> => {
    const launch = launchFrom(launchedAt);
    return {
      aud: fhir.issuer,
      ...(launch ? { launch, scope: [...new Set(['launch', ...scopes])].join(' ') } : {}),
    };
  };
  return {
    ...signIn,
    async authorizationUrl(launchedAt) {
      return signIn.authorizationUrl(parametersFor(launchedAt));
    },
    async login(launchedAt) {
      await signIn.login(parametersFor(launchedAt));
    },
    async handleRedirect(url) {
      await signIn.handleRedirect(url);
      const token = await signIn.tokens.peek();
      const context = token ? contextOf(token.extra) : undefined;
      if (context) await storage.setItem(contextKey, JSON.stringify(context));
      else await storage.removeItem(contextKey);
    },
    async launchContext() {
      const token = await signIn.tokens.peek();
      if (!token) return undefined;
      const fresh = contextOf(token.extra);
      if (fresh) return fresh;
      const kept = await storage.getItem(contextKey);
      try {
        return kept ? (JSON.parse(kept) as LaunchContext) : undefined;
      } catch {
        return undefined;
      }
    },
    async logout() {
      await storage.removeItem(contextKey);
      return signIn.logout();
    },
  };
}
