// The hosts the docs' snippets name, each served on a loopback origin of its own that
// forwards to the sandbox. A snippet runs with its hosts rewritten to those origins, so
// an API on another host than its authorization server is on another origin here too: a
// snippet that leaves out `origins` sends no token and fails, as it would for real.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { demoClients, type Sandbox, type SandboxClient } from '@authrail/sandbox';

/** Where each named host's paths live in the sandbox. */
const HOSTS: Record<string, (path: string) => string> = {
  'apim.mskcc.org': (path) => path,
  'nci.okta.com': (path) => path,
  'ctrp.cancer.gov': (path) => `/ctrp${path}`,
  'ctrp.example.org': (path) => `/ctrp${path}`,
  'api.medblocks.com': (path) => `/medblocks${path}`,
  'fhir.example.org': (path) => path.replace(/^\/r4(?=\/|$)/, '/smart/fhir'),
};

/** The SMART Backend Services client the snippets name, with a key of the test's own. */
const SMART_KEY = generateKeyPairSync('ec', { namedCurve: 'P-384' });
export const SNIPPET_CLIENTS: SandboxClient[] = [
  {
    service: 'smart',
    clientId: 'bulk-exporter',
    scopes: ['system/*.rs'],
    // (JsonWebKey, the sandbox's type, has no `kid`; the sandbox reads it.)
    jwks: {
      keys: [
        {
          ...SMART_KEY.publicKey.export({ format: 'jwk' }),
          kid: 'exporter-2026',
          alg: 'ES384',
        } as JsonWebKey,
      ],
    },
  },
];

/** The hosts a block names in `https://` URLs. */
export function hostsOf(code: string): string[] {
  return [...new Set([...code.matchAll(/https:\/\/([a-z0-9.-]+)/g)].map((match) => match[1]!))];
}

/** Whether the test knows where a host's paths live in the sandbox. */
export const isKnownHost = (host: string): boolean => host in HOSTS;

/** One loopback origin per named host, forwarding to the sandbox. */
export class SnippetHosts {
  readonly #servers = new Map<string, Server>();
  readonly #origins = new Map<string, string>();

  constructor(private readonly sandbox: Sandbox) {}

  async start(): Promise<void> {
    const target = new URL(this.sandbox.url);
    for (const [host, pathOf] of Object.entries(HOSTS)) {
      const server = createServer((incoming, outgoing) => {
        const url = new URL(incoming.url!, 'http://x');
        const forwarded = request(
          {
            host: target.hostname,
            port: target.port,
            method: incoming.method,
            path: `${pathOf(url.pathname)}${url.search}`,
            headers: { ...incoming.headers, host: target.host },
          },
          (answer) => {
            outgoing.writeHead(answer.statusCode!, answer.headers);
            answer.pipe(outgoing);
          },
        );
        forwarded.on('error', () => outgoing.destroy());
        incoming.pipe(forwarded);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      this.#servers.set(host, server);
      this.#origins.set(host, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
  }

  /** The block as it runs here: every named host replaced by its loopback origin. */
  rewrite(code: string): string {
    return code.replace(/https:\/\/([a-z0-9.-]+)/g, (url, host: string) => this.#origins.get(host) ?? url);
  }

  /**
   * The reader's own values (the docs' placeholders and environment variables), for the
   * vendor whose preset the block imports.
   */
  readerValues(code: string): { globals: Record<string, string>; env: Record<string, string> } {
    const origin = (host: string) => this.#origins.get(host)!;
    const env = {
      MSK_CLIENT_ID: demoClients.mskApim.clientId,
      MSK_CLIENT_SECRET: demoClients.mskApim.clientSecret,
      CTRP_CLIENT_ID: demoClients.okta.clientId,
      CTRP_CLIENT_SECRET: demoClients.okta.clientSecret,
      MEDBLOCKS_CLIENT_ID: demoClients.medblocksBackend.clientId,
      MEDBLOCKS_CLIENT_SECRET: demoClients.medblocksBackend.clientSecret,
      SMART_PRIVATE_KEY: SMART_KEY.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    };
    if (code.includes('@authrail/okta'))
      return {
        globals: {
          issuer: `${origin('nci.okta.com')}/oauth2/default`,
          clientId: env.CTRP_CLIENT_ID,
          clientSecret: env.CTRP_CLIENT_SECRET,
        },
        env,
      };
    if (code.includes('@authrail/medblocks'))
      return {
        globals: {
          baseUrl: origin('api.medblocks.com'),
          clientId: env.MEDBLOCKS_CLIENT_ID,
          clientSecret: env.MEDBLOCKS_CLIENT_SECRET,
        },
        env,
      };
    return {
      globals: {
        baseUrl: origin('apim.mskcc.org'),
        clientId: env.MSK_CLIENT_ID,
        clientSecret: env.MSK_CLIENT_SECRET,
      },
      env,
    };
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#servers.values()].map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
  }
}
