// Real Redis servers for the tests: Debian's redis-server on free loopback ports, without
// persistence, one standalone or a three-master cluster. `.ci/run` installs redis-server.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  port: number;
  /** Stops the server (SIGKILL when `hard`); its data is gone. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

export interface RedisCluster {
  /** The masters' ports, for ioredis' startup nodes. */
  ports: number[];
  /** The master serving `key`'s slot. */
  masterOf(key: string): RedisServer;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function launch(
  port: number,
  extra: string[],
  ready = 'Ready to accept connections',
  head: string[] = [],
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'redis-server',
      [...head, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    // Only against a hang: a loaded machine (the full suite on 2 cores) can take seconds.
    const timer = setTimeout(
      () => reject(new Error(`redis-server on ${port} did not start: ${out}`)),
      30_000,
    );
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new Error(
          `redis-server could not be started (is it installed? .ci/run installs it): ${error.message}`,
        ),
      );
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}

function server(port: number, extra: string[] = []): RedisServer & { ready: Promise<void> } {
  let child: ChildProcess | undefined;
  const handle = {
    port,
    ready: Promise.resolve(),
    async start() {
      child = await launch(port, extra);
    },
    async stop(hard = false) {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill(hard ? 'SIGKILL' : 'SIGTERM');
      });
    },
  };
  handle.ready = handle.start();
  return handle;
}

/** A standalone redis-server on a free port. */
export async function startRedis(): Promise<RedisServer> {
  const handle = server(await freePort());
  await handle.ready;
  return handle;
}

/** `redis-cli -p <port> <args>`'s output, without blocking the event loop (a sandbox may share it). */
function cli(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'redis-cli',
      ['-p', String(port), ...args],
      { encoding: 'utf8', timeout: 5_000 },
      (_error, stdout) => resolve(stdout ?? ''),
    );
  });
}

/**
 * Until every node says `cluster_state:ok`, knows every node, has all 16 384 slots served,
 * and gives the same slot map: what a client learns then from any node is the final one.
 * (`cluster_state:ok` on one node is not enough: the others may not have heard yet, and a
 * client asking them meets CLUSTERDOWN or MOVED while its first commands' deadlines run.)
 */
async function clusterAgreed(ports: number[]): Promise<void> {
  const deadline = Date.now() + 30_000; // only against a hang
  for (;;) {
    const infos = await Promise.all(ports.map((port) => cli(port, 'cluster', 'info')));
    const maps = await Promise.all(ports.map((port) => cli(port, 'cluster', 'slots')));
    const ok = infos.every(
      (info) =>
        info.includes('cluster_state:ok') &&
        info.includes('cluster_slots_ok:16384') &&
        info.includes(`cluster_known_nodes:${ports.length}`),
    );
    if (ok && maps[0] !== '' && maps.every((map) => map === maps[0])) return;
    if (Date.now() > deadline)
      throw new Error(
        `the cluster did not become ready: ${infos.map((info, i) => `${ports[i]}: ${info}`).join('\n')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Three masters, no replicas, slots split by `redis-cli --cluster create`; ready on every node. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'authrail-redis-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const nodes = ports.map((port) =>
    server(port, [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      '2000',
      '--dir',
      dir,
    ]),
  );
  await Promise.all(nodes.map((n) => n.ready));
  await new Promise<void>((resolve, reject) => {
    execFile(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`redis-cli --cluster create failed: ${stdout}${stderr}`)) : resolve(),
    );
  });
  await clusterAgreed(ports);
  return {
    ports,
    masterOf(key) {
      const run = (...args: string[]) =>
        spawnSync('redis-cli', ['-p', String(ports[0]), ...args], { encoding: 'utf8' }).stdout;
      const slot = Number(run('cluster', 'keyslot', key).trim());
      // `cluster nodes`: "<id> 127.0.0.1:<port>@<bus> <flags> … connected 0-5460 …" per node.
      for (const line of run('cluster', 'nodes').trim().split('\n')) {
        const fields = line.split(' ');
        const port = Number(fields[1]?.split(':')[1]?.split('@')[0]);
        for (const range of fields.slice(8)) {
          const [from, to = from] = range.split('-').map(Number);
          if (slot >= from! && slot <= to! && ports.includes(port)) return nodes[ports.indexOf(port)]!;
        }
      }
      throw new Error(`no master found for slot ${slot}`);
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop(true)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisSentinel {
  /** The sentinel's port, for ioredis' `sentinels`. */
  port: number;
  /** The name the master is monitored under. */
  name: string;
  /** The master first monitored, and its replica (which a failover promotes). */
  master: RedisServer;
  replica: RedisServer;
  stop(): Promise<void>;
}

/** A master and one Sentinel monitoring it (quorum 1), as ioredis' `sentinels` option expects. */
export async function startRedisSentinel(): Promise<RedisSentinel> {
  const master = await startRedis();
  // A replica, for the Sentinel to promote when the master is lost.
  const replicaPort = await freePort();
  const replica = server(replicaPort, ['--replicaof', '127.0.0.1', String(master.port)]);
  await replica.ready;
  const dir = mkdtempSync(join(tmpdir(), 'authrail-redis-sentinel-'));
  const port = await freePort();
  const name = 'authrail';
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its configuration file: it must be its own and writable.
  writeFileSync(
    conf,
    [
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 2000`,
      '',
    ].join('\n'),
  );
  const sentinel = await launch(port, ['--sentinel'], '+monitor master', [conf]);
  return {
    port,
    name,
    master,
    replica,
    async stop() {
      await new Promise<void>((resolve) => {
        sentinel.once('exit', () => resolve());
        sentinel.kill('SIGKILL');
      });
      await Promise.all([master.stop(true), replica.stop(true)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
