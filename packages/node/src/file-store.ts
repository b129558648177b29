/**
 * The file token store: a script's tokens survive the process, encrypted, and the
 * processes that start together refresh once.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  checkOptions,
  createToken,
  toTokenRecord,
  type Logger,
  type SingleFlightOptions,
  type Token,
  type TokenRecord,
  type TokenStore,
} from '@authrail/core';
import type { EncryptionOptions } from './encryption.js';
import { FileLock, type HeldLock } from './file-store-lock.js';
import { keysKeyring, passphraseKeyring, type Keyring } from './file-store-keyring.js';
import { defaultTokenCacheDirectory } from './file-store-paths.js';

/** Options of {@link createFileTokenStore}: `encryption` or `passphrase`, exactly one. */
export interface FileTokenStoreOptions {
  /** The directory of the token files. Default {@link defaultTokenCacheDirectory}; created (0700) when missing. */
  directory?: string;
  /**
   * Keys to encrypt with (AES-256-GCM, 32 bytes each), with ids so they can be rotated:
   * values are written with `current` and read with whichever key wrote them.
   */
  encryption?: EncryptionOptions;
  /**
   * Or a passphrase the key is derived from: scrypt (N = 2^17, r = 8, p = 1, 128 MiB, a
   * 16-byte random salt stored in each file), once per run. A different passphrase cannot
   * open what is stored: it reads as empty, and you sign in again.
   */
  passphrase?: string;
  /**
   * How long a process fetching a token holds a key's lock without renewing it. It is
   * renewed while the token request runs; a lock whose holder died is taken over at once
   * on the same host, and after this long from another host. Default 10 000 ms.
   */
  leaseMs?: number;
  /** While another process fetches, how often to look for the token it stores. Default 100 ms. */
  pollMs?: number;
  /** Where the store says it could not read or write a file (`warn`). Never a token. */
  logger?: Logger;
}

/** A {@link TokenStore} in files: one per key, encrypted, in {@link FileTokenStore.directory}. */
export interface FileTokenStore extends TokenStore {
  /** The directory the token files are in (absolute). */
  readonly directory: string;
  /** Holds only the tokens of the user whose cache directory it is (see {@link createFileTokenStore}). */
  readonly oneUser: true;
}

const DEFAULTS = { leaseMs: 10_000, pollMs: 100 } as const;

function codeOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

function milliseconds(value: unknown, option: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > 2 ** 31 - 1)
    throw new ConfigError(`must be a number of milliseconds from ${min} to 2^31 − 1`, { option });
  return value;
}

/** The options, checked whole and with their defaults. */
interface Settings {
  directory: string;
  keyring: Keyring;
  leaseMs: number;
  pollMs: number;
  logger: Logger | undefined;
}

function settingsOf(options: FileTokenStoreOptions): Settings {
  checkOptions(options, ['directory', 'encryption', 'passphrase', 'leaseMs', 'pollMs', 'logger']);
  const { directory, encryption, passphrase, logger } = options;
  if (directory !== undefined && (typeof directory !== 'string' || directory.length === 0))
    throw new ConfigError('must be a non-empty path', { option: 'directory' });
  if (encryption !== undefined && passphrase !== undefined)
    throw new ConfigError('give encryption keys or a passphrase, not both', { option: 'passphrase' });
  if (passphrase !== undefined && (typeof passphrase !== 'string' || passphrase.length === 0))
    throw new ConfigError('must be a non-empty string', { option: 'passphrase' });
  if (encryption === undefined && passphrase === undefined)
    throw new ConfigError('the file store encrypts what it writes: give encryption keys or a passphrase', {
      option: 'encryption',
    });
  if (logger !== undefined && (typeof logger !== 'object' || logger === null))
    throw new ConfigError('must be a logger such as console or pino', { option: 'logger' });
  return {
    directory: resolve(directory ?? defaultTokenCacheDirectory()),
    keyring: passphrase !== undefined ? passphraseKeyring(passphrase) : keysKeyring(encryption!),
    leaseMs: milliseconds(options.leaseMs, 'leaseMs', DEFAULTS.leaseMs, 100),
    pollMs: milliseconds(options.pollMs, 'pollMs', DEFAULTS.pollMs, 1),
    logger,
  };
}

/**
 * Which file is there: a write replaces the file (a new inode), so this changes with every
 * write. Not ctime: the rename that puts a written file in place changes it.
 */
function identityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

/** A token as this process last read or wrote it, and the file it came from. */
interface Held {
  identity: string;
  token: Token;
}

/**
 * Until `ms` pass or `signal` aborts. The timer is not unref'd: a process waiting for
 * another's token has work to finish.
 */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      done();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish, { once: true });
  });
}

/** The store of one process: files on disk, and a copy of each token checked against its file. */
class FileStore {
  readonly #held = new Map<string, Held>();
  /** Files already said to be unreadable (by identity): said once each. */
  readonly #said = new Set<string>();

  constructor(private readonly s: Settings) {}

  /** The file of a store key: hashed, as keys have characters some file systems refuse. */
  fileOf(key: string): string {
    const name = createHash('sha256').update(key).digest('hex').slice(0, 32);
    return join(this.s.directory, `token-${name}.json`);
  }

  get(key: string): Token | undefined | Promise<Token | undefined> {
    const held = this.#held.get(key);
    if (held?.identity === '') return held.token; // the directory could not be written
    if (held) {
      // A cached request costs a stat, not a read and a decryption; another process's
      // write or sign-out shows as another file.
      try {
        if (identityOf(statSync(this.fileOf(key))) === held.identity) return held.token;
      } catch {
        // gone, or unreadable: read below says which
      }
    }
    return this.#read(key);
  }

  async set(key: string, token: Token): Promise<void> {
    try {
      await this.#write(key, token);
    } catch (error) {
      // The token still serves this process; the next run signs in again.
      this.#held.set(key, { identity: '', token });
      this.#say(
        `could not write ${this.fileOf(key)} (${codeOf(error) ?? 'error'}); the token is kept in this process only`,
      );
    }
  }

  async delete(key: string, token?: Token): Promise<void> {
    const file = this.fileOf(key);
    if (token !== undefined) {
      // Only that token: a late rejection of an old one leaves a newer one in place.
      const current = await this.#read(key);
      if (current?.accessToken !== token.accessToken) return;
    }
    this.#held.delete(key);
    try {
      await unlink(file);
    } catch (error) {
      if (codeOf(error) !== 'ENOENT')
        this.#say(`could not remove ${file} (${codeOf(error) ?? 'error'}); remove it by hand to sign out`);
    }
  }

  /**
   * One token request at a time across processes: the lock holder fetches and stores; the
   * others look for the token it stored every `pollMs`, and take the lock when it is free.
   */
  async singleFlight(
    key: string,
    fetch: (current: Token | undefined) => Promise<Token>,
    { signal, isUsable }: SingleFlightOptions,
  ): Promise<Token> {
    const lock = new FileLock(`${this.fileOf(key).slice(0, -'.json'.length)}.lock`, this.s.leaseMs);
    for (;;) {
      if (signal.aborted) throw signal.reason;
      let held: HeldLock | undefined;
      try {
        await this.#ensureDirectory();
        held = await lock.tryAcquire();
        if (!held && (await lock.clearIfStale())) continue;
      } catch (error) {
        // No lock to be had here (a read-only directory): this process fetches on its own.
        this.#say(`could not lock ${this.s.directory} (${codeOf(error) ?? 'error'}); fetching without it`);
        return this.#fetchAndStore(key, fetch, await this.#read(key));
      }
      if (held) return this.#fetchHoldingLock(key, fetch, isUsable, held);
      await pause(this.s.pollMs, signal);
      const current = await this.#read(key);
      if (current && isUsable(current)) return current;
    }
  }

  async #fetchHoldingLock(
    key: string,
    fetch: (current: Token | undefined) => Promise<Token>,
    isUsable: SingleFlightOptions['isUsable'],
    lock: HeldLock,
  ): Promise<Token> {
    try {
      // The process before us may have stored a usable token (or rotated the refresh token).
      const current = await this.#read(key);
      if (current && isUsable(current)) return current;
      return await this.#fetchAndStore(key, fetch, current);
    } finally {
      await lock.release();
    }
  }

  async #fetchAndStore(
    key: string,
    fetch: (current: Token | undefined) => Promise<Token>,
    current: Token | undefined,
  ): Promise<Token> {
    const token = await fetch(current);
    await this.set(key, token);
    return token;
  }

  /** The token in the key's file, or undefined when there is none or it cannot be read (said once). */
  async #read(key: string): Promise<Token | undefined> {
    const file = this.fileOf(key);
    let text: string;
    let identity: string;
    try {
      const handle = await open(file, 'r');
      try {
        identity = identityOf(await handle.stat());
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      this.#held.delete(key);
      if (codeOf(error) !== 'ENOENT')
        this.#say(`could not read ${file} (${codeOf(error) ?? 'error'}); treated as empty`);
      return undefined;
    }
    const held = this.#held.get(key);
    if (held?.identity === identity) return held.token;
    const token = await this.#decode(key, text, identity);
    if (token) this.#held.set(key, { identity, token });
    else this.#held.delete(key);
    return token;
  }

  async #decode(key: string, text: string, identity: string): Promise<Token | undefined> {
    let why: string;
    try {
      const opened = await this.s.keyring.open(JSON.parse(text), key);
      if (typeof opened === 'string') return createToken(JSON.parse(opened) as TokenRecord);
      why = opened.unreadable;
    } catch {
      why = 'it is damaged';
    }
    if (!this.#said.has(identity)) {
      this.#said.add(identity);
      this.#say(`${this.fileOf(key)} cannot be read: ${why}; treated as empty (a sign-in replaces it)`);
    }
    return undefined;
  }

  /** Writes the key's file whole or not at all: a temporary file, flushed, renamed over it. */
  async #write(key: string, token: Token): Promise<void> {
    await this.#ensureDirectory();
    const file = this.fileOf(key);
    const body = await this.s.keyring.seal(JSON.stringify(toTokenRecord(token)), key);
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temporary, 'wx', 0o600);
    let identity: string;
    try {
      await handle.writeFile(JSON.stringify(body));
      await handle.sync();
      identity = identityOf(await handle.stat());
    } catch (error) {
      await handle.close();
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    await handle.close();
    try {
      await rename(temporary, file);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    await this.#syncDirectory();
    this.#held.set(key, { identity, token });
  }

  /** The rename itself on disk (POSIX): without it a power cut may bring back the old file. */
  async #syncDirectory(): Promise<void> {
    if (process.platform === 'win32') return;
    const handle = await open(this.s.directory, 'r').catch(() => undefined);
    await handle?.sync().catch(() => undefined);
    await handle?.close();
  }

  async #ensureDirectory(): Promise<void> {
    await mkdir(this.s.directory, { recursive: true, mode: 0o700 });
  }

  /** Says a line on the logger; a throwing logger must not break token delivery. */
  #say(line: string): void {
    try {
      this.s.logger?.warn?.(`authrail: token cache: ${line}`);
    } catch {
      // ignored, as said
    }
  }
}

/**
 * Creates a token store in files, for scripts, CLIs and notebooks that run many times a
 * day as one user: the token a sign-in got (and its refresh token) is there for the next
 * run, so the user signs in once, not at every run.
 *
 * - **One file per key** (`token-<hash>.json` in {@link FileTokenStoreOptions.directory}):
 *   a write replaces one grant's file whole, so writes of different grants never race,
 *   and a damaged file costs one grant. Sign-out (`delete`) removes the file.
 * - **Encrypted at rest**: AES-256-GCM, the store key authenticated, with your keys
 *   (rotation as in `@authrail/redis`) or a key derived from your passphrase. No token is
 *   in a file in plain text.
 * - **0600 files in a 0700 directory** (created so when missing), written atomically: a
 *   temporary file, flushed, renamed over the old one. A reader never sees half a file.
 * - **One refresh for processes that start together**: the process that takes a key's
 *   lock file fetches; the others wait and use the token it stored. A lock whose holder
 *   died is taken over.
 * - **Never a crash for a file**: a damaged file, or one the keys cannot open, is said once
 *   on `logger.warn` and read as empty; a directory it cannot write leaves the token in
 *   the process.
 *
 * It holds one user's tokens (`oneUser`): a user flow needs no `session` with it. A server
 * keeping several users' tokens in one directory must still give each user's flow a
 * `session`.
 *
 * @param options - the keys or passphrase, and optionally the directory, lease, poll and logger
 * @returns the store, for `store` of a strategy or preset (Node only)
 * @throws `ConfigError` (from `@authrail/core`) naming the option that is wrong
 * @example
 * ```ts
 * import { createFileTokenStore } from '@authrail/node';
 *
 * const store = createFileTokenStore({
 *   encryption: { current: 'k1', keys: { k1: process.env.AUTHRAIL_CACHE_KEY! } },
 * });
 * const strategy = medblocksAuthorizationCode({ baseUrl, clientId, redirectUri, store });
 * ```
 */
export function createFileTokenStore(options: FileTokenStoreOptions): FileTokenStore {
  const settings = settingsOf(options);
  const store = new FileStore(settings);
  return {
    directory: settings.directory,
    oneUser: true,
    get: (key) => store.get(key),
    set: (key, token) => store.set(key, token),
    delete: (key, token) => store.delete(key, token),
    singleFlight: (key, fetch, flight) => store.singleFlight(key, fetch, flight),
  };
}
