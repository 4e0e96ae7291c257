import { CommandNotSentError } from '../redis/command-not-sent.js';
import { decodeRecord, type StoredRecord } from '../core/cache-codec.js';
import type { CacheGateway } from '../redis/cache-gateway.js';
import type { ClaimResult } from '../core/cache.types.js';
import { ClaimReleases } from './claim-release.js';
import type { HybridLogicalClock } from '../core/hlc.js';
import type { LocalStack } from '../local/local-stack.js';
import { deepFreeze } from '../local/memory-store.js';
import type { RecoveryMachine } from './recovery.js';
import type { RedisRecords } from '../redis/redis-records.js';
import { isPoisonError } from '../local/replay-quarantine.js';

const RELEASE_RETRY_MIN_MS = 50;
const RELEASE_RETRY_MAX_MS = 2_000;

/**
 * setIfAbsent across the fleet (CLAIM_LUA): a live copy memory holds wins before Redis decides, no
 * claim is granted while an emptied Redis is being re-seeded, and a claim that timed out is
 * withdrawn once Redis answers (claim-release.ts). docs/cache.md, "Claims after Redis restarts empty".
 */
export class Claims {
  readonly releases = new ClaimReleases();
  private releaseTimer: NodeJS.Timeout | null = null;
  private releaseDelay = RELEASE_RETRY_MIN_MS;
  private closing = false;

  constructor(
    private readonly gateway: CacheGateway,
    private readonly records: RedisRecords,
    private readonly recovery: RecoveryMachine,
    private readonly local: LocalStack,
    private readonly hlc: HybridLogicalClock,
    private readonly settings: { markerKey: string; commandTimeoutMs: number; tombstoneTtlMs: number; clock: () => number },
  ) {}

  close(): void {
    this.closing = true;
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
  }

  /** With Redis usable for the key (the caller checked): see CacheService.setIfAbsent. */
  async claim<T>(k: string, rec: StoredRecord): Promise<ClaimResult<T>> {
    // A newcomer the fleet may not know of yet: a Redis that forgot it would not wait for it.
    if (this.recovery.fleet && !this.recovery.fleet.mayClaim()) return { state: 'unknown', reason: 'reseeding', authoritative: false };
    const known = this.local.memory.get(k);
    // Only a record this instance wrote: a mirrored copy of another's claim may since have been
    // released, and putting it back would block the key until it expires.
    const seed = known && !known.tombstone && known.version.endsWith(this.hlc.instance) ? known : null;
    const cluster = this.gateway.isCluster;
    const marker = cluster ? null : this.settings.markerKey;
    const ask = (deadline?: number) => this.records.claim(k, marker, rec, seed, this.settings.clock(), deadline);
    let reply: 0 | 1 | 2 | string;
    let held: StoredRecord | null = null;
    const deadline = performance.now() + this.settings.commandTimeoutMs;
    try {
      if (cluster && !(await this.clusterClaimsOpen(deadline))) return { state: 'unknown', reason: 'reseeding', authoritative: false };
      reply = await ask(cluster ? deadline : undefined);
      held = typeof reply === 'number' ? null : decodeRecord(String(reply));
      if (held?.tombstone) {
        // Deleted, but by an instance whose clock runs ahead of ours: the key is free, so the
        // claim moves past the tombstone's version once (as a live write does) and asks again.
        this.hlc.observe(held.version);
        rec.version = this.hlc.next();
        reply = await ask(deadline);
        held = typeof reply === 'number' ? null : decodeRecord(String(reply));
      }
    } catch (err) {
      // Not sent (a breaker open; on Cluster maybe the marker's master's): no claim of ours to withdraw.
      if (err instanceof CommandNotSentError) return { state: 'unknown', reason: 'unreachable', authoritative: false };
      // The script may still run after the timeout: withdraw this attempt's claim once Redis answers.
      this.releases.add(k, rec.version);
      this.scheduleReleases();
      return { state: 'unknown', reason: 'timeout', authoritative: false };
    }
    // Marker gone while connected (FLUSHALL, a failover to an empty replica): recover as after a restart.
    if (reply === 2) this.recovery.kickResync();
    // The window is open: reads from Redis are not the fleet's word until it closes (beats watch for that).
    if (reply === 0 && this.recovery.fleet) this.recovery.fleet.windowOpen = true;
    if (reply === 0 || reply === 2) return { state: 'unknown', reason: 'reseeding', authoritative: false };
    if (reply === 1) {
      this.local.mirror(k, rec);
      this.local.confirm(k, rec.version);
      return { state: 'claimed', authoritative: true, version: rec.version };
    }
    if (!held) return { state: 'exists', authoritative: true };
    // Deleted again, newer still, while we asked: nothing was written, let the caller decide.
    if (held.tombstone) return { state: 'unknown', reason: 'unreachable', authoritative: false };
    this.hlc.observe(held.version);
    const entry = this.local.mirror(k, held);
    this.local.confirm(k, held.version);
    const v = entry && entry.version === held.version ? entry.parsed() : deepFreeze(JSON.parse(held.json));
    return { state: 'exists', value: v as T, authoritative: true };
  }

  /**
   * Compare-and-delete of a claim this instance was granted (getOrSet's lock): only if the key still
   * holds that version, so a claim that expired and was taken over is left to its new holder.
   * Redis unusable: nothing is sent, the claim expires by its own TTL.
   */
  async releaseOwn(k: string, version: string): Promise<void> {
    const tomb: StoredRecord = { version, expiresAt: this.settings.clock() + this.settings.tombstoneTtlMs, tombstone: true, json: '' };
    try {
      if ((await this.records.release(k, tomb)) === 1 && this.local.memory.peek(k)?.version === version) this.local.forget(k);
    } catch {
      // Timed out or unreachable: the lock's short TTL ends it.
    }
  }

  /** Withdraws timed-out claims; what fails stays pending for the next try. Runs in each recovery pass. */
  /** Returns whether some were left for a Cluster master whose breaker is open. */
  async drainReleases(): Promise<boolean> {
    let skipped = false;
    for (const [k, version] of this.releases.entries()) {
      // Cluster: a master whose breaker is open keeps its releases pending until it is back.
      if (this.gateway.available && !this.gateway.usableFor(k)) {
        skipped = true;
        continue;
      }
      const tomb: StoredRecord = { version, expiresAt: this.settings.clock() + this.settings.tombstoneTtlMs, tombstone: true, json: '' };
      try {
        if ((await this.records.release(k, tomb)) === 1) this.releases.withdrawn++;
      } catch (err) {
        // The key holds something no claim script wrote (WRONGTYPE): nothing of ours to withdraw.
        if (!isPoisonError(err)) throw err;
      }
      this.releases.settle(k, version);
    }
    return skipped;
  }

  /** Cluster: the marker lives in another slot than the key, so the window is checked before the claim. */
  private async clusterClaimsOpen(deadline: number): Promise<boolean> {
    const marker = await this.gateway.marker.read(this.settings.markerKey, deadline);
    if (marker === null) return false;
    const bar = marker.indexOf('|');
    return bar < 0 || Number(marker.slice(bar + 1)) <= this.settings.clock();
  }

  private retryReleases(): void {
    this.releaseDelay = Math.min(this.releaseDelay * 2, RELEASE_RETRY_MAX_MS);
    this.scheduleReleases();
  }

  private scheduleReleases(): void {
    if (this.releaseTimer || this.closing) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = null;
      if (this.releases.size === 0 || !this.gateway.available) return; // resync drains them on the way back
      this.drainReleases().then(
        (skipped) => {
          // Left pending for a Cluster master whose breaker is open: asked again, as after a failure.
          if (skipped) this.retryReleases();
          else this.releaseDelay = RELEASE_RETRY_MIN_MS;
        },
        () => this.retryReleases(),
      );
    }, this.releaseDelay);
    this.releaseTimer.unref();
  }
}
