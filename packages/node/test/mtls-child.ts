// Run in a process of its own by mtls.test.ts: one request through an mTLS fetch that is
// never closed, then nothing: the process must end by itself (no timer, no socket held).
import { createMtlsFetch } from '../src/index.js';

/** What the child prints: the status it got and the certificate it presented. */
export interface MtlsChildReport {
  status: number;
  thumbprint: string;
}

const [url, cert, key, ca] = process.argv.slice(2);
const tls = createMtlsFetch({ cert: cert!, key: key!, ca: ca! });
const response = await tls(url!);
await response.arrayBuffer();
const report: MtlsChildReport = { status: response.status, thumbprint: (await tls.certificate()).thumbprint };
process.stdout.write(`${JSON.stringify(report)}\n`);
