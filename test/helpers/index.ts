export { freePort, isPortFree, type FreePortOptions } from './ports.js';
export {
  HELPERS_TMP_ROOT,
  REDIS_HOST,
  reapOrphanedServers,
  startRedis,
  type HostPort,
  type RedisProcess,
  type RedisDataCopy,
  type StartRedisOptions,
} from './redis-server.js';
export {
  startSentinelTopology,
  type SentinelTopology,
  type SentinelTopologyOptions,
} from './redis-sentinel.js';
export {
  startCluster,
  type ClusterOptions,
  type RedisCluster,
} from './redis-cluster.js';
export {
  failoverToLagging,
  startLaggingReplica,
  type LaggingReplica,
  type LaggingReplicaOptions,
} from './redis-replica.js';
export { startTcpProxy, type ProxyMode, type TcpProxy } from './tcp-proxy.js';
export { makeTlsMaterial, type TlsMaterial } from './tls.js';
export { waitUntil } from './wait.js';
