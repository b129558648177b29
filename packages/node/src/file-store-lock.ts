/**
 * The lock file that makes one process at a time fetch a key's token: created with
 * `O_EXCL` (`open(…, 'wx')`), its holder's pid, host and time inside, its mtime renewed
 * while the holder works, and taken over once its holder is dead or silent for a lease.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';

/** What a lock file says about its holder. Nothing secret: anyone who can list the directory may read it. */
interface Holder {
  pid: number;
  hostname: string;
  /** When it was taken, ISO 8601. */
  at: string;
  /** Tells this holder's lock from a later one at the same path. */
  id: string;
}

/** A lock this process holds: renewed until released. */
export interface HeldLock {
  /** Removes the lock file if it is still this holder's. */
  release(): Promise<void>;
}

function codeOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** Whether a process with this pid runs on this host (EPERM: it runs, as another user). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === 'EPERM';
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const holder = JSON.parse(text) as Partial<Holder>;
    return typeof holder.pid === 'number' &&
      typeof holder.hostname === 'string' &&
      typeof holder.id === 'string'
      ? (holder as Holder)
      : undefined;
  } catch {
    return undefined; // being written, or damaged: judged by its age alone
  }
}

/** One lock file, for one store key. */
export class FileLock {
  constructor(
    private readonly path: string,
    private readonly leaseMs: number,
  ) {}

  /** Takes the lock if nobody holds it; undefined when someone does. Other failures (no permission) throw. */
  async tryAcquire(): Promise<HeldLock | undefined> {
    let handle;
    try {
      handle = await open(this.path, 'wx', 0o600);
    } catch (error) {
      if (codeOf(error) === 'EEXIST') return undefined;
      throw error;
    }
    const holder: Holder = {
      pid: process.pid,
      hostname: hostname(),
      at: new Date().toISOString(),
      id: randomBytes(8).toString('hex'),
    };
    try {
      await handle.writeFile(JSON.stringify(holder));
    } finally {
      await handle.close();
    }
    // The mtime says the holder is alive: renewed while it works, so a long token request
    // is not taken for a dead one. Unref'd: the work it guards keeps the process alive.
    const renew = setInterval(() => {
      const now = new Date();
      utimes(this.path, now, now).catch(() => undefined);
    }, this.leaseMs / 3);
    renew.unref();
    return {
      release: async () => {
        clearInterval(renew);
        const text = await readFile(this.path, 'utf8').catch(() => '');
        if (parseHolder(text)?.id === holder.id) await unlink(this.path).catch(() => undefined);
      },
    };
  }

  /**
   * Removes the lock if its holder is gone: a dead pid on this host, or no renewal for
   * `leaseMs` (a holder on another host, a reused pid, a hung process). Resolves true when
   * the lock is no longer there (try to take it at once), false while its holder lives.
   */
  async clearIfStale(): Promise<boolean> {
    let seen;
    let text;
    try {
      seen = await stat(this.path);
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return true;
      throw error;
    }
    const holder = parseHolder(text);
    const dead = holder !== undefined && holder.hostname === hostname() && !running(holder.pid);
    if (!dead && Date.now() - seen.mtimeMs <= this.leaseMs) return false;
    // Waiters may find the same stale lock together: each moves "the lock" aside and checks
    // it moved the one it judged, not one a faster waiter took since; that one goes back.
    const aside = `${this.path}.${randomBytes(6).toString('hex')}.stale`;
    try {
      await rename(this.path, aside);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return true;
      throw error;
    }
    const moved = await stat(aside).catch(() => undefined);
    const movedText = await readFile(aside, 'utf8').catch(() => '');
    if (moved?.ino !== seen.ino || movedText !== text) await link(aside, this.path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return true;
  }
}
