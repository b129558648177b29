/**
 * `@authrail/redis`: a token store on Redis for fleets of processes. They share one token
 * per grant, a token request runs in one process at a time, and each process keeps a copy
 * so a cached request never touches Redis. Standalone, Sentinel and Cluster, on ioredis or
 * node-redis (`redis`); encryption at rest with key rotation.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRedisTokenStore } from '@authrail/redis';
 *
 * const store = createRedisTokenStore({ client: new Redis(process.env.REDIS_URL!) });
 * ```
 *
 * @packageDocumentation
 */
export { type NodeRedisClient } from './client.js';
// Its home is @authrail/node (the file store shares it); re-exported for this package's users.
export { type EncryptionOptions } from '@authrail/node';
export {
  createRedisTokenStore,
  type RedisStoreEvent,
  type RedisStoreEvents,
  type RedisTokenStore,
  type RedisTokenStoreOptions,
} from './redis-store.js';
