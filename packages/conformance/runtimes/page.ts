// The Chromium entry: a page script that exposes the smoke to the test.
import { smoke } from './smoke.js';

(globalThis as unknown as { runSmoke: typeof smoke }).runSmoke = smoke;
