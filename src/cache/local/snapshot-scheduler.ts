import type { Logger } from '@nestjs/common';
import type { StoredRecord } from '../core/cache-codec.js';
import type { ResolvedCacheOptions } from '../core/cache.options.js';
import type { SnapshotStatus } from '../core/cache.types.js';
import type { LocalStack } from './local-stack.js';
import { SnapshotFile, fromRow, type SnapshotLogRow } from './snapshot-store.js';
import { WriteAheadFile } from './write-ahead-file.js';

/** Append logs ride in the same file (append-log.ts). */
export interface SnapshotLogs {
  load(rows: SnapshotLogRow[]): number;
  snapshotRows(): SnapshotLogRow[];
}

/**
 * When the snapshot file is written: a trailing throttle (a change is on disk within debounceMs
 * even under a steady stream of changes), saves one after another, a last save at shutdown.
 * Durable writes (claims, writes marked `durable`) also go to the write-ahead file at once; each
 * save seals it and deletes what the saved snapshot covers (docs/cache.md, "Snapshot").
 */
export class SnapshotScheduler {
  readonly status: SnapshotStatus;
  private readonly file: SnapshotFile | null;
  private readonly wal: WriteAheadFile | null;
  /** Loaded write-ahead records go to the journal too, so they reach Redis whatever it remembers. */
  private readonly replayDurable: boolean;
  private readonly debounceMs: number;
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closing = false;

  constructor(
    options: ResolvedCacheOptions,
    private readonly clock: () => number,
    private readonly logger: Logger,
    private readonly local: LocalStack,
    private readonly logs: SnapshotLogs | null,
  ) {
    const snap = options.snapshot;
    this.file = snap ? new SnapshotFile(snap.path, snap.key, options.keyPrefix) : null;
    this.wal = snap ? new WriteAheadFile(`${snap.path}.wal`, snap.key, options.keyPrefix, snap.fsyncDurableWrites) : null;
    this.replayDurable = options.redis !== null;
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
      loadedDurable: 0,
      durableWrites: 0,
      durableErrors: 0,
      lastDurableError: null,
    };
  }

  /** Reads the file into memory and the journal; anything unusable is reported once and ignored. */
  load(): void {
    if (!this.file) return;
    this.loadSnapshot(this.file);
    this.loadDurable(this.wal!);
  }

  private loadSnapshot(file: SnapshotFile): void {
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
    // The engine loads the snapshot once the logs exist (it builds them after this scheduler).
    this.status.loadedJournal += this.logs?.load(loaded.data.logs ?? []) ?? 0;
    this.local.epoch = loaded.data.epoch;
    this.logger.log(`Loaded cache snapshot from ${file.path}: ${this.status.loadedEntries} entries, ${this.status.loadedJournal} writes to replay`);
  }

  /** Durable writes made after the last snapshot: newer versions win, expired ones are skipped. */
  private loadDurable(wal: WriteAheadFile): void {
    let loaded;
    try {
      loaded = wal.load();
    } catch (err) {
      this.logger.warn(`Cache write-ahead file ${wal.path} not read: ${errorText(err)}`);
      return;
    }
    const now = this.clock();
    for (const row of loaded.rows) {
      const [k, rec] = fromRow(row);
      if (rec.expiresAt !== null && rec.expiresAt <= now) continue;
      const held = this.local.memory.peek(k);
      if (held && held.version >= rec.version) continue;
      this.local.restore(k, rec, this.replayDurable);
      this.status.loadedDurable++;
    }
    this.status.loadedDurable += loaded.logs.length;
    this.logs?.load(loaded.logs);
    if (loaded.unreadable > 0) this.logger.warn(`Cache write-ahead file ${wal.path}: ${loaded.unreadable} unreadable lines ignored (torn by a crash, or written with another key)`);
    if (this.status.loadedDurable > 0) this.logger.log(`Loaded ${this.status.loadedDurable} durable writes from ${wal.path}`);
  }

  /**
   * Appends one durable write before its caller is answered. A failure is counted and logged once
   * per streak; the write stands (it is in memory, and in the next snapshot).
   */
  appendDurable(k: string, rec: StoredRecord): void {
    this.durably((wal) => wal.append(k, rec));
  }

  /** A durable log append (one member), as appendDurable. */
  appendDurableLog(row: SnapshotLogRow): void {
    this.durably((wal) => wal.appendLog(row));
  }

  private durably(write: (wal: WriteAheadFile) => void): void {
    const wal = this.wal;
    if (!wal) return;
    try {
      write(wal);
      this.status.durableWrites++;
      this.status.lastDurableError = null;
    } catch (err) {
      this.status.durableErrors++;
      if (this.status.lastDurableError === null) this.logger.warn(`Cache write-ahead file ${wal.path} not written (durable writes last only until the next snapshot): ${errorText(err)}`);
      this.status.lastDurableError = errorText(err);
    }
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
    try {
      this.wal?.close();
    } catch {
      // Left for the next start, which loads it (newer versions only).
    }
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
      // Every durable write appended so far is in the copy just taken: set the file aside.
      let covered = 0;
      try {
        covered = this.wal?.seal() ?? 0;
      } catch (err) {
        this.logger.warn(`Cache write-ahead file not rotated: ${errorText(err)}`);
      }
      try {
        this.status.lastSaveBytes = await file.save(this.local.epoch, memory, journal, at, this.logs?.snapshotRows() ?? []);
        this.dropDurable(covered);
        this.status.saves++;
        this.status.lastSavedAt = new Date(at).toISOString();
        this.status.lastSaveError = null;
      } catch (err) {
        this.dirty = true;
        this.status.saveErrors++;
        const message = errorText(err);
        // One line per failure streak, not one per attempt.
        if (this.status.lastSaveError === null) this.logger.warn(`Cache snapshot not written to ${file.path}: ${message}`);
        this.status.lastSaveError = message;
        if (!this.closing) this.markDirty();
      }
    };
    this.chain = this.chain.then(run, run);
    return this.chain;
  }

  private dropDurable(covered: number): void {
    try {
      this.wal?.dropSealed(covered);
    } catch (err) {
      // Loaded again at the next start: only older or equal versions, which lose to the snapshot's.
      this.logger.warn(`Cache write-ahead file not trimmed: ${errorText(err)}`);
    }
  }
}

function errorText(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
