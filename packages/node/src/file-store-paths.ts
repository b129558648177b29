/// <reference types="node" preserve="true" />
/**
 * Where the file token store keeps its files when not told: the user's cache directory,
 * as each operating system names it.
 *
 * @module
 */
import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';

/** What {@link defaultTokenCacheDirectory} reads, for computing another platform's answer. */
export interface CacheDirectoryContext {
  /** A `process.platform` value. Default: this process's. */
  platform?: NodeJS.Platform;
  /** The environment (`XDG_CACHE_HOME`, `LOCALAPPDATA`). Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The user's home directory. Default `os.homedir()`. */
  home?: string;
}

/**
 * The directory the file token store uses by default: the current user's cache directory
 * and `authrail` in it.
 *
 * | platform | directory |
 * |---|---|
 * | Linux and other Unix | `$XDG_CACHE_HOME/authrail` when `XDG_CACHE_HOME` is an absolute path, else `~/.cache/authrail` |
 * | macOS (`darwin`) | `~/Library/Caches/authrail` |
 * | Windows (`win32`) | `%LOCALAPPDATA%\authrail`, else `~\AppData\Local\authrail` |
 *
 * @param context - another platform, environment or home to answer for. Default: this process's
 * @returns an absolute path; nothing is created until the store writes
 * @example
 * ```ts
 * defaultTokenCacheDirectory(); // '/home/ada/.cache/authrail' on Linux
 * defaultTokenCacheDirectory({ platform: 'darwin', home: '/Users/ada' }); // '/Users/ada/Library/Caches/authrail'
 * ```
 * @see https://specifications.freedesktop.org/basedir-spec/latest/
 */
export function defaultTokenCacheDirectory(context: CacheDirectoryContext = {}): string {
  const platform = context.platform ?? process.platform;
  const env = context.env ?? process.env;
  const home = context.home ?? homedir();
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA;
    return local && win32.isAbsolute(local)
      ? win32.join(local, 'authrail')
      : win32.join(home, 'AppData', 'Local', 'authrail');
  }
  if (platform === 'darwin') return posix.join(home, 'Library', 'Caches', 'authrail');
  // The XDG spec: a relative XDG_CACHE_HOME is invalid and is ignored.
  const xdg = env.XDG_CACHE_HOME;
  return xdg && posix.isAbsolute(xdg) ? posix.join(xdg, 'authrail') : posix.join(home, '.cache', 'authrail');
}
