import { startRedis, type RedisProcess } from './redis-server.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { waitUntil } from './wait.js';

/**
 * A real replica (`REPLICAOF`) of a primary whose replication stream passes through a TCP
 * proxy, so replication can be paused for real: a blackholed link swallows every byte the primary
 * sends. (SIGSTOP or DEBUG SLEEP on the replica would not do: the stream piles up in its socket
 * buffer and is applied on resume, so the promoted replica would not lag.)
 */
export interface LaggingReplica {
  readonly replica: RedisProcess;
  /** The replication link (primary → replica). */
  readonly link: TcpProxy;
  /** Resolves once the link is up and the replica has applied everything the primary has. */
  waitInSync(timeoutMs?: number): Promise<void>;
  /** From now on the primary's writes never reach the replica (until promote()). */
  pauseReplication(): void;
  /** Cut the link and `REPLICAOF NO ONE`: the replica becomes a master with what it had. */
  promote(): Promise<void>;
  stop(): Promise<void>;
}

export interface LaggingReplicaOptions {
  /** Extra redis-server args (e.g. ['--appendonly', 'yes']). */
  args?: string[];
  /** Replica's working dir (see StartRedisOptions.dir). */
  dir?: string;
}

export async function startLaggingReplica(
  primary: RedisProcess,
  opts: LaggingReplicaOptions = {},
): Promise<LaggingReplica> {
  // The primary would wait 5 s (diskless sync delay) for more replicas before the first sync.
  const setup = primary.client({
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
  });
  await setup
    .config('SET', 'repl-diskless-sync-delay', '0')
    .finally(() => setup.disconnect());
  const link = await startTcpProxy(primary.port);
  let replica: RedisProcess;
  try {
    replica = await startRedis({
      dir: opts.dir,
      args: opts.args,
    });
  } catch (error) {
    await link.close();
    throw error;
  }
  const probe = replica.client({
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
  });
  // By command, not `--replicaof`: a restart of the promoted node must come back a master.
  await probe.replicaof(link.host, link.port);
  const primaryProbe = primary.client({
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
  });
  const field = (info: string, name: string) =>
    new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  return {
    replica,
    link,
    async waitInSync(timeoutMs = 10_000) {
      await waitUntil(
        Date.now() + timeoutMs,
        `replica :${replica.port} in sync with :${primary.port}`,
        async () => {
          const mine = await probe.info('replication');
          const theirs = await primaryProbe.info('replication');
          return (
            field(mine, 'master_link_status') === 'up' &&
            field(mine, 'slave_repl_offset') ===
              field(theirs, 'master_repl_offset')
          );
        },
        20,
      );
    },
    pauseReplication() {
      link.blackhole();
    },
    async promote() {
      link.cut();
      await probe.replicaof('NO', 'ONE');
      await waitUntil(
        Date.now() + 5000,
        `replica :${replica.port} promoted`,
        async () => field(await probe.info('replication'), 'role') === 'master',
        20,
      );
    },
    async stop() {
      await replica.stop();
      await link.close();
    },
  };
}

/**
 * Failover to a lagging replica: the primary dies (SIGKILL), the replica that missed the writes
 * since pauseReplication() is promoted, and every client proxy now leads to it.
 */
export async function failoverToLagging(
  primary: RedisProcess,
  lagging: LaggingReplica,
  clientProxies: TcpProxy[],
): Promise<void> {
  await primary.kill();
  await lagging.promote();
  for (const p of clientProxies) p.retarget(lagging.replica.port);
}
