import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { freePort, isPortFree } from './ports.js';
import { startRedis, type RedisProcess } from './redis-server.js';
import { startCluster } from './redis-cluster.js';
import { failoverToLagging, startLaggingReplica } from './redis-replica.js';
import { startSentinelTopology } from './redis-sentinel.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { makeTlsMaterial } from './tls.js';

const startedPids = new Set<number>();
const track = (proc: RedisProcess) => {
  startedPids.add(proc.pid);
  return proc;
};

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

afterAll(() => {
  const leaked = [...startedPids].filter(pidAlive);
  expect(leaked).toEqual([]);
});

describe('ports', () => {
  it('never hands out the same port twice and checks the cluster bus port', async () => {
    const ports = await Promise.all(
      Array.from({ length: 20 }, () => freePort()),
    );
    expect(new Set(ports).size).toBe(20);
    const withBus = await freePort({ clusterBus: true });
    expect(withBus + 10000).toBeLessThanOrEqual(65535);
    expect(await isPortFree(withBus + 10000)).toBe(true);
  });
});

describe('startRedis', () => {
  let redis: RedisProcess;
  afterEach(async () => {
    await redis?.stop();
  });

  it('starts, is killed, and restarts empty on the same port', async () => {
    redis = track(await startRedis());
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    const client = redis.client({ maxRetriesPerRequest: 1 });
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');

    const oldPid = redis.pid;
    const port = redis.port;
    await redis.kill();
    expect(redis.running).toBe(false);
    expect(pidAlive(oldPid)).toBe(false);

    await redis.restart();
    track(redis);
    expect(redis.running).toBe(true);
    expect(redis.port).toBe(port);
    expect(redis.pid).not.toBe(oldPid);
    expect(await client.get('k')).toBeNull();
  });

  it('pause makes commands time out; resume makes them work again', async () => {
    redis = track(await startRedis());
    const client = redis.client({
      commandTimeout: 300,
      maxRetriesPerRequest: 0,
    });
    expect(await client.ping()).toBe('PONG');
    redis.pause();
    await expect(client.ping()).rejects.toThrow(/timed out/i);
    redis.resume();
    const fresh = redis.client({ commandTimeout: 1000 });
    expect(await fresh.ping()).toBe('PONG');
  });

  it('stop is idempotent, closes clients and frees the port', async () => {
    redis = track(await startRedis());
    const client = redis.client();
    await client.ping();
    redis.pause();
    await Promise.all([redis.stop(), redis.stop()]);
    expect(redis.running).toBe(false);
    expect(client.status).toBe('end');
    expect(await isPortFree(redis.port)).toBe(true);
  });

  it('fails fast with the server output when redis-server refuses to start', async () => {
    await expect(
      startRedis({ args: ['--no-such-option', 'x'] }),
    ).rejects.toThrow(/no-such-option/);
  });

  it('never puts a password from a rejected config line into the error', async () => {
    const error = await startRedis({
      password: 'top-secret-pw',
      args: ['--user', 'bad', 'on', '>also-secret', '+nosuchcommand'],
    }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/exited before answering PING/);
    expect((error as Error).message).not.toMatch(/top-secret-pw|also-secret/);
  });
});

describe('tcp proxy', () => {
  let redis: RedisProcess;
  let proxy: TcpProxy;
  let client: Redis;
  beforeAll(async () => {
    redis = track(await startRedis());
  });
  afterAll(async () => {
    await redis.stop();
  });
  beforeEach(async () => {
    proxy = await startTcpProxy(redis.port);
    client = new Redis({
      host: '127.0.0.1',
      port: proxy.port,
      commandTimeout: 300,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
  });
  afterEach(async () => {
    client.disconnect();
    await proxy.close();
  });

  it('forwards, cuts with RST and refuses while cut, then restores', async () => {
    expect(await client.ping()).toBe('PONG');
    const closed = new Promise((resolve) => client.once('close', resolve));
    proxy.cut();
    await closed;
    await expect(client.ping()).rejects.toThrow();
    proxy.restore();
    await vi.waitFor(async () => expect(await client.ping()).toBe('PONG'), {
      timeout: 2000,
    });
  });

  it('blackhole swallows traffic without closing; restore resets the held link', async () => {
    expect(await client.ping()).toBe('PONG');
    let closes = 0;
    client.on('close', () => closes++);
    proxy.blackhole();
    await expect(client.ping()).rejects.toThrow(/timed out/i);
    expect(closes).toBe(0);
    expect(client.status).toBe('ready');
    proxy.restore();
    await vi.waitFor(async () => expect(await client.ping()).toBe('PONG'), {
      timeout: 2000,
    });
    expect(closes).toBeGreaterThanOrEqual(1);
  });
});

describe('Redis that comes back older', () => {
  it('restartFrom(copyData()) loses what was written after the save point (RDB and AOF)', async () => {
    for (const args of [
      [],
      ['--appendonly', 'yes', '--appendfsync', 'always'],
    ]) {
      const redis = track(await startRedis({ args }));
      onTestFinished(() => redis.stop());
      const client = redis.client({ maxRetriesPerRequest: 1 });
      await client.set('before', '1');
      const copy = await redis.copyData();
      expect(copy.kind).toBe(args.length ? 'aof' : 'rdb');
      await client.set('after', '2');
      await client.set('before', 'changed');
      const oldRunId = /run_id:(\w+)/.exec(await client.info('server'))?.[1];
      await redis.restartFrom(copy);
      track(redis);
      expect(await client.get('before')).toBe('1');
      expect(await client.get('after')).toBeNull();
      expect(/run_id:(\w+)/.exec(await client.info('server'))?.[1]).not.toBe(
        oldRunId,
      );
    }
  });

  it('a lagging replica promoted after the primary dies lacks the writes made while replication was paused', async () => {
    const primary = track(await startRedis());
    onTestFinished(() => primary.stop());
    const lagging = await startLaggingReplica(primary);
    onTestFinished(() => lagging.stop());
    track(lagging.replica);
    const proxy = await startTcpProxy(primary.port);
    onTestFinished(() => proxy.close());
    const client = new Redis({
      host: '127.0.0.1',
      port: proxy.port,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    onTestFinished(() => client.disconnect());
    await client.set('before', '1');
    await lagging.waitInSync();
    lagging.pauseReplication();
    await client.set('after', '2');
    await client.set('before', 'changed');
    await failoverToLagging(primary, lagging, [proxy]);
    expect(proxy.targetPort).toBe(lagging.replica.port);
    expect(await client.get('before')).toBe('1');
    expect(await client.get('after')).toBeNull();
    expect(await client.set('new', 'x')).toBe('OK');
    expect(/role:(\w+)/.exec(await client.info('replication'))?.[1]).toBe(
      'master',
    );
  });
});

describe('TLS and ACL', () => {
  let tlsDir: string;
  beforeAll(() => {
    tlsDir = mkdtempSync(join(tmpdir(), 'helpers-tls-'));
  });
  afterAll(() => rmSync(tlsDir, { recursive: true, force: true }));

  it('serves PING over TLS with the CA and refuses plain TCP', async () => {
    const tls = makeTlsMaterial(tlsDir);
    const redis = track(await startRedis({ tls }));
    try {
      expect(redis.url).toBe(`rediss://127.0.0.1:${redis.port}`);
      expect(await redis.client().ping()).toBe('PONG');
      const withClientCert = redis.client({
        tls: { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey },
      });
      expect(await withClientCert.ping()).toBe('PONG');
      const plain = new Redis({
        host: '127.0.0.1',
        port: redis.port,
        commandTimeout: 500,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      plain.on('error', () => {});
      await expect(plain.ping()).rejects.toThrow();
      plain.disconnect();
    } finally {
      await redis.stop();
    }
  });

  it('restricts an ACL user to its key prefix', async () => {
    const redis = track(
      await startRedis({
        aclUsers: [
          'app on >app-secret ~app:* resetchannels -@all +get +set +ping +info',
        ],
      }),
    );
    try {
      const app = redis.client({ username: 'app', password: 'app-secret' });
      await app.set('app:x', '1');
      expect(await app.get('app:x')).toBe('1');
      await expect(app.get('other:x')).rejects.toThrow(/NOPERM/);
      await expect(app.del('app:x')).rejects.toThrow(/NOPERM/);
    } finally {
      await redis.stop();
    }
  });

  it('supports requirepass and --user style args', async () => {
    const redis = track(
      await startRedis({
        password: 'pw',
        args: [
          '--user',
          'ro',
          'on',
          '>ro-pass',
          '~*',
          '-@all',
          '+get',
          '+info',
        ],
      }),
    );
    try {
      expect(await redis.client().ping()).toBe('PONG');
      const ro = redis.client({ username: 'ro', password: 'ro-pass' });
      expect(await ro.get('a')).toBeNull();
      await expect(ro.set('a', '1')).rejects.toThrow(/NOPERM/);
    } finally {
      await redis.stop();
    }
  });
});

describe('sentinel topology', () => {
  it(
    'fails over to the replica when the master is killed',
    { timeout: 40_000 },
    async () => {
      const t0 = Date.now();
      const topo = await startSentinelTopology();
      const startedMs = Date.now() - t0;
      [topo.master, topo.replica, ...topo.sentinels].forEach(track);
      const app = new Redis({
        sentinels: topo.sentinelAddresses,
        name: topo.masterName,
        maxRetriesPerRequest: 1,
      });
      app.on('error', () => {});
      try {
        expect(await topo.currentMaster()).toEqual({
          host: '127.0.0.1',
          port: topo.master.port,
        });
        await app.set('before', '1');

        const t1 = Date.now();
        await topo.master.kill();
        const promoted = await topo.waitForFailover(topo.master.port, 20_000);
        const failoverMs = Date.now() - t1;
        expect(promoted.port).toBe(topo.replica.port);
        expect(topo.nodeAt(promoted.port)).toBe(topo.replica);
        await vi.waitFor(
          async () => expect(await app.set('after', '2')).toBe('OK'),
          {
            timeout: 5000,
            interval: 100,
          },
        );
        expect(await app.get('before')).toBe('1');
        console.log(
          `sentinel topology ready in ${startedMs} ms, failover in ${failoverMs} ms`,
        );
      } finally {
        app.disconnect();
        await topo.stop();
      }
    },
  );
});

describe('cluster', () => {
  it(
    'forms a 3-master cluster with keys spread over every master',
    { timeout: 40_000 },
    async () => {
      const t0 = Date.now();
      const cluster = await startCluster({ masters: 3 });
      const startedMs = Date.now() - t0;
      cluster.nodes.forEach(track);
      const app = new Cluster(cluster.seeds, {
        redisOptions: { maxRetriesPerRequest: 1 },
      });
      app.on('error', () => {});
      try {
        expect(cluster.masters).toHaveLength(3);
        const keys = Array.from({ length: 30 }, (_, i) => `key:${i}`);
        await Promise.all(keys.map((k) => app.set(k, k)));
        const owners = new Set<number>();
        for (const key of keys) {
          const node = await cluster.nodeForKey(key);
          owners.add(node.port);
          // A direct, non-cluster read proves the key really lives on that node.
          expect(await node.client().get(key)).toBe(key);
        }
        expect(owners.size).toBe(3);
        console.log(`3-master cluster ready in ${startedMs} ms`);
      } finally {
        app.disconnect();
        await cluster.stop();
      }
    },
  );

  it(
    'with replicas, a killed master is replaced and the cluster heals',
    { timeout: 40_000 },
    async () => {
      const t0 = Date.now();
      const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
      const startedMs = Date.now() - t0;
      cluster.nodes.forEach(track);
      try {
        expect(cluster.nodes).toHaveLength(6);
        expect(cluster.masters).toHaveLength(3);
        expect(cluster.replicas).toHaveLength(3);
        const owner = await cluster.nodeForKey('heal:key');
        await owner.client().set('heal:key', 'v');
        // Replication is asynchronous: without WAIT the kill can beat the write to the replica.
        expect(await owner.client().call('WAIT', '1', '2000')).toBe(1);
        const t1 = Date.now();
        await owner.kill();
        await cluster.waitForFailover(owner.port, 15_000);
        const newOwner = await cluster.nodeForKey('heal:key');
        expect(newOwner.port).not.toBe(owner.port);
        expect(await newOwner.client().get('heal:key')).toBe('v');
        console.log(
          `6-node cluster ready in ${startedMs} ms, healed in ${Date.now() - t1} ms`,
        );
      } finally {
        await cluster.stop();
      }
    },
  );
});
