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
