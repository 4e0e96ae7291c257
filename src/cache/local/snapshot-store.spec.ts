import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatVersion } from '../core/hlc.js';
import { SnapshotFile, fromRow, toRow, type SnapshotData } from './snapshot-store.js';

const version = formatVersion(1_700_000_000_000, 0, '000000aa');
const data: SnapshotData = {
  epoch: 'e1',
  memory: [toRow('tb:a', { version, expiresAt: null, tombstone: false, json: '{"secret":"s3cr3t-value"}' })],
  journal: [toRow('tb:b', { version, expiresAt: 99, tombstone: true, json: '' })],
};

describe('SnapshotFile', () => {
  let dir: string;
  const key = randomBytes(32);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'snap-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips, encrypted (no plaintext on disk), owner-only, with no temp file left', async () => {
    const path = join(dir, 'sub', 'cache.snap');
    const file = new SnapshotFile(path, key, 'tb:');
    await file.save(data.epoch, data.memory.map(fromRow), data.journal.map(fromRow), 123);
    expect(readFileSync(path).includes('s3cr3t-value')).toBe(false);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['cache.snap']);
    const loaded = file.load();
    expect(loaded).toEqual({ state: 'ok', savedAt: 123, data });
    if (loaded.state === 'ok') expect(fromRow(loaded.data.journal[0])).toEqual(['tb:b', { version, expiresAt: 99, tombstone: true, json: '' }]);
  });

  it('writes large stores in chunks that load back whole', async () => {
    const path = join(dir, 'big.snap');
    const file = new SnapshotFile(path, key, 'tb:');
    const rows = Array.from({ length: 1_234 }, (_, i) => fromRow(toRow(`tb:k${i}`, { version, expiresAt: i, tombstone: false, json: `{"i":${i}}` })));
    await file.save(null, rows, rows.slice(0, 501), 5);
    const loaded = file.load();
    expect(loaded.state).toBe('ok');
    if (loaded.state !== 'ok') return;
    expect(loaded.data.memory.map(fromRow)).toEqual(rows);
    expect(loaded.data.journal).toHaveLength(501);
    expect(loaded.data.epoch).toBeNull();
  });

  it('reports a missing, corrupt or undecryptable file instead of throwing', async () => {
    const path = join(dir, 'cache.snap');
    expect(new SnapshotFile(path, key, 'tb:').load()).toMatchObject({ state: 'missing' });
    writeFileSync(path, 'not a snapshot');
    expect(new SnapshotFile(path, key, 'tb:').load()).toMatchObject({ state: 'corrupt' });
    await new SnapshotFile(path, key, 'tb:').save(data.epoch, data.memory.map(fromRow), data.journal.map(fromRow), 1);
    expect(new SnapshotFile(path, randomBytes(32), 'tb:').load()).toMatchObject({ state: 'undecryptable' });
    expect(new SnapshotFile(path, key, 'other:').load()).toMatchObject({ state: 'undecryptable' });
    const buf = readFileSync(path);
    buf[buf.length - 1] ^= 1;
    writeFileSync(path, buf);
    expect(new SnapshotFile(path, key, 'tb:').load()).toMatchObject({ state: 'undecryptable' });
  });

  it('round-trips append logs; a file without them loads without them', async () => {
    const path = join(dir, 'logs.snap');
    const file = new SnapshotFile(path, key, 'tb:');
    const member = `${version}|{"a":1}`;
    await file.save(null, [], [], 7, [['tb:\x1flog:l', 10, 60_000, [member], [member]]]);
    const loaded = file.load();
    expect(loaded.state === 'ok' && loaded.data.logs).toEqual([['tb:\x1flog:l', 10, 60_000, [member], [member]]]);
    await file.save(null, [], [], 8);
    const without = file.load();
    expect(without.state === 'ok' && 'logs' in without.data).toBe(false);
  });
});
