import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WriteAheadFile } from './write-ahead-file.js';

const KEY = randomBytes(32);
const rec = (version: string, json: string) => ({
  version,
  expiresAt: null,
  tombstone: false,
  json,
});
const V1 = '000001700000000.000000.0000000a';
const V2 = '000001700000001.000000.0000000a';

describe('WriteAheadFile', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wal-'));
    path = join(dir, 'snap.wal');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads back every appended record, encrypted on disk, across sealed and current files', () => {
    const wal = new WriteAheadFile(path, KEY, 'tb:', false);
    wal.append('tb:a', rec(V1, '"secret-value-1"'));
    expect(wal.seal()).toBe(1);
    wal.append('tb:b', rec(V2, '"secret-value-2"'));
    expect(readFileSync(path, 'latin1')).not.toContain('secret-value');
    const loaded = new WriteAheadFile(path, KEY, 'tb:', false).load();
    expect(loaded).toEqual({
      rows: [
        ['tb:a', V1, 0, 0, '"secret-value-1"'],
        ['tb:b', V2, 0, 0, '"secret-value-2"'],
      ],
      logs: [],
      unreadable: 0,
    });
  });

  it('a durable log append comes back as one unconfirmed member of its log', () => {
    const wal = new WriteAheadFile(path, KEY, 'tb:', false);
    wal.appendLog(['tb:\x1flog:audit', 100, 0, [`${V1}|{"action":"revoked"}`], []]);
    expect(new WriteAheadFile(path, KEY, 'tb:', false).load()).toEqual({
      rows: [],
      logs: [['tb:\x1flog:audit', 100, 0, [`${V1}|{"action":"revoked"}`], []]],
      unreadable: 0,
    });
  });

  it('a torn last line is skipped, and what is appended after a restart does not continue it', () => {
    const first = new WriteAheadFile(path, KEY, 'tb:', false);
    first.append('tb:a', rec(V1, '1'));
    appendFileSync(path, 'AAAAtorn-without-newline');
    const second = new WriteAheadFile(path, KEY, 'tb:', false);
    expect(second.load()).toMatchObject({
      rows: [['tb:a', V1, 0, 0, '1']],
      unreadable: 1,
    });
    second.append('tb:b', rec(V2, '2'));
    const again = new WriteAheadFile(path, KEY, 'tb:', false).load();
    expect([again.rows.map((r) => r[0]), again.unreadable]).toEqual([
      ['tb:a', 'tb:b'],
      1,
    ]);
  });

  it('records of another key or key prefix are not read', () => {
    new WriteAheadFile(path, KEY, 'tb:', false).append('tb:a', rec(V1, '1'));
    expect(
      new WriteAheadFile(path, randomBytes(32), 'tb:', false).load(),
    ).toEqual({ rows: [], logs: [], unreadable: 1 });
    expect(new WriteAheadFile(path, KEY, 'other:', false).load()).toEqual({
      rows: [],
      logs: [],
      unreadable: 1,
    });
  });

  it('dropSealed removes the files a snapshot covers and keeps the newer ones; fsync mode writes the same lines', () => {
    const wal = new WriteAheadFile(path, KEY, 'tb:', true);
    wal.append('tb:a', rec(V1, '1'));
    const covered = wal.seal();
    wal.append('tb:b', rec(V2, '2'));
    wal.seal();
    wal.dropSealed(covered);
    expect(readdirSync(dir)).toEqual(['snap.wal.2']);
    expect(
      new WriteAheadFile(path, KEY, 'tb:', false).load().rows.map((r) => r[0]),
    ).toEqual(['tb:b']);
  });
});
