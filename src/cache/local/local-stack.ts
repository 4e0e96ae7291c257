import type { Logger } from '@nestjs/common';
import type { StoredRecord } from '../core/cache-codec.js';
import type { ResolvedCacheOptions } from '../core/cache.options.js';
import { MemoryStore, confirmationTime, entryOf, type MemoryEntry } from './memory-store.js';
import { JOURNAL_POLICY, RecoveryJournal } from './recovery-journal.js';
import { SnapshotScheduler, type SnapshotLogs } from './snapshot-scheduler.js';
import type { HybridLogicalClock } from '../core/hlc.js';

const SWEEP_MS = 30_000;

/**
 * What this instance holds by itself: the memory store (the only store in `memory` mode, the
 * mirror of Redis otherwise), the journal of writes Redis has not confirmed, and the snapshot file
 * that keeps both across a restart. Every change here marks the snapshot dirty.
 */
export class LocalStack {
  readonly memory: MemoryStore;
  readonly journal: RecoveryJournal;
  readonly snapshot: SnapshotScheduler;
  /** The marker value this instance last synchronised with (saved in the snapshot). */
  epoch: string | null = null;
  private journalFullWarned = false;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(
    options: ResolvedCacheOptions,
    private readonly clock: () => number,
    private readonly hlc: HybridLogicalClock,
    private readonly logger: Logger,
    /** The append logs that ride in the snapshot file; null for none. */
    logs: SnapshotLogs | null = null,
  ) {
    this.journal = new RecoveryJournal(options.journal, clock);
    this.memory = new MemoryStore(options.memory, clock, (k) => this.journal.has(k));
    this.snapshot = new SnapshotScheduler(options, clock, logger, this, logs);
  }

  /** Loads the snapshot (if configured) and starts the expiry sweep. */
  start(): void {
    this.sweepTimer = setInterval(() => {
      if (this.memory.sweepExpired() + this.journal.dropExpired() > 0) this.markDirty();
    }, SWEEP_MS);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.snapshot.close();
  }

  /** Records a snapshot row read back at start-up. */
  restore(k: string, rec: StoredRecord, journaled: boolean): boolean {
    this.hlc.observe(rec.version);
    if (journaled) this.journal.record(k, rec);
    return this.memory.set(k, entryOf(rec));
  }

  /** Takes a record into memory unless memory already holds that version (or a newer one). */
  mirror(k: string, rec: StoredRecord): MemoryEntry | undefined {
    const existing = this.memory.peek(k);
    // Of one version the tombstone wins: a withdrawn claim is a tombstone of its own version.
    if (existing?.version === rec.version && (existing.tombstone || !rec.tombstone)) return existing;
    return this.take(k, rec, existing);
  }

  /**
   * Memory's copy of `k`, if still `version`, is the newest as of now: Redis answered or acknowledged
   * it, or this instance wrote it (ReadResult.confirmedAgoMs counts from here).
   */
  confirm(k: string, version: string): void {
    const e = this.memory.peek(k);
    if (e !== undefined && e.version === version) e.confirmedAt = confirmationTime();
  }

  /** A new version (a write this instance just stamped): no older copy to look up first. */
  mirrorNew(k: string, rec: StoredRecord): void {
    if (this.memory.set(k, entryOf(rec))) this.markDirty();
  }

  /** Stores `rec` unless memory holds a newer version (`existing` is then what memory holds). */
  private take(k: string, rec: StoredRecord, existing: MemoryEntry | undefined): MemoryEntry | undefined {
    const entry = entryOf(rec);
    if (!this.memory.set(k, entry)) return existing ?? this.memory.peek(k);
    this.markDirty();
    // The store may have evicted it at once (over its limits): then memory holds nothing.
    return this.memory.holds(k, entry) ? entry : undefined;
  }

  forget(k: string): void {
    if (!this.memory.has(k)) return;
    this.memory.delete(k);
    this.markDirty();
  }

  journalRecord(k: string, rec: StoredRecord): void {
    const dropped = this.journal.record(k, rec);
    this.markDirty();
    if (dropped === null || this.journalFullWarned) return;
    this.journalFullWarned = true;
    this.logger.warn(
      `Recovery journal full (${this.journal.capacity} entries, policy ${JOURNAL_POLICY}): the oldest writes not yet in Redis are being dropped and will not be replayed; status.journalDropped counts them`,
    );
  }

  /** Back in `redis` mode: the next full journal warns again. */
  resetJournalWarning(): void {
    this.journalFullWarned = false;
  }

  journalSettle(k: string, version: string): void {
    this.journal.settle(k, version);
    this.markDirty();
  }

  journalSettleUpTo(k: string, version: string): void {
    if (!this.journal.has(k)) return;
    this.journal.settleUpTo(k, version);
    this.markDirty();
  }

  markDirty(): void {
    this.snapshot.markDirty();
  }

  /** On disk before the caller is answered (write-ahead file); see SnapshotScheduler.appendDurable. */
  durable(k: string, rec: StoredRecord): void {
    this.snapshot.appendDurable(k, rec);
  }
}
