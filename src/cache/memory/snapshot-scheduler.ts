import type { Logger } from '@nestjs/common';
import type { StoredRecord } from '../stack/cache-codec.js';
import type { ResolvedCacheOptions } from '../cache.options.js';
import type { SnapshotStatus } from '../cache.types.js';
import type { LocalStack } from '../stack/local-stack.js';
import { SnapshotFile, fromRow, type SnapshotLogRow } from './snapshot-store.js';

/** Append logs ride in the same file (append-log.ts). */
export interface SnapshotLogs {
  load(rows: SnapshotLogRow[]): number;
  snapshotRows(): SnapshotLogRow[];
}

/**
 * When the snapshot file is written: a trailing throttle (a change is on disk within debounceMs
 * even under a steady stream of changes), saves one after another, a last save at shutdown.
 */
export class SnapshotScheduler {
  readonly status: SnapshotStatus;
  private readonly file: SnapshotFile | null;
  private readonly debounceMs: number;
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closing = false;
  logs: SnapshotLogs | null = null;

  constructor(
    options: ResolvedCacheOptions,
    private readonly clock: () => number,
    private readonly logger: Logger,
    private readonly local: LocalStack,
  ) {
    const snap = options.snapshot;
    this.file = snap ? new SnapshotFile(snap.path, snap.key, options.keyPrefix) : null;
    this.debounceMs = snap?.debounceMs ?? 0;
    this.status = {
      enabled: snap !== null,
      load: 'disabled',
      loadError: null,
      loadedEntries: 0,
      loadedJournal: 0,
      saves: 0,
      lastSavedAt: null,
      lastSaveBytes: 0,
      saveErrors: 0,
      lastSaveError: null,
    };
  }

  /** Reads the file into memory and the journal; anything unusable is reported once and ignored. */
  load(): void {
    const file = this.file;
    if (!file) return;
    const loaded = file.load();
    this.status.load = loaded.state;
    if (loaded.state !== 'ok') {
      this.status.loadError = loaded.reason;
      if (loaded.state === 'missing') this.logger.log(`No cache snapshot at ${file.path} yet: starting empty`);
      else this.logger.warn(`Cache snapshot at ${file.path} ignored (${loaded.state}: ${loaded.reason}); starting without it`);
      return;
    }
    const now = this.clock();
    for (const row of loaded.data.memory) {
      const [k, rec] = fromRow(row);
      if (rec.expiresAt !== null && rec.expiresAt <= now) continue;
      if (this.local.restore(k, rec, false)) this.status.loadedEntries++;
    }
    for (const row of loaded.data.journal) {
      const [k, rec] = fromRow(row);
      if (rec.expiresAt !== null && rec.expiresAt <= now) continue;
      this.local.restore(k, rec, true);
      this.status.loadedJournal++;
    }
    // Loaded once the facade has attached the logs (it loads the snapshot after building them).
    this.status.loadedJournal += this.logs?.load(loaded.data.logs ?? []) ?? 0;
    this.local.epoch = loaded.data.epoch;
    this.logger.log(`Loaded cache snapshot from ${file.path}: ${this.status.loadedEntries} entries, ${this.status.loadedJournal} writes to replay`);
  }

  markDirty(): void {
    if (!this.file || this.closing) return;
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.save();
    }, this.debounceMs);
    this.timer.unref();
  }

  /** A last save of everything, then no more. */
  async close(): Promise<void> {
    if (!this.file) return;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.dirty = true;
    await this.save();
  }

  /** Saves run one after another, so two never race on the rename. */
  private save(): Promise<void> {
    const file = this.file!;
    const run = async () => {
      if (!this.dirty) return;
      this.dirty = false;
      // References only (fast); the rows are serialised in chunks by the file writer.
      const memory: [string, StoredRecord][] = [...this.local.memory.entries()];
      const journal = this.local.journal.snapshot();
      const at = this.clock();
      try {
        this.status.lastSaveBytes = await file.save(this.local.epoch, memory, journal, at, this.logs?.snapshotRows() ?? []);
        this.status.saves++;
        this.status.lastSavedAt = new Date(at).toISOString();
        this.status.lastSaveError = null;
      } catch (err) {
        this.dirty = true;
        this.status.saveErrors++;
        const message = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        // One line per failure streak, not one per attempt.
        if (this.status.lastSaveError === null) this.logger.warn(`Cache snapshot not written to ${file.path}: ${message}`);
        this.status.lastSaveError = message;
        if (!this.closing) this.markDirty();
      }
    };
    this.chain = this.chain.then(run, run);
    return this.chain;
  }
}
