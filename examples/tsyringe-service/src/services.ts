// A small service wired with tsyringe: classes ask for an authenticated fetch by
// injection token and never see tokens, refreshes or protocols.
import { inject, injectable, type DependencyContainer } from 'tsyringe';
import { createAuthFetch } from '@authrail/fetch';
import { mskApim, type MskApimStrategy } from '@authrail/msk-apim';
import {
  AUTH_FETCH,
  createAuthChildContainer,
  registerAuthClient,
  registerAuthStrategy,
} from '@authrail/tsyringe';

/** Where Blaze lives; registered in the container so services need no config code. */
const BLAZE_FHIR_URL = Symbol.for('example:BlazeFhirUrl');

export interface MskConfig {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  researchStudy: string;
}

@injectable()
export class PatientDirectory {
  constructor(
    @inject(AUTH_FETCH) private readonly api: typeof fetch,
    @inject(BLAZE_FHIR_URL) private readonly fhirUrl: string,
  ) {}

  /** Patient ids of the protocol this container is bound to. */
  async patientIds(): Promise<string[]> {
    const response = await this.api(`${this.fhirUrl}/Patient`, {
      headers: { Accept: 'application/fhir+json' },
    });
    if (!response.ok) throw new Error(`Blaze answered ${response.status}`);
    const bundle = (await response.json()) as { entry?: { resource: { id: string } }[] };
    return (bundle.entry ?? []).map((e) => e.resource.id);
  }
}

/** Registers one MSK strategy (one token for the whole process) and an authenticated fetch. */
export function configure(container: DependencyContainer, config: MskConfig): void {
  container.register(BLAZE_FHIR_URL, { useValue: `${config.baseUrl}/msk-apim/external/blaze/fhir` });
  registerAuthStrategy(container, () => mskApim(config));
  registerAuthClient(container, AUTH_FETCH, (strategy) => createAuthFetch(strategy));
}

/** A child container whose clients are bound to another protocol, sharing the token. */
export function forResearchStudy(container: DependencyContainer, researchStudy: string): DependencyContainer {
  return createAuthChildContainer(container, (parent) =>
    (parent as MskApimStrategy).withResearchStudy(researchStudy),
  );
}
