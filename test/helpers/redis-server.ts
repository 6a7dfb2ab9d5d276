/**
 * A real `redis-server` per test file; it lives in deploy/redis-server.ts, which the benchmarks share.
 */
export {
  redisServerPath, startEverysecRedisServer, startRedisServer, type RedisServer, type RedisServerOptions,
} from '../../deploy/redis-server.ts';
