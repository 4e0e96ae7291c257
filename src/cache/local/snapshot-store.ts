import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredRecord } from '../core/cache-codec.js';
import { VERSION_LENGTH, parseVersion } from '../core/hlc.js';

/** `[key, version, expiresAt or 0, tombstone 0/1, json]`: compact, and no field names repeated per entry. */
export type SnapshotRow = [string, string, number, 0 | 1, string];

export interface SnapshotData {
  /** The Redis data epoch this instance last synchronised with (see empty-Redis detection). */
  epoch: string | null;
  /** Memory store in least-recently-used-first order, so loading keeps recency. */
  memory: SnapshotRow[];
  journal: SnapshotRow[];
  /** Append logs (append-log.ts); absent in files without any. */
  logs?: SnapshotLogRow[];
}

/** `[log key, maxEntries or 0, maxAgeMs or 0, members not yet confirmed by Redis, members held]`. */
export type SnapshotLogRow = [string, number, number, string[], string[]];

export type SnapshotLoad =
  | { state: 'ok'; data: SnapshotData; savedAt: number }
  | { state: 'missing' | 'corrupt' | 'undecryptable'; reason: string };

const MAGIC = Buffer.from('TBCSNAP1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER = MAGIC.length + IV_BYTES + TAG_BYTES;

export function toRow(key: string, r: StoredRecord): SnapshotRow {
  return [key, r.version, r.expiresAt ?? 0, r.tombstone ? 1 : 0, r.json];
}

export function fromRow(row: SnapshotRow): [string, StoredRecord] {
  return [row[0], { version: row[1], expiresAt: row[2] > 0 ? row[2] : null, tombstone: row[3] === 1, json: row[4] }];
}

/**
 * The snapshot file: `TBCSNAP1 | iv(12) | tag(16) | AES-256-GCM(json)`, with the key prefix as
 * associated data (a snapshot of another deployment does not load). Written to a temp file,
 * fsynced, then renamed over the old one, so a crash mid-write leaves the previous snapshot whole.
 */
export class SnapshotFile {
  private readonly aad: Buffer;

  constructor(
    readonly path: string,
    private readonly key: Buffer,
    keyPrefix: string,
  ) {
    this.aad = Buffer.concat([MAGIC, Buffer.from(keyPrefix, 'utf8')]);
  }

  /** Synchronous: it runs once, at start-up, before anything else touches the store. */
  load(): SnapshotLoad {
    let buf: Buffer;
    try {
      buf = readFileSync(this.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { state: 'missing', reason: 'no snapshot file yet' };
      return { state: 'corrupt', reason: `cannot read the file (${code ?? 'error'})` };
    }
    if (buf.length < HEADER || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
      return { state: 'corrupt', reason: 'not a cache snapshot (bad header)' };
    }
    let plain: Buffer;
    try {
      const iv = buf.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
      const tag = buf.subarray(MAGIC.length + IV_BYTES, HEADER);
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAAD(this.aad);
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(buf.subarray(HEADER)), decipher.final()]);
    } catch {
      return { state: 'undecryptable', reason: 'authentication failed (other key, other key prefix, or a damaged file)' };
    }
    try {
      const parsed = JSON.parse(plain.toString('utf8')) as { v?: number; savedAt?: number } & Partial<SnapshotData>;
      if (parsed.v !== 1 || !Array.isArray(parsed.memory) || !Array.isArray(parsed.journal)) {
        return { state: 'corrupt', reason: 'unknown snapshot layout' };
      }
      const rows = (xs: unknown[]) => xs.filter(isRow);
      return {
        state: 'ok',
        savedAt: typeof parsed.savedAt === 'number' ? parsed.savedAt : 0,
        data: {
          epoch: typeof parsed.epoch === 'string' ? parsed.epoch : null,
          memory: rows(parsed.memory),
          journal: rows(parsed.journal),
          ...(Array.isArray(parsed.logs) ? { logs: parsed.logs.filter(isLogRow) } : {}),
        },
      };
    } catch {
      return { state: 'corrupt', reason: 'decrypted content is not valid JSON' };
    }
  }

  /**
   * Serialises and encrypts in chunks of CHUNK_ROWS, yielding to the event loop between them: a
   * store of 50k token-sized entries is ~17 MB of JSON, which in one piece would block every cache
   * operation for hundreds of milliseconds. Rows are self-contained (each has its version) and
   * loading is newer-version-wins, so a row changing while the file is written is harmless: the
   * change marks the snapshot dirty again and the next save has it.
   */
  async save(
    epoch: string | null,
    memory: readonly [string, StoredRecord][],
    journal: readonly [string, StoredRecord][],
    savedAt: number,
    logs: readonly SnapshotLogRow[] = [],
  ): Promise<number> {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(this.aad);
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await mkdir(dirname(this.path), { recursive: true });
    let size = HEADER;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        // The tag is known only at the end: reserve its place in the header, fill it in last.
        await fh.write(Buffer.concat([MAGIC, iv, Buffer.alloc(TAG_BYTES)]), 0, HEADER, 0);
        const put = async (text: string) => {
          const enc = cipher.update(text, 'utf8');
          if (enc.length === 0) return;
          await fh.write(enc, 0, enc.length, size);
          size += enc.length;
        };
        await put(`{"v":1,"savedAt":${savedAt},"epoch":${JSON.stringify(epoch)},"memory":[`);
        await putRows(memory, put);
        await put('],"journal":[');
        await putRows(journal, put);
        if (logs.length > 0) {
          await put('],"logs":[');
          for (let i = 0; i < logs.length; i++) {
            await put((i === 0 ? '' : ',') + JSON.stringify(logs[i]));
            if (i % 100 === 99) await new Promise<void>((r) => setImmediate(r));
          }
        }
        await put(']}');
        const last = cipher.final();
        if (last.length > 0) await fh.write(last, 0, last.length, size);
        size += last.length;
        await fh.write(cipher.getAuthTag(), 0, TAG_BYTES, MAGIC.length + IV_BYTES);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    return size;
  }
}

const CHUNK_ROWS = 500;

async function putRows(rows: readonly [string, StoredRecord][], put: (text: string) => Promise<void>): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
    const chunk = rows.slice(i, i + CHUNK_ROWS).map(([k, r]) => toRow(k, r));
    const json = JSON.stringify(chunk);
    await put((i === 0 ? '' : ',') + json.slice(1, -1));
    // Let cache operations run between chunks (a file write alone may complete synchronously fast).
    await new Promise<void>((r) => setImmediate(r));
  }
}

export function isRow(r: unknown): r is SnapshotRow {
  return (
    Array.isArray(r) &&
    r.length === 5 &&
    typeof r[0] === 'string' &&
    typeof r[1] === 'string' &&
    parseVersion(r[1]) !== null &&
    typeof r[2] === 'number' &&
    (r[3] === 0 || r[3] === 1) &&
    typeof r[4] === 'string'
  );
}

export function isLogRow(r: unknown): r is SnapshotLogRow {
  const strings = (xs: unknown) => Array.isArray(xs) && xs.every((m) => typeof m === 'string' && parseVersion(m.slice(0, VERSION_LENGTH)) !== null);
  return (
    Array.isArray(r) &&
    r.length === 5 &&
    typeof r[0] === 'string' &&
    typeof r[1] === 'number' &&
    typeof r[2] === 'number' &&
    strings(r[3]) &&
    strings(r[4])
  );
}
