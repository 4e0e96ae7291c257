import type { CacheGateway } from '../redis/cache-gateway.js';
import type { ResolvedCacheOptions } from '../core/cache.options.js';
import type { L1Status } from '../core/cache.types.js';
import type { CoherenceBus } from '../redis/coherence-bus.js';
import type { HybridLogicalClock } from '../core/hlc.js';
import type { LocalStack } from '../local/local-stack.js';
import type { MemoryEntry } from '../local/memory-store.js';

/**
 * L1: memory entries confirmed to be what Redis holds, served without asking Redis while the
 * invalidation subscription is live and the cache is in `redis` mode. Freshness is a generation
 * number on the entry; bumping the generation flushes L1 in O(1).
 */
export class NearCache {
  readonly channel: string;
  generation = 1;
  hits = 0;
  private invalidations = 0;
  private flushes = 0;
  private readonly bus: CoherenceBus | null;
  private readonly publish: boolean;
  private readonly readsInFlight = new Map<string, number>();
  private readonly invalidatedInFlight = new Set<string>();

  constructor(
    gateway: CacheGateway | null,
    options: ResolvedCacheOptions,
    private readonly local: LocalStack,
    private readonly hlc: HybridLogicalClock,
    private readonly redisMode: () => boolean,
  ) {
    this.channel = `${options.keyPrefix}cache:l1`;
    this.publish = options.l1.publish;
    this.bus =
      gateway && options.l1.enabled
        ? gateway.coherenceBus(
            { channel: this.channel, heartbeatMs: options.l1.heartbeatMs, timeoutMs: options.commandTimeoutMs },
            { invalidate: (k, v) => this.onInvalidate(k, v), resubscribed: () => this.flush(), lost: () => undefined },
          )
        : null;
  }

  get enabled(): boolean {
    return this.bus !== null;
  }

  start(): void {
    this.bus?.start();
  }

  async close(): Promise<void> {
    await this.bus?.close();
  }

  /** L1 answers only in `redis` mode with a live, heartbeat-checked subscription. */
  serving(): boolean {
    return this.bus !== null && this.bus.isLive && this.redisMode();
  }

  /** The entry if it is a fresh L1 copy (counted as a hit), else undefined. */
  hit(k: string): MemoryEntry | undefined {
    const e = this.local.memory.get(k);
    if (e === undefined || e.l1 !== this.generation || this.local.journal.has(k)) return undefined;
    this.hits++;
    return e;
  }

  /** Marks an entry as what Redis holds, if nothing flushed L1 since `generation` was read. */
  confirm(e: MemoryEntry | undefined, version: string, generation: number): void {
    if (e && e.version === version && generation === this.generation && this.serving()) e.l1 = generation;
  }

  /** Where writes publish their invalidation ('' for none). */
  publishChannel(): string {
    return this.publish ? this.channel : '';
  }

  flush(): void {
    if (!this.bus) return;
    this.generation++;
    this.flushes++;
  }

  beginRead(k: string): void {
    if (this.bus) this.readsInFlight.set(k, (this.readsInFlight.get(k) ?? 0) + 1);
  }

  /** True when an invalidation arrived while the read was in flight (its reply may be older). */
  endRead(k: string): boolean {
    if (!this.bus) return false;
    const n = (this.readsInFlight.get(k) ?? 1) - 1;
    const invalidated = this.invalidatedInFlight.has(k);
    if (n <= 0) {
      this.readsInFlight.delete(k);
      this.invalidatedInFlight.delete(k);
    } else this.readsInFlight.set(k, n);
    return invalidated;
  }

  status(): L1Status {
    return { enabled: this.bus !== null, live: this.bus?.isLive ?? false, hits: this.hits, invalidations: this.invalidations, flushes: this.flushes };
  }

  /** Another instance wrote `version`: a local copy older than that is dropped, not just unmarked. */
  private onInvalidate(k: string, version: string): void {
    if (this.readsInFlight.has(k)) this.invalidatedInFlight.add(k);
    const e = this.local.memory.peek(k);
    if (!e || e.version > version) return;
    // The same version again: our own write's echo, or a claim withdrawn in place (claim-release.ts).
    // Not served from L1 until a read has asked Redis which.
    if (e.version === version) {
      e.l1 = 0;
      return;
    }
    this.hlc.observe(version);
    this.invalidations++;
    // A pending local write stays for replay (its compare-and-set decides); otherwise a copy
    // known to be superseded must not be served later, not even in fallback.
    if (this.local.journal.has(k)) e.l1 = 0;
    else this.local.forget(k);
  }
}
