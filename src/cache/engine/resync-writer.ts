import type { StoredRecord } from '../core/cache-codec.js';
import type { CacheGateway } from '../redis/cache-gateway.js';
import type { HybridLogicalClock } from '../core/hlc.js';
import type { LocalStack } from '../local/local-stack.js';
import type { MemoryEntry } from '../local/memory-store.js';
import type { RedisRecords } from '../redis/redis-records.js';
import { isPoisonError, type ReplayQuarantine } from '../local/replay-quarantine.js';

const REPLAY_BATCH = 64;

/**
 * The writes of a recovery pass: the journal replayed and memory re-seeded into an emptied Redis,
 * both with the same compare-and-set, 64 at a time (coalesced by the command batcher). A write
 * that loses makes memory hold what Redis holds; one Redis rejects for good is quarantined.
 */
export class ResyncWriter {
  replayed = 0;
  replayRejected = 0;
  reseeded = 0;
  reseedRejected = 0;

  constructor(
    private readonly gateway: CacheGateway,
    private readonly records: RedisRecords,
    private readonly local: LocalStack,
    private readonly hlc: HybridLogicalClock,
    private readonly clock: () => number,
    readonly quarantine: ReplayQuarantine,
  ) {}

  /** Compare-and-set every journaled record, then take what Redis now holds into memory. */
  async replayJournal(): Promise<void> {
    this.local.journal.dropExpired();
    const pending = this.local.journal.snapshot();
    for (let i = 0; i < pending.length; i += REPLAY_BATCH) {
      if (!this.gateway.available) throw new Error('Redis went away during replay');
      await Promise.all(
        pending.slice(i, i + REPLAY_BATCH).map(async ([k, rec]) => {
          // Cluster: a master whose breaker is open keeps its keys journaled until it is back.
          if (!this.gateway.usableFor(k)) return;
          if (rec.expiresAt !== null && rec.expiresAt <= this.clock()) {
            this.local.journalSettle(k, rec.version);
            return;
          }
          const result = await this.replayOne(k, rec);
          this.local.journalSettle(k, rec.version);
          if (result === null) return;
          if (result === 1) {
            // Redis now holds exactly the copy memory has: nothing to reconcile.
            this.replayed++;
            return;
          }
          this.replayRejected++;
          this.hlc.observe(String(result));
          await this.reconcile(k);
        }),
      );
    }
  }

  /** One replayed compare-and-set; null when Redis rejects the entry for good (quarantined). */
  private async replayOne(k: string, rec: StoredRecord): Promise<1 | string | null> {
    try {
      return await this.records.cas(k, rec);
    } catch (err) {
      if (!isPoisonError(err)) throw err;
    }
    // A coalesced batch fails as a whole: only the entry's own script call may condemn it.
    try {
      return await this.records.casAlone(k, rec);
    } catch (err) {
      if (!isPoisonError(err)) throw err;
      this.quarantine.record(k, err as Error);
      this.local.journalSettle(k, rec.version);
      await this.reconcile(k).catch(() => this.local.forget(k));
      return null;
    }
  }

  /**
   * Redis lost the data: write back every copy memory still holds (values and tombstones), with
   * the same compare-and-set, so the newest copy anywhere in the fleet wins and nothing older does.
   */
  async reseed(entries: [string, MemoryEntry][], extendWindow: (() => Promise<unknown>) | null): Promise<void> {
    for (let i = 0; i < entries.length; i += REPLAY_BATCH) {
      if (!this.gateway.available) throw new Error('Redis went away during re-seed');
      // Claims stay refused while any replica is still writing back what it holds.
      if (extendWindow && i > 0 && i % (REPLAY_BATCH * 16) === 0) await extendWindow();
      await Promise.all(
        entries.slice(i, i + REPLAY_BATCH).map(async ([k, e]) => {
          if (e.expiresAt !== null && e.expiresAt <= this.clock()) return;
          // A newer local write made since detection already went to Redis (or the journal).
          const current = this.local.memory.peek(k);
          if (current && current.version > e.version) return;
          const rec: StoredRecord = { version: e.version, expiresAt: e.expiresAt, tombstone: e.tombstone, json: e.json };
          const result = await this.records.cas(k, rec);
          if (result === 1) {
            this.reseeded++;
            return;
          }
          this.reseedRejected++;
          this.hlc.observe(String(result));
          await this.reconcile(k);
        }),
      );
    }
  }

  /** After a lost CAS, memory holds exactly what Redis holds for the key (unless a newer local write is pending). */
  private async reconcile(k: string): Promise<void> {
    if (this.local.journal.has(k)) return;
    const rec = await this.records.fetch(k);
    if (!rec) this.local.forget(k);
    else this.local.mirror(k, rec);
  }
}
