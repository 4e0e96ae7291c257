import { VERSION_LENGTH } from '../clock/hlc.js';

/**
 * Withdraws a claim whose outcome was unknown (the set-if-absent timed out, so the caller was told
 * `unknown` and acted without it): if the key still holds exactly that claim's version, it becomes
 * a tombstone of the same version, so any later write or claim still orders after it.
 * KEYS: key. ARGV: claim version, tombstone record, tombstone PXAT, L1 channel ('' for none).
 * Returns 1 when withdrawn, 0 when the key holds something else (the claim never landed, or was replaced).
 */
export const RELEASE_CLAIM_LUA = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or string.sub(cur, 1, ${VERSION_LENGTH}) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[1] .. KEYS[1]) end
return 1
`;

/** More pending withdrawals than this: the oldest is forgotten (its claim then stays: safe, only blocking). */
const MAX_PENDING = 10_000;

/**
 * Claims to withdraw once Redis answers again, one per key (the latest attempt's version). Sent on
 * the same connection after the timed-out claim, so Redis runs the withdrawal after the claim if
 * the claim ever runs. A crash loses this list, which leaves the claim in place: a retry is then
 * refused (never placed twice) until the claim expires.
 */
export class ClaimReleases {
  private readonly pending = new Map<string, string>();
  withdrawn = 0;

  get size(): number {
    return this.pending.size;
  }

  add(key: string, version: string): void {
    this.pending.delete(key);
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(key, version);
  }

  entries(): [string, string][] {
    return [...this.pending];
  }

  /** Done with this attempt (withdrawn or found replaced), unless a newer one was added meanwhile. */
  settle(key: string, version: string): void {
    if (this.pending.get(key) === version) this.pending.delete(key);
  }
}
