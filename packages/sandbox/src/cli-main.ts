// The CLI as a function (`runCli`), so it can be tested without a child process; the
// `authrail-sandbox` bin (cli.ts) only adds signal handling around it.
import { demoClients } from './clients.js';
import { startSandbox, type Sandbox } from './sandbox.js';

/**
 * Options of {@link runCli}.
 *
 * @example
 * ```ts
 * let out = '';
 * const handle = await runCli(['--port', '0'], { stdout: { write: (text) => (out += text) } });
 * ```
 */
export interface CliOptions {
  /** Where to print. Default `process.stdout`. */
  stdout?: {
    /** Writes text. */
    write(text: string): unknown;
  };
}

/**
 * A sandbox started by {@link runCli}.
 *
 * @example
 * ```ts
 * const handle = await runCli(['--port', '0']);
 * console.log(handle?.sandbox.url);
 * await handle?.close();
 * ```
 */
export interface CliHandle {
  /** The running sandbox. */
  sandbox: Sandbox;
  /** Stops it: closes both listeners and every connection. Never hangs. */
  close(): Promise<void>;
}

const HELP = `authrail-sandbox — local emulators of MSK APIM, Okta (CTRP) and Medblocks

Usage: authrail-sandbox [--port N] [--lifetime SECONDS]

  --port N            port to listen on, on 127.0.0.1 (default 4010; 0 = any free port)
  --lifetime SECONDS  access token lifetime for every service (default 3600)
  --help              this text
`;

function parse(argv: readonly string[]): { port: number; lifetime: number; help: boolean } {
  const out = { port: 4010, lifetime: 3600, help: false };
  const args = argv.flatMap((arg) =>
    /^--[a-z]+=/.test(arg) ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg],
  );
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      const next = args[++i];
      const n = Number(next);
      if (next === undefined || next === '' || !Number.isInteger(n) || n < 0)
        throw new TypeError(`${arg} needs a whole number`);
      return n;
    };
    if (arg === '--help' || arg === '-h') out.help = true;
    else if (arg === '--port') out.port = value();
    else if (arg === '--lifetime') out.lifetime = value();
    else throw new TypeError(`unknown option ${arg} (see --help)`);
  }
  if (out.lifetime === 0) throw new TypeError('--lifetime must be at least 1');
  if (out.port > 65535) throw new TypeError('--port must be at most 65535');
  return out;
}

/**
 * Runs the `authrail-sandbox` CLI: parses `argv` (`--port N`, default 4010; `--lifetime
 * SECONDS`, default 3600; `--help`), starts a sandbox and prints every URL and the demo
 * credentials (fake, local only). Returns a handle to close it, or `undefined` after
 * printing help.
 *
 * @throws TypeError for an unknown option or a bad value (the bin exits with code 2).
 *
 * @example
 * ```ts
 * const handle = await runCli(['--port', '0', '--lifetime', '60']);
 * // … use handle.sandbox.urls …
 * await handle?.close();
 * ```
 */
export async function runCli(
  argv: readonly string[],
  options: CliOptions = {},
): Promise<CliHandle | undefined> {
  const stdout = options.stdout ?? process.stdout;
  const args = parse(argv);
  if (args.help) {
    stdout.write(HELP);
    return undefined;
  }
  const sandbox = await startSandbox({ port: args.port, tokenLifetimeSeconds: args.lifetime });
  const { urls } = sandbox;
  stdout.write(`authrail sandbox listening on ${sandbox.url} (tokens live ${args.lifetime} s)

MSK APIM      token  ${urls.mskApim.tokenEndpoint}
              FHIR   ${urls.mskApim.fhirBaseUrl}   (needs ?researchstudy=)
              client ${demoClients.mskApim.clientId} / ${demoClients.mskApim.clientSecret}, studies ${demoClients.mskApim.researchStudies.join(', ')}
Okta (CTRP)   issuer ${urls.okta.issuer}
              token  ${urls.okta.tokenEndpoint}
              client ${demoClients.okta.clientId} / ${demoClients.okta.clientSecret}, scopes ${demoClients.okta.scopes.join(' ')}
              workload ${demoClients.oktaWorkload.clientId} (no secret: JWT bearer grant with a JWT of ${demoClients.workloadIssuer.issuer}, key in demoClients)
CTRP          API    ${urls.ctrp.baseUrl}/accrual-services/trials/{idType}/{trialId}/sites/po/{poId}
Medblocks     base   ${urls.medblocks.baseUrl}
              token  ${urls.medblocks.tokenEndpoint}
              auth   ${urls.medblocks.authorizeEndpoint}
              revoke ${urls.medblocks.revocationEndpoint}
              device ${urls.medblocks.deviceAuthorizationEndpoint}   (RFC 8628; codes entered at ${urls.medblocks.deviceVerificationUri})
              FHIR   ${urls.medblocks.fhirBaseUrl}
              backend ${demoClients.medblocksBackend.clientId} / ${demoClients.medblocksBackend.clientSecret}
              SPA     ${demoClients.medblocksSpa.clientId} (public, PKCE), user ${demoClients.user.username} / ${demoClients.user.password}
              CLI     ${demoClients.medblocksCli.clientId} (public, device flow)
SMART         FHIR   ${urls.smart.fhirBaseUrl}   (Backend Services, bulk $export)
              token  ${urls.smart.tokenEndpoint}   (private_key_jwt, RS384 / ES384)
              client ${demoClients.smartBackend.clientId}, key ${demoClients.smartBackend.kid} (ES384, in demoClients)
Echo          ${urls.echo}   (any sandbox token)
Redirect      ${urls.redirect}?to=<url>&status=302
Elsewhere     ${urls.elsewhere}   (another origin)

These are fake sandbox credentials. Ctrl+C to stop.
`);
  return { sandbox, close: () => sandbox.close() };
}
