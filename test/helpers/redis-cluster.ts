import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import {
  REDIS_HOST,
  probeClients,
  startRedis,
  type HostPort,
  type RedisProcess,
} from './redis-server.js';
import { waitUntil } from './wait.js';

const execFileAsync = promisify(execFile);

export interface ClusterOptions {
  /** Number of masters, at least 3 (redis-cli refuses fewer). Default 3. */
  masters?: number;
  /** Default 0. */
  replicasPerMaster?: 0 | 1;
  /** requirepass + masterauth on every node. */
  password?: string;
  /** Extra redis-server args for every node. */
  args?: string[];
  /** Readiness timeout for the whole cluster (default 20000 ms). */
  readyTimeoutMs?: number;
}

export interface RedisCluster {
  /** All nodes, in start order. */
  nodes: RedisProcess[];
  /** Nodes that were masters once the cluster formed. */
  masters: RedisProcess[];
  /** Nodes that were replicas once the cluster formed. */
  replicas: RedisProcess[];
  /** Ready for ioredis: `new Cluster(cluster.seeds)`. */
  seeds: HostPort[];
  /** Hash slot of key (CLUSTER KEYSLOT). */
  slotOf(key: string): Promise<number>;
  /** The node currently serving key as master (CLUSTER KEYSLOT + CLUSTER SLOTS). */
  nodeForKey(key: string): Promise<RedisProcess>;
  /** Resolves when every running node reports cluster_state:ok. Right after a kill this is still true: use waitForFailover. */
  waitForClusterOk(timeoutMs?: number): Promise<void>;
  /**
   * After killing the master on oldPort: resolves once every running node's CLUSTER SLOTS no
   * longer names oldPort as a master and all report cluster_state:ok. Default timeout 15000 ms.
   */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

type SlotsReply = Array<
  [number, number, [string, number, ...unknown[]], ...unknown[]]
>;

/**
 * A real Redis Cluster on loopback (node timeout 1 s), created with `redis-cli --cluster create`.
 * Resolves when every node reports cluster_state:ok, knows every other node and replicas are in sync.
 */
export async function startCluster(
  opts: ClusterOptions = {},
): Promise<RedisCluster> {
  const masterCount = opts.masters ?? 3;
  const replicasPerMaster = opts.replicasPerMaster ?? 0;
  if (masterCount < 3)
    throw new Error('startCluster: Redis Cluster needs at least 3 masters');
  const total = masterCount * (1 + replicasPerMaster);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  const nodes: RedisProcess[] = [];
  const stop = () =>
    Promise.all(nodes.map((n) => n.stop())).then(() => undefined);

  try {
    const args = [
      '--cluster-enabled',
      'yes',
      // Relative to the node's private --dir, so every node gets its own file.
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      '1000',
      '--repl-diskless-sync-delay',
      '0',
      ...(opts.password !== undefined ? ['--masterauth', opts.password] : []),
      ...(opts.args ?? []),
    ];
    const started = await Promise.allSettled(
      Array.from({ length: total }, () =>
        startRedis({ password: opts.password, args }),
      ),
    );
    for (const result of started)
      if (result.status === 'fulfilled') nodes.push(result.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;

    await createCluster(nodes, replicasPerMaster, opts.password);

    const probe = probeClients();
    const anyProbe = async <T>(
      fn: (client: Redis) => Promise<T>,
    ): Promise<T> => {
      let lastError: unknown;
      for (const node of nodes.filter((n) => n.running && !n.paused)) {
        try {
          return await fn(probe(node));
        } catch (error) {
          lastError = error;
        }
      }
      throw new Error(`no cluster node answered: ${String(lastError)}`);
    };
    const clusterOk = async (expectedKnown?: number) => {
      const live = nodes.filter((n) => n.running && !n.paused);
      const infos = await Promise.all(
        live.map((n) => probe(n).call('CLUSTER', 'INFO') as Promise<string>),
      );
      return infos.every(
        (text) =>
          text.includes('cluster_state:ok') &&
          text.includes('cluster_slots_assigned:16384') &&
          (expectedKnown === undefined ||
            text.includes(`cluster_known_nodes:${expectedKnown}`)),
      );
    };

    await waitUntil(deadline, 'cluster_state:ok on every node', () =>
      clusterOk(total),
    );
    const roles = await Promise.all(
      nodes.map((n) => probe(n).info('replication')),
    );
    const masters = nodes.filter((_, i) => roles[i].includes('role:master'));
    const replicas = nodes.filter((_, i) => roles[i].includes('role:slave'));
    await waitUntil(deadline, 'cluster replicas in sync', async () => {
      const states = await Promise.all(
        replicas.map((n) => probe(n).info('replication')),
      );
      return states.every((text) => text.includes('master_link_status:up'));
    });

    const slotOf = (key: string) =>
      anyProbe((c) => c.call('CLUSTER', 'KEYSLOT', key) as Promise<number>);

    return {
      nodes,
      masters,
      replicas,
      seeds: nodes.map((n) => ({ host: n.host, port: n.port })),
      slotOf,
      nodeForKey: async (key) => {
        const slot = await slotOf(key);
        const ranges = await anyProbe(
          (c) => c.call('CLUSTER', 'SLOTS') as Promise<SlotsReply>,
        );
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        const port = range ? Number(range[2][1]) : undefined;
        const node = nodes.find((n) => n.port === port);
        if (!node) throw new Error(`no node serves slot ${slot} of key ${key}`);
        return node;
      },
      waitForClusterOk: (timeoutMs = 15_000) =>
        waitUntil(Date.now() + timeoutMs, 'cluster_state:ok', () =>
          clusterOk(),
        ),
      waitForFailover: (oldPort, timeoutMs = 15_000) =>
        waitUntil(
          Date.now() + timeoutMs,
          `failover away from port ${oldPort}`,
          async () => {
            const live = nodes.filter((n) => n.running && !n.paused);
            const views = await Promise.all(
              live.map(
                (n) => probe(n).call('CLUSTER', 'SLOTS') as Promise<SlotsReply>,
              ),
            );
            const stillMaster = views.some((ranges) =>
              ranges.some((range) => Number(range[2][1]) === oldPort),
            );
            return !stillMaster && (await clusterOk());
          },
        ),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function createCluster(
  nodes: RedisProcess[],
  replicasPerMaster: number,
  password: string | undefined,
): Promise<void> {
  const args = [
    '--cluster',
    'create',
    ...nodes.map((n) => `${REDIS_HOST}:${n.port}`),
    '--cluster-replicas',
    String(replicasPerMaster),
    '--cluster-yes',
  ];
  try {
    await execFileAsync('redis-cli', args, {
      timeout: 30_000,
      // REDISCLI_AUTH keeps the password out of argv (visible in ps).
      env: {
        ...process.env,
        ...(password !== undefined ? { REDISCLI_AUTH: password } : {}),
      },
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as {
      stdout?: string;
      stderr?: string;
    };
    throw new Error(
      `redis-cli --cluster create failed:\n${stdout}\n${stderr}`.trim(),
    );
  }
}
