import { decodeRecord, encodeRecord, type StoredRecord } from './cache-codec.js';
import { formatVersion } from './hlc.js';

const version = formatVersion(1_700_000_000_123, 4, '0000abcd');

describe('cache record codec', () => {
  it('round-trips a value with an absolute expiry, version first at a fixed width', () => {
    const rec: StoredRecord = { version, expiresAt: 1_700_000_060_000, tombstone: false, json: '{"a":"x|y"}' };
    const raw = encodeRecord(rec);
    expect(raw.startsWith(`${version}|1700000060000|v`)).toBe(true);
    expect(decodeRecord(raw)).toEqual(rec);
  });

  it('round-trips a value without expiry and a tombstone', () => {
    expect(decodeRecord(encodeRecord({ version, expiresAt: null, tombstone: false, json: '1' }))).toEqual({
      version,
      expiresAt: null,
      tombstone: false,
      json: '1',
    });
    const tomb = encodeRecord({ version, expiresAt: 5, tombstone: true, json: 'ignored' });
    expect(tomb).toBe(`${version}|5|d`);
    expect(decodeRecord(tomb)).toEqual({ version, expiresAt: 5, tombstone: true, json: '' });
  });

  it('rejects what is not a record instead of guessing', () => {
    expect(decodeRecord('')).toBeNull();
    expect(decodeRecord('plain value written by someone else')).toBeNull();
    expect(decodeRecord(`${version}|abc|v1`)).toBeNull();
    expect(decodeRecord(`${version}|0|x1`)).toBeNull();
    expect(decodeRecord(`${version}|0`)).toBeNull();
  });
});
