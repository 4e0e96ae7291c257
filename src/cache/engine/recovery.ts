import { AsyncResource } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { Logger } from '@nestjs/common';
import { BehaviorSubject, Subject, type Subscription } from 'rxjs';
import type { CacheGateway } from '../redis/cache-gateway.js';
import type { CacheMode, ModeTransition } from '../core/cache.types.js';
import { wallOf, type HybridLogicalClock } from '../core/hlc.js';
import type { LocalStack } from '../local/local-stack.js';
import type { MemoryEntry } from '../local/memory-store.js';
import type { NearCache } from './near-cache.js';
import type { RedisRecords } from '../redis/redis-records.js';
import type { ClockOffset } from '../core/clock-offset.js';
import type { ReplayQuarantine } from '../local/replay-quarantine.js';
import { ResyncWriter } from './resync-writer.js';
import { epochOf, windowOpenIn } from '../redis/scripts/reseed-window.js';
import { FleetMembers, fleetKey } from './fleet-members.js';
import { ServerIdentity } from '../redis/server-identity.js';

const RESYNC_RETRY_MIN_MS = 50;
const RESYNC_RETRY_MAX_MS = 2_000;
/** A write that timed out in `redis` mode is replayed this soon (the breaker may open first). */
const DRAIN_DELAY_MS = 100;

/** Another kind of record with its own journal (e.g. append logs): replayed and re-seeded in each pass. */
export interface RecoveryExtension {
  /** After the key journal is replayed; throws like a failed replay (the pass is retried). */
  replay(): Promise<void>;
  /** After the keys are re-seeded into an emptied Redis. */
  reseed(): Promise<void>;
}

/** The names and timings recovery works with, from the resolved options. */
export interface RecoveryIds {
  keyPrefix: string;
  instanceId: string;
  memberId: string;
  reseedWindowMs: number;
  clockSyncIntervalMs: number;
  tombstoneTtlMs: number;
}

/** Everything the mode machine works on, built by engine.ts. */
export interface RecoveryDeps {
  gateway: CacheGateway;
  records: RedisRecords;
  local: LocalStack;
  near: NearCache;
  hlc: HybridLogicalClock;
  clock: () => number;
  clockOffset: ClockOffset;
  logger: Logger;
  ids: RecoveryIds;
  quarantine: ReplayQuarantine;
  /** Other kinds of record with their own journal; they may close over parts built after the machine. */
  extensions: readonly RecoveryExtension[];
}

/**
 * The mode machine. Coming back from an outage (resync): check the deployment's marker key to learn
 * whether Redis lost its data, replay the journal with compare-and-set, re-seed an emptied Redis
 * from memory, flush L1, then `redis`. Until each step is done, the keys it concerns are read from
 * memory (see `redisUsableFor`). At most one pass runs at a time; docs/cache.md, "Recovery".
 */
export class RecoveryMachine {
  readonly modeSubject: BehaviorSubject<CacheMode>;
  readonly transitions$ = new Subject<ModeTransition>();
  lastTransitionAt = new Date();
  transitions = 0;
  emptyRedisDetections = 0;
  /** Reads where Redis answered older than memory (cache-stack.ts): counted here, beside the detections. */
  rewoundReads = 0;
  /** True while memory copies are written back to an emptied Redis: keys memory holds are read from memory. */
  reseeding = false;
  private resyncing: Promise<void> | null = null;
  private resyncRequested = false;
  private drainTimer: NodeJS.Timeout | null = null;
  private releasedSub: Subscription | null = null;
  private clockTimer: NodeJS.Timeout | null = null;
  /** Counts Redis becoming usable; a recovery pass is only valid for the link it started on. */
  private linkUps = 0;
  private closing = false;
  /** Replay and re-seed writes, with their counters. */
  readonly writer: ResyncWriter;
  /** Replayed and re-seeded after the keys, in order, within the same pass. */
  private readonly extensions: readonly RecoveryExtension[];
  /** False until the first connection to Redis: that one is a start, not a recovery. */
  everConnected = false;
  /**
   * Mode lines are bound to the context the machine was built in: a change noticed inside a
   * request (a timeout that opens the breaker) must not carry that request's id.
   */
  private readonly logOutsideRequest: (level: 'log' | 'warn', line: string) => void;
  /** The marker key: exactly the prefix, which no cache key can be (keys are never empty). */
  private readonly markerKey: string;
  /** The fleet's roll call beside the marker (standalone and Sentinel; null on Cluster). */
  readonly fleet: FleetMembers | null;
  /** Which Redis process this instance last recovered on: a new one may have forgotten writes. */
  readonly server: ServerIdentity;

  private readonly gateway: CacheGateway;
  private readonly records: RedisRecords;
  private readonly local: LocalStack;
  private readonly near: NearCache;
  private readonly clock: () => number;
  private readonly logger: Logger;
  private readonly ids: RecoveryIds;
  private readonly clockOffset: ClockOffset;

  constructor(deps: RecoveryDeps) {
    const { gateway, records, local, hlc, clock, ids } = deps;
    this.gateway = gateway;
    this.records = records;
    this.local = local;
    this.near = deps.near;
    this.clock = clock;
    this.logger = deps.logger;
    this.ids = ids;
    this.clockOffset = deps.clockOffset;
    this.extensions = deps.extensions;
    this.writer = new ResyncWriter(gateway, records, local, hlc, clock, deps.quarantine);
    this.modeSubject = new BehaviorSubject<CacheMode>('fallback');
    this.markerKey = ids.keyPrefix;
    this.logOutsideRequest = AsyncResource.bind((level: 'log' | 'warn', line: string) => this.logger[level](line));
    const warn = (line: string) => this.logOutsideRequest('warn', line);
    this.server = new ServerIdentity(gateway, warn);
    const fleet = { fleetKey: fleetKey(ids.keyPrefix), markerKey: this.markerKey, memberId: ids.memberId, memberTtlMs: ids.reseedWindowMs, clock };
    // Another replica saw Redis forget first (a FLUSHALL this one has not noticed): recover now.
    const stale = () => (this.mode === 'redis' ? this.kickResync() : undefined);
    this.fleet = gateway.isCluster ? null : new FleetMembers(gateway, fleet, warn, stale);
  }

  /**
   * Whether a value read from Redis now is the fleet's word: not while a re-seed window is open,
   * since Redis may still hold a copy some replica wrote back that another replica's newer one has
   * yet to replace (docs/cache.md, "Redis that forgets").
   */
  get redisVouches(): boolean {
    return this.fleet === null || !this.fleet.windowOpen;
  }

  /** One line outside any request's context (start-up warnings). */
  logLine(level: 'log' | 'warn', line: string): void {
    this.logOutsideRequest(level, line);
  }

  get mode(): CacheMode {
    return this.modeSubject.value;
  }

  /** Measures the clock offset and checks the marker while connected (a FLUSHALL needs no reconnect). */
  start(): void {
    // Often enough that a marker lost without a reconnect is noticed within a re-seed window.
    const every = Math.min(this.ids.clockSyncIntervalMs, Math.max(1_000, this.ids.reseedWindowMs / 2));
    this.clockTimer = setInterval(() => {
      if (!this.gateway.available) return;
      this.measureClock().catch(() => undefined);
      this.checkMarker().catch(() => undefined);
    }, every);
    this.clockTimer.unref();
    this.fleet?.start();
    // Cluster: a master's breaker closing (or its failover) is no availability change, yet its keys' writes wait in the journal.
    this.releasedSub = this.gateway.nodeReleased$.subscribe(() => this.scheduleDrain());
  }

  /** Stops scheduling work and waits for a running pass. */
  async close(): Promise<void> {
    this.closing = true;
    this.releasedSub?.unsubscribe();
    if (this.clockTimer) clearInterval(this.clockTimer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.resyncing) await this.resyncing.catch(() => undefined);
    await this.fleet?.leave();
  }

  complete(): void {
    this.modeSubject.complete();
    this.transitions$.complete();
  }

  /** Which keys must not be read from Redis right now, because memory knows better. */
  redisUsableFor(k: string): boolean {
    // Also false on Cluster while the breaker of the master serving k is not closed.
    if (!this.gateway.usableFor(k)) return false;
    if (this.mode === 'fallback') return false;
    // A write Redis has not confirmed (journaled) is newer in memory than in Redis.
    if (this.local.journal.has(k)) return false;
    // An emptied Redis does not hold the key until re-seeding has written it back.
    return !(this.reseeding && this.local.memory.has(k));
  }

  /** Writes go to Redis (not only memory + journal) in this mode. */
  get writesToRedis(): boolean {
    return this.gateway.available && this.mode !== 'fallback';
  }

  onAvailability(up: boolean): void {
    if (up) this.linkUps++;
    if (!up) {
      this.setMode('fallback', this.gateway.unavailableReason ?? 'Redis unavailable');
      return;
    }
    this.kickResync();
  }

  /** A write that timed out in `redis` mode is replayed without waiting for the next outage. */
  scheduleDrain(): void {
    if (this.drainTimer || this.closing) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = null;
      if (this.drainable()) this.kickResync();
    }, DRAIN_DELAY_MS);
    this.drainTimer.unref();
  }

  /**
   * Journaled writes that could be replayed now. On Cluster those of a master whose breaker is open
   * wait for it (nodeReleased$) instead of keeping the resync loop busy.
   */
  private drainable(): boolean {
    if (!this.gateway.available) return false;
    for (const k of this.local.journal.keys()) if (this.gateway.usableFor(k)) return true;
    return false;
  }

  setMode(next: CacheMode, reason: string): void {
    const from = this.modeSubject.value;
    if (from === next || this.closing) return;
    this.lastTransitionAt = new Date(this.clock());
    this.transitions++;
    const first = next === 'redis' && !this.everConnected;
    if (next === 'redis') this.everConnected = true;
    const line = first ? `Cache connected to Redis (mode redis)${reason === 'Redis available' ? '' : `: ${reason}`}` : `Cache mode ${from} -> ${next}: ${reason}`;
    this.logOutsideRequest(next === 'fallback' ? 'warn' : 'log', line);
    this.modeSubject.next(next);
    this.transitions$.next({ from, to: next, at: this.lastTransitionAt, reason });
  }

  /** Runs (or re-runs after the current pass) the resync loop; at most one runs at a time. */
  kickResync(): void {
    this.resyncRequested = true;
    if (this.resyncing || this.closing) return;
    this.resyncing = this.resyncLoop().finally(() => {
      this.resyncing = null;
      if (this.resyncRequested && !this.closing && this.gateway.available) this.kickResync();
    });
  }

  private async resyncLoop(): Promise<void> {
    let delay = RESYNC_RETRY_MIN_MS;
    while (this.resyncRequested && !this.closing) {
      this.resyncRequested = false;
      // Down again: the next `ready` starts over; fallback mode came with the availability event.
      if (!this.gateway.available) return;
      try {
        await this.resyncOnce();
        delay = RESYNC_RETRY_MIN_MS;
      } catch (err) {
        // `reseeding` stays on: only a finished re-seed ends it, so until the next pass resumes it
        // no key memory holds is read (and forgotten) from a Redis that may still lack it.
        if (!this.gateway.available) {
          this.setMode('fallback', `recovery interrupted: ${(err as Error).message}`);
          return;
        }
        // Redis answers but a command failed (a timeout below the breaker threshold, an error):
        // try again shortly, with a growing pause so a persistent error does not spin.
        this.resyncRequested = true;
        await sleep(delay);
        delay = Math.min(delay * 2, RESYNC_RETRY_MAX_MS);
      }
    }
  }

  private async resyncOnce(): Promise<void> {
    const returning = this.mode !== 'redis';
    // Which connection this pass talks to: if Redis restarts mid-pass, the new one is unchecked.
    const link = this.linkUps;
    // Before anything is replayed or written: the offset to the fleet's clock may have changed.
    await this.measureClock();
    // Still in fallback while asking: reads come from memory, writes are journaled.
    const [epoch, runId] = await Promise.all([this.records.raw(this.markerKey), this.server.read()]);
    const known = this.local.epoch;
    const emptied = epoch === null || (known !== null && epochOf(epoch) !== known);
    // Another Redis process than last time (a restart from an older save, a failover, DNS moved):
    // its marker may be the old one, yet it may lack what the fleet acknowledged since.
    const replaced = runId !== null && this.server.current !== null && runId !== this.server.current;
    const forgot = emptied || replaced;
    // First pass of a process restarted with its snapshot: what the snapshot holds goes back too.
    const restored = this.server.current === null && known !== null;
    // An instance that has seen this deployment's marker (live or in its snapshot) was part of the fleet
    // Redis lost: new claims stay refused until every replica could re-seed (docs/cache.md).
    const windowed = forgot && known !== null;
    const opened = windowed ? await this.openReseedWindow(runId) : null;
    if (this.fleet && (opened !== null || (epoch !== null && windowOpenIn(epoch, this.clock())))) this.fleet.windowOpen = true;
    let candidates: [string, MemoryEntry][] = [];
    // An earlier pass began re-seeding and did not finish (a command failed, a Cluster master's
    // breaker opened): this one resumes it, whatever the marker says now.
    const resuming = this.reseeding;
    const reseed = forgot || restored || resuming;
    if (reseed) {
      // From here until re-seeding is done, keys known in memory are not read from Redis.
      this.reseeding = true;
      // A snapshot alone (Redis not seen forgetting) brings back only copies younger than a
      // tombstone's life: an older one may have been deleted since, its tombstone gone from Redis.
      const oldest = forgot || resuming ? 0 : this.clock() - this.ids.tombstoneTtlMs;
      candidates = [...this.local.memory.entries()].filter(([k, e]) => !this.local.journal.has(k) && wallOf(e.version) >= oldest);
      if (candidates.length > 0 && !resuming && forgot) {
        this.emptyRedisDetections++;
        this.logger.warn(
          emptied
            ? `Redis came back without this deployment's data (marker ${epoch === null ? 'missing' : 'changed'}): re-seeding ${candidates.length} keys from memory`
            : `Redis is another process than before (restarted or failed over: it may hold an older copy): re-seeding ${candidates.length} keys from memory`,
        );
      }
    }
    const work = this.local.journal.size > 0 || candidates.length > 0;
    if (returning && work) {
      this.setMode('recovering', `replaying ${this.local.journal.size} journaled writes${candidates.length > 0 ? `, re-seeding ${candidates.length} keys` : ''}`);
    }
    if (windowed) await this.fleet?.writeBack();
    await this.writer.replayJournal();
    for (const x of this.extensions) await x.replay();
    if (reseed) {
      await this.writer.reseed(candidates, windowed ? () => this.openReseedWindow(runId) : null);
      for (const x of this.extensions) await x.reseed();
      this.reseeding = false;
    }
    if (link !== this.linkUps) throw new Error('Redis connection changed during recovery');
    const current = opened ?? epoch ?? (await this.claimEpoch());
    if (link !== this.linkUps) throw new Error('Redis connection changed during recovery');
    this.local.epoch = epochOf(current);
    this.server.current = runId;
    if (this.fleet) {
      // This instance has written back what it holds into this Redis: its report may close the window.
      this.fleet.doneId = `${runId ?? ''}/${epochOf(current)}`;
      await this.fleet.beat().catch(() => undefined);
      // First pass: not in `redis` mode (so holding no claim) until the others know of this instance.
      if (!this.fleet.mayClaim()) await this.fleet.join();
    }
    if (this.drainable()) {
      // Writes that failed or were journaled during this pass: another pass, same mode.
      this.resyncRequested = true;
      return;
    }
    if (returning && this.gateway.available) {
      // Invalidations published while we were away were never received.
      this.near.flush();
      this.setMode('redis', work ? 'journal replayed' : 'Redis available');
      this.local.resetJournalWarning();
    }
  }

  /** Redis lost the marker (or got another) while this instance stayed connected: recover as after a restart. */
  private async checkMarker(): Promise<void> {
    if (this.mode !== 'redis' || this.resyncing || this.local.epoch === null) return;
    const marker = await this.records.raw(this.markerKey);
    if (marker === null || epochOf(marker) !== this.local.epoch) this.kickResync();
  }

  /** A failed measurement keeps the last offset: it must never hold up recovery. */
  private async measureClock(): Promise<void> {
    await this.clockOffset.measure(() => this.gateway.server.time()).catch((err: unknown) => this.clockOffset.failed(err));
  }

  /**
   * Opens or extends the fleet's re-seed window (a new epoch if the marker is missing), named after
   * the Redis process that forgot; returns the marker.
   */
  private openReseedWindow(runId: string | null): Promise<string> {
    const mine = `${this.clock()}-${this.ids.instanceId}-${randomBytes(4).toString('hex')}`;
    const [windowMs, now] = [this.ids.reseedWindowMs, this.clock()];
    const fleet = this.fleet;
    if (fleet) return this.gateway.marker.openFleetWindow(this.markerKey, fleetKey(this.ids.keyPrefix), mine, windowMs, now, runId, fleet.since());
    return this.gateway.marker.openWindow(this.markerKey, mine, windowMs, now);
  }

  /** Sets this deployment's marker unless another instance just did; returns the one in force. */
  private async claimEpoch(): Promise<string> {
    const mine = `${this.clock()}-${this.ids.instanceId}-${randomBytes(4).toString('hex')}`;
    if (await this.gateway.marker.setIfAbsent(this.markerKey, mine)) return mine;
    return (await this.records.raw(this.markerKey)) ?? mine;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
