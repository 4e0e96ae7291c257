import type { Redis } from 'ioredis';
import {
  REDIS_HOST,
  probeClients,
  startRedis,
  type HostPort,
  type RedisProcess,
} from './redis-server.js';
import { waitUntil } from './wait.js';

export type { HostPort } from './redis-server.js';

export interface SentinelTopologyOptions {
  /** Default 'mymaster'. */
  masterName?: string;
  /** requirepass + masterauth on the data nodes and `sentinel auth-pass` on the sentinels. */
  password?: string;
  /** Readiness timeout for the whole topology (default 15000 ms). */
  readyTimeoutMs?: number;
}

export interface SentinelTopology {
  masterName: string;
  /** The initial master (after a failover it is no longer the master). */
  master: RedisProcess;
  /** The initial replica (promoted on failover). */
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** Ready for ioredis: `new Redis({ sentinels: topo.sentinelAddresses, name: topo.masterName })`. */
  sentinelAddresses: HostPort[];
  /** The master address according to the first sentinel that answers. */
  currentMaster(): Promise<HostPort>;
  /**
   * Resolves once every sentinel names a master other than oldPort and that node reports
   * role:master. Rejects after timeoutMs (default 20000).
   */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<HostPort>;
  /** Ask the sentinels to fail over now (SENTINEL FAILOVER), without killing anything. */
  forceFailover(): Promise<void>;
  /** The data node (master or replica) listening on port. */
  nodeAt(port: number): RedisProcess | undefined;
  stop(): Promise<void>;
}

const SENTINEL_COUNT = 3;
const QUORUM = 2;

/**
 * One master, one replica, three sentinels (quorum 2, down-after 1 s) on loopback.
 * Resolves when the replica is in sync and every sentinel knows the master, the replica and the
 * other two sentinels, so a failover can start as soon as the master is killed.
 */
export async function startSentinelTopology(
  opts: SentinelTopologyOptions = {},
): Promise<SentinelTopology> {
  const masterName = opts.masterName ?? 'mymaster';
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  const started: RedisProcess[] = [];
  const stopAll = () =>
    Promise.all(started.map((p) => p.stop())).then(() => undefined);
  try {
    // Without delay 0 the master waits 5 s before a diskless full sync.
    const dataArgs = ['--repl-diskless-sync-delay', '0'];
    if (opts.password !== undefined)
      dataArgs.push('--masterauth', opts.password);
    const master = await startRedis({
      password: opts.password,
      args: dataArgs,
    });
    started.push(master);
    const replica = await startRedis({
      password: opts.password,
      args: [...dataArgs, '--replicaof', REDIS_HOST, String(master.port)],
    });
    started.push(replica);
    const probe = probeClients();
    await waitUntil(deadline, 'replica in sync', async () =>
      (await probe(replica).info('replication')).includes(
        'master_link_status:up',
      ),
    );

    const sentinels = await Promise.all(
      Array.from({ length: SENTINEL_COUNT }, () =>
        startRedis({
          sentinelConfig: sentinelConfig(
            masterName,
            master.port,
            opts.password,
          ),
        }),
      ),
    );
    started.push(...sentinels);
    const sentinelClients = sentinels.map(probe);
    await waitUntil(
      deadline,
      'sentinels to discover master, replica and each other',
      async () => {
        const views = await Promise.all(
          sentinelClients.map((c) => sentinelView(c, masterName)),
        );
        return views.every(
          (v) =>
            v.masterPort === master.port &&
            v.replicasUp === 1 &&
            v.otherSentinels === 2,
        );
      },
    );

    const dataNodes = [master, replica];
    const topology: SentinelTopology = {
      masterName,
      master,
      replica,
      sentinels,
      sentinelAddresses: sentinels.map((s) => ({ host: s.host, port: s.port })),
      currentMaster: () => firstAnswer(sentinelClients, masterName),
      waitForFailover: async (oldPort, timeoutMs = 20_000) => {
        let found: HostPort | undefined;
        await waitUntil(
          Date.now() + timeoutMs,
          `failover away from port ${oldPort}`,
          async () => {
            // A sentinel a test killed or paused must not block the wait, a quorum must agree.
            const answers = await Promise.allSettled(
              sentinelClients.map((c) => masterAddr(c, masterName)),
            );
            const ports = answers.flatMap((a) =>
              a.status === 'fulfilled' ? [a.value.port] : [],
            );
            const port = ports[0];
            if (
              ports.length < QUORUM ||
              port === oldPort ||
              ports.some((p) => p !== port)
            ) {
              return false;
            }
            const node = dataNodes.find((n) => n.port === port);
            if (
              !node ||
              !(await probe(node).info('replication')).includes('role:master')
            ) {
              return false;
            }
            found = { host: REDIS_HOST, port };
            return true;
          },
        );
        return found as HostPort;
      },
      forceFailover: async () => {
        await sentinelClients[0].call('SENTINEL', 'FAILOVER', masterName);
      },
      nodeAt: (port) => dataNodes.find((n) => n.port === port),
      stop: stopAll,
    };
    return topology;
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function sentinelConfig(
  masterName: string,
  masterPort: number,
  password?: string,
): string {
  const lines = [
    'sentinel resolve-hostnames no',
    `sentinel monitor ${masterName} ${REDIS_HOST} ${masterPort} ${QUORUM}`,
    `sentinel down-after-milliseconds ${masterName} 1000`,
    `sentinel failover-timeout ${masterName} 3000`,
    `sentinel parallel-syncs ${masterName} 1`,
  ];
  if (password !== undefined)
    lines.push(`sentinel auth-pass ${masterName} ${password}`);
  return `${lines.join('\n')}\n`;
}

interface SentinelView {
  masterPort: number;
  replicasUp: number;
  otherSentinels: number;
}

async function sentinelView(
  client: Redis,
  masterName: string,
): Promise<SentinelView> {
  const [addr, replicas, others] = await Promise.all([
    masterAddr(client, masterName),
    client.call('SENTINEL', 'REPLICAS', masterName) as Promise<string[][]>,
    client.call('SENTINEL', 'SENTINELS', masterName) as Promise<string[][]>,
  ]);
  const replicasUp = replicas.filter((fields) => {
    const flags = fieldOf(fields, 'flags') ?? '';
    return !/s_down|o_down|disconnected/.test(flags);
  }).length;
  return { masterPort: addr.port, replicasUp, otherSentinels: others.length };
}

async function masterAddr(
  client: Redis,
  masterName: string,
): Promise<HostPort> {
  const reply = (await client.call(
    'SENTINEL',
    'GET-MASTER-ADDR-BY-NAME',
    masterName,
  )) as [string, string] | null;
  if (!reply) throw new Error(`sentinel does not know master ${masterName}`);
  return { host: reply[0], port: Number(reply[1]) };
}

async function firstAnswer(
  clients: Redis[],
  masterName: string,
): Promise<HostPort> {
  let lastError: unknown;
  for (const client of clients) {
    try {
      return await masterAddr(client, masterName);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`no sentinel answered: ${String(lastError)}`);
}

function fieldOf(flat: string[], key: string): string | undefined {
  const index = flat.indexOf(key);
  return index >= 0 && index % 2 === 0 ? flat[index + 1] : undefined;
}
