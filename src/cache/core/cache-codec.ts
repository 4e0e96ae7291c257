import { VERSION_LENGTH } from './hlc.js';

/**
 * What one key holds in Redis: `<version>|<expiresAt ms or 0>|<kind><json>`. The version comes
 * first at a fixed width so the compare-and-set script can read it without parsing JSON; the
 * absolute expiry travels with the value so a mirrored copy expires at the same instant.
 * kind `v` is a value, `d` a delete tombstone (it keeps an older replayed write from coming back).
 */
export interface StoredRecord {
  version: string;
  expiresAt: number | null;
  tombstone: boolean;
  json: string;
}

export function encodeRecord(r: StoredRecord): string {
  return `${r.version}|${r.expiresAt ?? 0}|${r.tombstone ? 'd' : 'v'}${r.tombstone ? '' : r.json}`;
}

export function decodeRecord(raw: string): StoredRecord | null {
  if (raw.length < VERSION_LENGTH + 3 || raw[VERSION_LENGTH] !== '|') return null;
  const bar = raw.indexOf('|', VERSION_LENGTH + 1);
  if (bar < 0 || bar + 1 >= raw.length) return null;
  const expiresAt = Number(raw.slice(VERSION_LENGTH + 1, bar));
  const kind = raw[bar + 1];
  if (!Number.isFinite(expiresAt) || (kind !== 'v' && kind !== 'd')) return null;
  return {
    // A copy, not a slice: a slice would keep the whole reply (JSON included) alive as long as the
    // memory copy holds the version, long after the JSON itself was parsed and dropped.
    version: [raw.slice(0, 15), raw.slice(15, VERSION_LENGTH)].join(''),
    expiresAt: expiresAt > 0 ? expiresAt : null,
    tombstone: kind === 'd',
    json: raw.slice(bar + 2),
  };
}
