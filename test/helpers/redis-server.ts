/**
 * Real `redis-server`s per test file: one server, a Redis Cluster, a Sentinel group. They live in deploy/ (redis-server.ts,
 * redis-cluster.ts, redis-sentinel.ts), which the benchmarks share.
 */
export {
  redisServerPath, startEverysecRedisServer, startRedisServer, type RedisServer, type RedisServerOptions,
} from '../../deploy/redis-server.ts';
export {
  redisCommand, startRedisCluster, type ClusterNodeView, type RedisCluster, type RedisClusterOptions,
} from '../../deploy/redis-cluster.ts';
export { startRedisSentinel, type RedisSentinelGroup, type RedisSentinelOptions } from '../../deploy/redis-sentinel.ts';
