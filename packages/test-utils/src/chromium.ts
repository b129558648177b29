// Real headless Chromium for browser tests: Debian's (`apt-get install chromium`, or
// CHROMIUM_PATH), never a downloaded build, with the flags this closed network needs.
import { chromium, type Browser } from 'playwright-core';

/** Launches Debian's Chromium headless. Close it in `afterAll`. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
