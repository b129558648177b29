// The workerd entry: a module worker that runs the smoke on request (the config in the
// request body) and answers the report.
import { smoke, type SmokeConfig } from './smoke.js';

export default {
  async fetch(request: Request): Promise<Response> {
    try {
      return Response.json(await smoke((await request.json()) as SmokeConfig));
    } catch (error) {
      return new Response(String((error as Error).stack ?? error), { status: 500 });
    }
  },
};
