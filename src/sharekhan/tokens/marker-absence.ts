import type { CacheService } from '../../cache/index.js';

/** Past this many remembered pairs the memo starts over (a read refills it). */
const MAX_REMEMBERED = 10_000;

/**
 * Rejected-token markers known to be absent, for a cache without Redis (memory mode): there
 * nothing but this process writes the cache, and markers only through `markInvalid`, so a marker
 * read as absent stays absent until `markInvalid` writes one (expiry and eviction only remove).
 * Every token GET then needs one cache read, not two. A read that overlapped a marker write is
 * not remembered (the generation moved), so the memo never hides a marker.
 */
export class MarkerAbsence {
  private generation = 0;
  private readonly absent = new Set<string>();

  knownAbsent(id: string): boolean {
    return this.absent.has(id);
  }

  /** Before a read: pass the result to `sawAbsent`. */
  begin(): number {
    return this.generation;
  }

  sawAbsent(id: string, generation: number): void {
    if (generation !== this.generation) return;
    if (this.absent.size >= MAX_REMEMBERED) this.absent.clear();
    this.absent.add(id);
  }

  /** Before and after every marker write: forgets the pair and voids the reads in flight. */
  writing(id: string): void {
    this.generation++;
    this.absent.delete(id);
  }
}

/** One memo per cache: every token store on that cache writes its markers there. */
const memos = new WeakMap<CacheService, MarkerAbsence>();

/** The cache's memo in memory mode; null with Redis configured, where other replicas write markers. */
export function markerAbsenceFor(cache: CacheService): MarkerAbsence | null {
  if (cache.mode !== 'memory') return null;
  let memo = memos.get(cache);
  if (memo === undefined) memos.set(cache, (memo = new MarkerAbsence()));
  return memo;
}
