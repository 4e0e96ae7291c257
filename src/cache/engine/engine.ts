import type { Logger } from '@nestjs/common';
import { BehaviorSubject, type Subscription } from 'rxjs';
import { AppendLog } from './append-log.js';
import { WindowCounters } from './atomic-counter.js';
import { CacheGateway } from '../redis/cache-gateway.js';
import type { CommandExecutor } from '../redis/command-executor.js';
import { CacheKeys } from '../core/cache-keys.js';
import type { ResolvedCacheOptions } from '../core/cache.options.js';
import type { CacheMode } from '../core/cache.types.js';
import { CacheStack, type RemoteParts } from './cache-stack.js';
import { Claims } from './claims.js';
import { ClockOffset } from '../core/clock-offset.js';
import { HybridLogicalClock } from '../core/hlc.js';
import { LocalStack } from '../local/local-stack.js';
import { memberIdFor } from '../local/member-id.js';
import { NearCache } from './near-cache.js';
import { RecoveryMachine } from './recovery.js';
import { RedisGateway } from '../redis/redis-gateway.js';
import { ReplayQuarantine } from '../local/replay-quarantine.js';
import { SlidingWindows } from './sliding-window.js';
import type { SnapshotLogs } from '../local/snapshot-scheduler.js';

/** What the engine is built from besides the options. */
export interface EngineDeps {
  /** An executor in place of the RedisGateway the options describe (tests: a fault wrapper around one). */
  executor?: CommandExecutor | null;
  logger: Logger;
}

/** The parts whose counters make up getStatus() (cache-status.ts); null where Redis is not configured. */
export interface StatusSources {
  gateway: CacheGateway | null;
  recovery: RecoveryMachine | null;
  local: LocalStack;
  near: NearCache;
  claims: Claims | null;
  clock: ClockOffset;
  options: ResolvedCacheOptions;
}

/**
 * Builds every part of the cache once, in one place: local stack, near cache, and with Redis the
 * records, mode machine, claims; then append logs, counters and the stack. Nothing is attached
 * after construction: a part that needs one built later gets a callback instead.
 */
export class CacheEngine {
  readonly clockOffset: ClockOffset;
  /** The fleet's agreed time (Redis' clock): everything that stamps or compares time uses it. */
  readonly clock: () => number;
  readonly hlc: HybridLogicalClock;
  readonly keys: CacheKeys;
  readonly gateway: CacheGateway | null;
  readonly local: LocalStack;
  readonly near: NearCache;
  /** Records, recovery and claims: null without Redis. */
  readonly remote: RemoteParts | null;
  readonly modeSubject: BehaviorSubject<CacheMode>;
  readonly logs: AppendLog;
  readonly counters: WindowCounters;
  readonly windows: SlidingWindows;
  readonly stack: CacheStack;
  private readonly logger: Logger;
  private availabilitySub: Subscription | null = null;
  private startupWarnTimer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(
    readonly options: ResolvedCacheOptions,
    deps: EngineDeps,
  ) {
    const o = options;
    this.logger = deps.logger;
    this.clockOffset = new ClockOffset(o.clock, o.maxClockSkewMs, this.logger, o.monotonicClock);
    this.clock = this.clockOffset.now;
    this.hlc = new HybridLogicalClock(o.instanceId, this.clock);
    this.keys = new CacheKeys(o.keyPrefix, o.maxKeyLength, this.clock);
    // The snapshot file carries the append logs, which are built on the local journal below.
    const snapshotLogs: SnapshotLogs = { load: (rows) => this.logs.load(rows), snapshotRows: () => this.logs.snapshotRows() };
    this.local = new LocalStack(o, this.clock, this.hlc, this.logger, snapshotLogs);
    const exec = deps.executor ?? (o.redis ? new RedisGateway(o) : null);
    this.gateway = exec ? new CacheGateway(exec) : null;
    this.near = new NearCache(this.gateway, o, this.local, this.hlc, () => this.modeSubject.value === 'redis');
    this.remote = this.gateway ? this.buildRemote(this.gateway) : null;
    this.modeSubject = this.remote?.recovery.modeSubject ?? new BehaviorSubject<CacheMode>('memory');
    this.logs = this.buildLogs();
    this.counters = new WindowCounters(this.gateway);
    this.windows = new SlidingWindows(this.gateway);
    this.stack = new CacheStack(this.remote, this.local, this.near, this.hlc, o.commandTimeoutMs, o.tombstoneTtlMs, this.clock);
    this.local.snapshot.load();
  }

  get recovery(): RecoveryMachine | null {
    return this.remote?.recovery ?? null;
  }

  get claims(): Claims | null {
    return this.remote?.claims ?? null;
  }

  /** The parts records (the one script path), the mode machine and claims: they exist only with Redis. */
  private buildRemote(gateway: CacheGateway): RemoteParts {
    const o = this.options;
    const records = gateway.records(() => this.near.publishChannel());
    const memberId = memberIdFor(o.snapshot?.path ?? null, o.instanceId);
    const ids = { keyPrefix: o.keyPrefix, instanceId: o.instanceId, memberId, reseedWindowMs: o.reseedWindowMs, clockSyncIntervalMs: o.clockSyncIntervalMs, tombstoneTtlMs: o.tombstoneTtlMs };
    // In each pass, after the keys: the logs' journal is replayed (and re-seeded), then timed-out claims are withdrawn.
    const extensions = [
      { replay: () => this.logs.replay(), reseed: () => this.logs.reseed() },
      { replay: async () => void (await claims.drainReleases()), reseed: async () => undefined },
    ];
    const recovery = new RecoveryMachine({
      gateway,
      records,
      local: this.local,
      near: this.near,
      hlc: this.hlc,
      clock: this.clock,
      clockOffset: this.clockOffset,
      logger: this.logger,
      ids,
      quarantine: new ReplayQuarantine(this.logger),
      extensions,
    });
    const settings = { markerKey: o.keyPrefix, commandTimeoutMs: o.commandTimeoutMs, tombstoneTtlMs: o.tombstoneTtlMs, clock: this.clock };
    const claims = new Claims(gateway, records, recovery, this.local, this.hlc, settings);
    return { records, recovery, claims };
  }

  /** Append logs (append-log.ts) on the same journal, snapshot and recovery as the keys. */
  private buildLogs(): AppendLog {
    const recovery = this.recovery;
    return new AppendLog({
      gateway: this.gateway,
      hlc: this.hlc,
      journal: this.local.journal,
      clock: this.clock,
      fullKey: (k) => this.keys.full(k),
      keyPrefix: this.options.keyPrefix,
      redisUsable: () => recovery!.writesToRedis,
      reseeding: () => recovery?.reseeding ?? false,
      pending: () => recovery?.scheduleDrain(),
      changed: () => this.local.markDirty(),
      durable: (row) => this.local.snapshot.appendDurableLog(row),
    });
  }

  /** Starts the parts in order: the expiry sweep; with Redis the mode machine, the gateway, L1. */
  start(): void {
    this.local.start();
    const gateway = this.gateway;
    const recovery = this.recovery;
    if (!gateway || !recovery) {
      this.logger.log('No Redis configured: serving from the embedded memory store (mode memory)');
      return;
    }
    this.availabilitySub = gateway.available$.subscribe((up) => recovery.onAvailability(up));
    recovery.start();
    gateway.start();
    this.near.start();
    this.warnIfNotConnectedSoon(gateway, recovery);
  }

  /** Start-up is quiet while Redis connects; one line once the connect timeout has passed without it. */
  private warnIfNotConnectedSoon(gateway: CacheGateway, recovery: RecoveryMachine): void {
    this.startupWarnTimer = setTimeout(() => {
      this.startupWarnTimer = null;
      if (recovery.everConnected || this.closing) return;
      recovery.logLine(
        'warn',
        `Redis not reachable at start-up (${gateway.lastError ?? `no connection within ${this.options.connectTimeoutMs} ms`}): serving from memory (mode fallback) until it connects`,
      );
    }, this.options.connectTimeoutMs);
    this.startupWarnTimer.unref();
  }

  /** Stops the parts in the reverse order; the last snapshot is saved, mode$ completes. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.startupWarnTimer) clearTimeout(this.startupWarnTimer);
    this.availabilitySub?.unsubscribe();
    this.claims?.close();
    await this.recovery?.close();
    await this.near.close();
    if (this.gateway) await this.gateway.close();
    await this.local.close();
    if (this.recovery) this.recovery.complete();
    else this.modeSubject.complete();
  }

  statusSources(): StatusSources {
    const { gateway, recovery, local, near, claims, clockOffset: clock, options } = this;
    return { gateway, recovery, local, near, claims, clock, options };
  }
}
