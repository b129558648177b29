import { demoClients, startSandbox, type Sandbox } from './sandbox.js';

/** Where the CLI writes. */
export interface CliOptions {
  /** Where to print. Default `process.stdout`. */
  stdout?: {
    /** Writes text. */
    write(text: string): unknown;
  };
}

/** A running CLI sandbox. */
export interface CliHandle {
  /** The running sandbox. */
  sandbox: Sandbox;
  /** Stops it. */
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
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      const n = Number(next);
      if (next === undefined || !Number.isInteger(n) || n < 0)
        throw new TypeError(`${arg} needs a whole number`);
      return n;
    };
    if (arg === '--help' || arg === '-h') out.help = true;
    else if (arg === '--port') out.port = value();
    else if (arg === '--lifetime') out.lifetime = value();
    else throw new TypeError(`unknown option ${arg} (see --help)`);
  }
  if (out.lifetime === 0) throw new TypeError('--lifetime must be at least 1');
  return out;
}

/**
 * Runs the CLI: starts a sandbox and prints its URLs and the demo credentials.
 * Returns `undefined` after printing help.
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
CTRP          API    ${urls.ctrp.baseUrl}/accrual-services/trials/{idType}/{trialId}/sites/po/{poId}
Medblocks     base   ${urls.medblocks.baseUrl}
              token  ${urls.medblocks.tokenEndpoint}
              auth   ${urls.medblocks.authorizeEndpoint}
              FHIR   ${urls.medblocks.fhirBaseUrl}
              backend ${demoClients.medblocksBackend.clientId} / ${demoClients.medblocksBackend.clientSecret}
              SPA     ${demoClients.medblocksSpa.clientId} (public, PKCE), user ${demoClients.user.username} / ${demoClients.user.password}
Echo          ${urls.echo}
Elsewhere     ${urls.elsewhere}   (another origin)

These are fake sandbox credentials. Ctrl+C to stop.
`);
  return { sandbox, close: () => sandbox.close() };
}
