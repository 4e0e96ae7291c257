import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { StoredRecord } from '../core/cache-codec.js';
import { isLogRow, isRow, toRow, type SnapshotLogRow, type SnapshotRow } from './snapshot-store.js';

const MAGIC = Buffer.from('TBCWAL1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface WalLoad {
  rows: SnapshotRow[];
  /** Durable log appends: each row one member, as unconfirmed (replayed as a union). */
  logs: SnapshotLogRow[];
  /** Lines that did not decrypt or parse (a line torn by a crash mid-append, another key). */
  unreadable: number;
}

/**
 * The write-ahead file beside the snapshot (`<path>.wal`): one AES-256-GCM line per durable write,
 * appended with one synchronous write() before the caller is answered, so a process kill cannot
 * lose it (the page cache outlives the process; `fsync` makes it survive the node too). Each
 * snapshot seals the current file (`<path>.wal.<n>`) and deletes the sealed ones once it is on disk.
 */
export class WriteAheadFile {
  private readonly aad: Buffer;
  private fd: number | null = null;
  /** Bytes in the current file (0: nothing to seal). */
  private size = 0;
  private nextSeal = 1;

  constructor(
    readonly path: string,
    private readonly key: Buffer,
    keyPrefix: string,
    private readonly fsync: boolean,
  ) {
    this.aad = Buffer.concat([MAGIC, Buffer.from(keyPrefix, 'utf8')]);
  }

  /** Throws when the line could not be written (the caller reports it; the snapshot still follows). */
  append(key: string, rec: StoredRecord): void {
    this.appendRow(toRow(key, rec));
  }

  /** A durable log append: one member, kept as unconfirmed. */
  appendLog(row: SnapshotLogRow): void {
    this.appendRow(row);
  }

  private appendRow(row: SnapshotRow | SnapshotLogRow): void {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(this.aad);
    const body = Buffer.concat([
      cipher.update(JSON.stringify(row), 'utf8'),
      cipher.final(),
    ]);
    const line = Buffer.from(
      `${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}\n`,
      'latin1',
    );
    const fd = this.fd ?? this.open();
    // One write() of the whole line: a kill leaves it whole or absent (a torn tail only on a node crash).
    let off = 0;
    while (off < line.length)
      off += writeSync(fd, line, off, line.length - off);
    if (this.fsync) fdatasyncSync(fd);
    this.size += line.length;
  }

  /**
   * Called as a snapshot takes its copy of memory: everything appended so far is in that copy, so
   * the current file is set aside and a new one started. Returns the newest sealed file's number
   * (0: none), which the snapshot covers once it is on disk.
   */
  seal(): number {
    if (this.fd !== null && this.size > 0) {
      closeSync(this.fd);
      this.fd = null;
      this.size = 0;
      renameSync(this.path, `${this.path}.${this.nextSeal++}`);
    }
    return this.nextSeal - 1;
  }

  /** The snapshot that covers every sealed file up to `n` is on disk: they are no longer needed. */
  dropSealed(n: number): void {
    for (const [seq, file] of this.sealedFiles())
      if (seq <= n) rmSync(file, { force: true });
  }

  /** Every record of the sealed files (oldest first) and the current one. Synchronous: start-up only. */
  load(): WalLoad {
    const out: WalLoad = { rows: [], logs: [], unreadable: 0 };
    const sealed = this.sealedFiles();
    if (sealed.length > 0) this.nextSeal = sealed[sealed.length - 1][0] + 1;
    for (const file of [...sealed.map(([, f]) => f), this.path]) {
      let text: string;
      try {
        text = readFileSync(file, 'latin1');
      } catch {
        continue;
      }
      // Sealed at once: new lines must not continue a line a crash may have torn.
      if (file === this.path && text.length > 0)
        renameSync(file, `${this.path}.${this.nextSeal++}`);
      for (const line of text.split('\n')) {
        if (line.length === 0) continue;
        const row = this.decode(line);
        if (row === null) out.unreadable++;
        else if (isRow(row)) out.rows.push(row);
        else out.logs.push(row);
      }
    }
    return out;
  }

  /** At shutdown, after the last snapshot: a current file with nothing in it is removed. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    if (this.size === 0) rmSync(this.path, { force: true });
  }

  private open(): number {
    mkdirSync(dirname(this.path), { recursive: true });
    this.fd = openSync(this.path, 'a', 0o600);
    // A new file's name must reach the disk too before a record in it counts as durable there.
    if (this.fsync) syncDir(dirname(this.path));
    return this.fd;
  }

  private sealedFiles(): [number, string][] {
    const dir = dirname(this.path);
    const base = `${basename(this.path)}.`;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    return names
      .filter((f) => f.startsWith(base) && /^\d+$/.test(f.slice(base.length)))
      .map((f): [number, string] => [
        Number(f.slice(base.length)),
        join(dir, f),
      ])
      .sort((a, b) => a[0] - b[0]);
  }

  private decode(line: string): SnapshotRow | SnapshotLogRow | null {
    try {
      const buf = Buffer.from(line, 'base64');
      if (buf.length <= IV_BYTES + TAG_BYTES) return null;
      const decipher = createDecipheriv(
        'aes-256-gcm',
        this.key,
        buf.subarray(0, IV_BYTES),
      );
      decipher.setAAD(this.aad);
      decipher.setAuthTag(buf.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(buf.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]);
      const row: unknown = JSON.parse(plain.toString('utf8'));
      return isRow(row) || isLogRow(row) ? row : null;
    } catch {
      return null;
    }
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
