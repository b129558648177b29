/**
 * `@authrail/sandbox`: local, realistic emulators of the token services authrail's
 * users call — MSK APIM, Okta (NCI CTRP) and Medblocks — at their real paths, with a
 * protected FHIR-like API, fault injection and counters. Used by authrail's own tests,
 * examples and demo; use it in yours.
 *
 * @example
 * ```ts
 * import { startSandbox, demoClients } from '@authrail/sandbox';
 *
 * const sandbox = await startSandbox();
 * sandbox.inject('msk-token', { type: 'status', status: 503 }, { times: 1 });
 * // … exercise your client against sandbox.urls.mskApim.baseUrl …
 * expect(sandbox.tokenRequests({ clientId: demoClients.mskApim.clientId })).toHaveLength(2);
 * await sandbox.close();
 * ```
 *
 * @packageDocumentation
 */
export { demoClients } from './clients.js';
export { startSandbox, type Sandbox } from './sandbox.js';
export { runCli, type CliHandle, type CliOptions } from './cli-main.js';
export type {
  Fault,
  RecordedRequest,
  SandboxClient,
  SandboxOptions,
  SandboxRoute,
  SandboxService,
  SandboxTrustedIssuer,
  TokenFilter,
} from './types.js';
