import type { Cluster, Redis } from 'ioredis';
import type { createClient, createCluster, createSentinel } from 'redis';
import { expectTypeOf, test } from 'vitest';
import type { RedisTokenStoreOptions } from './index.js';

type Client = RedisTokenStoreOptions['client'];

test('`client` takes each client of ioredis and node-redis as it is, without a cast', () => {
  expectTypeOf<Redis>().toExtend<Client>();
  expectTypeOf<Cluster>().toExtend<Client>();
  expectTypeOf<ReturnType<typeof createClient>>().toExtend<Client>();
  expectTypeOf<ReturnType<typeof createCluster>>().toExtend<Client>();
  expectTypeOf<ReturnType<typeof createSentinel>>().toExtend<Client>();
});

test('`client` refuses what is not a Redis client', () => {
  expectTypeOf<{ get(key: string): Promise<string> }>().not.toExtend<Client>();
  expectTypeOf<Map<string, string>>().not.toExtend<Client>();
});
