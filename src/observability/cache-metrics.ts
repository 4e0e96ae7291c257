import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import type { CacheMode, CacheObserver, CacheService, CacheStatus } from '../cache/index.js';

const MODES: readonly CacheMode[] = ['redis', 'fallback', 'recovering', 'memory'];
const BREAKER_STATES: readonly CacheStatus['breakerState'][] = ['closed', 'open', 'half-open', 'none'];

/** Sub-millisecond buckets: a memory hit takes microseconds, a Redis round trip a millisecond or so. */
const OP_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * The cache as Prometheus sees it. Per-operation numbers come through the cache's observer hook
 * (cheap, synchronous); everything else is read from `getStatus()` at scrape time, so the cache
 * does no metrics work between scrapes.
 */
export class CacheMetrics implements CacheObserver {
  private readonly operations: Counter<'op' | 'result' | 'store'>;
  private readonly latency: Histogram<'op' | 'store'>;
  private readonly transitions: Counter<'from' | 'to'>;
  /** Label lookups hash their arguments; the handful of combinations is cached instead. */
  private readonly opChildren = new Map<string, { inc(): void }>();
  private readonly latencyChildren = new Map<string, { observe(v: number): void }>();
  private sub: Subscription | null = null;

  constructor(
    registry: Registry,
    private readonly cache: CacheService,
  ) {
    const registers = [registry];
    const status = () => this.cache.getStatus();

    new Gauge({
      name: 'cache_mode',
      help: 'Current cache mode: 1 for the mode in force, 0 for the others (redis, fallback, recovering, memory)',
      labelNames: ['mode'],
      registers,
      collect() {
        const mode = status().mode;
        for (const m of MODES) this.set({ mode: m }, m === mode ? 1 : 0);
      },
    });
    this.transitions = new Counter({
      name: 'cache_mode_transitions_total',
      help: 'Cache mode changes, by previous and new mode',
      labelNames: ['from', 'to'],
      registers,
    });
    new Gauge({
      name: 'cache_mode_last_transition_timestamp_seconds',
      help: 'Unix time of the last cache mode change (or of start-up)',
      registers,
      collect() {
        this.set(Date.parse(status().lastTransitionAt) / 1000);
      },
    });
    this.operations = new Counter({
      name: 'cache_operations_total',
      help: 'Cache operations by op (read, set, delete), result (hit, miss, unavailable, ok, journaled) and store that answered (redis, memory, none)',
      labelNames: ['op', 'result', 'store'],
      registers,
    });
    this.latency = new Histogram({
      name: 'cache_operation_duration_seconds',
      help: 'Cache operation latency as the caller sees it, by op and answering store',
      labelNames: ['op', 'store'],
      buckets: OP_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'cache_memory_entries',
      help: 'Entries in the in-memory store (warm fallback and memory mode)',
      registers,
      collect() {
        this.set(status().fallbackSize);
      },
    });
    new Gauge({
      name: 'cache_memory_bytes',
      help: 'Approximate bytes held by the in-memory store',
      registers,
      collect() {
        this.set(status().memoryBytes);
      },
    });
    new Gauge({
      name: 'cache_journal_depth',
      help: 'Writes and deletes made during an outage, waiting to be replayed to Redis',
      registers,
      collect() {
        this.set(status().journalSize);
      },
    });
    new Gauge({
      name: 'cache_breaker_state',
      help: 'Redis circuit breaker: 1 for the current state (closed, open, half-open; none without Redis)',
      labelNames: ['state'],
      registers,
      collect() {
        const state = status().breakerState;
        for (const s of BREAKER_STATES) this.set({ state: s }, s === state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'cache_breaker_open_nodes',
      help: 'Redis Cluster: masters whose own circuit breaker is open or half-open (their slots served from memory); 0 elsewhere',
      registers,
      collect() {
        this.set(status().breakerOpenNodes.length);
      },
    });
    new Gauge({
      name: 'cache_redis_connected',
      help: '1 while the Redis connection is up',
      registers,
      collect() {
        this.set(status().connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'cache_clock_offset_seconds',
      help: "Redis' clock minus this instance's, as last measured; writes are stamped with the corrected time",
      registers,
      collect() {
        this.set(status().clock.offsetMs / 1000);
      },
    });
    new Gauge({
      name: 'cache_clock_skew_exceeded',
      help: "1 while this instance's clock is further off Redis' than maxClockSkewMs (fix the host's time sync)",
      registers,
      collect() {
        this.set(status().clock.skewExceeded ? 1 : 0);
      },
    });
    monotonic(registry, 'cache_replayed_writes_total', 'Journaled writes replayed to Redis after an outage', () => status().replayed);
    monotonic(
      registry,
      'cache_replay_rejected_writes_total',
      'Journaled writes not applied on replay because Redis already held a newer version',
      () => status().replayRejected,
    );
    monotonic(
      registry,
      'cache_replay_quarantined_writes_total',
      'Journaled writes Redis rejected for good on replay (wrong type, bad argument), dropped so recovery can finish',
      () => status().replayQuarantined,
    );
    monotonic(registry, 'cache_journal_dropped_total', 'Journaled writes dropped because the journal was full', () => status().journalDropped);
    monotonic(registry, 'cache_memory_evictions_total', 'Entries evicted from the in-memory store to stay within its bounds', () => status().memoryEvictions);
    monotonic(registry, 'cache_redis_reconnect_attempts_total', 'Redis reconnect attempts', () => status().reconnectAttempts);
  }

  /** Starts counting; returns nothing to await, the cache calls back synchronously. */
  bind(): void {
    this.cache.setObserver(this);
    this.sub = this.cache.transitions$.subscribe((t) => this.transitions.inc({ from: t.from, to: t.to }));
  }

  unbind(): void {
    this.cache.setObserver(null);
    this.sub?.unsubscribe();
    this.sub = null;
  }

  operation(op: string, result: string, store: string, durationMs: number): void {
    const key = `${op}|${result}|${store}`;
    let counter = this.opChildren.get(key);
    if (!counter) {
      counter = this.operations.labels(op, result, store);
      this.opChildren.set(key, counter);
    }
    counter.inc();
    const lkey = `${op}|${store}`;
    let hist = this.latencyChildren.get(lkey);
    if (!hist) {
      hist = this.latency.labels(op, store);
      this.latencyChildren.set(lkey, hist);
    }
    hist.observe(durationMs / 1000);
  }
}

/** A counter mirroring a number the cache already counts, advanced by the difference at scrape time. */
function monotonic(registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > seen) this.inc(now - seen);
      seen = Math.max(seen, now);
    },
  });
}
