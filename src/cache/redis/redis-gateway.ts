import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { BehaviorSubject, distinctUntilChanged, Subject, type Observable } from 'rxjs';
import type { ResolvedCacheOptions } from '../core/cache.options.js';
import { ADD_LUA, CAS_IF_VERSION_LUA, CAS_SET_LUA, CAS_SET_MANY_LUA } from './scripts/cas-script.js';
import { CommandBatcher } from './command-batcher.js';
import { CLAIM_LUA, OPEN_WINDOW_LUA } from './scripts/reseed-window.js';
import { RELEASE_CLAIM_LUA } from './scripts/claim-release-script.js';
import { LOG_APPEND_LUA } from './scripts/append-log-script.js';
import { INCR_WINDOW_LUA } from './scripts/counter-script.js';
import { SLIDING_WINDOW_LUA } from './scripts/sliding-window-script.js';
import {
  FLEET_BEAT_LUA,
  FLEET_MERGE_LUA,
  OPEN_FLEET_WINDOW_LUA,
} from './scripts/fleet-scripts.js';
import {
  CircuitBreaker,
  CircuitOpenError,
  type BreakerState,
} from './circuit-breaker.js';
import {
  DeadlineQueue,
  type Continuation,
  type Outcome,
} from './deadline-queue.js';
import { withTimeout } from './with-timeout.js';
import { CommandNotSentError } from './command-not-sent.js';
import { createRedisClient, describeRedisError, type RedisClient } from './redis-connection.js';
import { NodeBreakers } from './node-breakers.js';
import { SilenceWatch } from './silence-watch.js';
import type { CommandExecutor } from './command-executor.js';

export type { BreakerState } from './circuit-breaker.js';

/** A Redis that is connected but not answering: only this opens the breaker. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && /timed out|timeout/i.test(err.message);
}

export type CasClient = RedisClient & {
  /** See CAS_SET_LUA; `channel` ('' for none) receives the L1 invalidation of a successful write. */
  casSet(key: string, version: string, record: string, pxat: string, channel?: string): Promise<1 | string>;
  /** See ADD_LUA: 1 when written, else the record that holds the key. */
  casAdd(key: string, version: string, record: string, pxat: string, channel?: string): Promise<1 | string>;
  casSetMany(numKeys: number, ...args: string[]): Promise<(1 | string)[]>;
  /** See CAS_IF_VERSION_LUA: 1 when written, else the stored version ('' when absent). */
  casIfVersion(key: string, version: string, record: string, pxat: string, channel: string, expected: string): Promise<1 | string>;
  /** See CLAIM_LUA: 1 when written, 0 or 2 when refused until the fleet has re-seeded, else the record that holds the key. */
  casClaim(numKeys: number, ...args: string[]): Promise<0 | 1 | 2 | string>;
  /** See RELEASE_CLAIM_LUA: 1 when the timed-out claim was withdrawn. */
  releaseClaim(key: string, version: string, tombstone: string, pxat: string, channel: string): Promise<0 | 1>;
  /** See OPEN_WINDOW_LUA: the marker value now in force. */
  openReseedWindow(
    marker: string,
    epoch: string,
    windowMs: string,
    now: string,
  ): Promise<string>;
  /** See OPEN_FLEET_WINDOW_LUA: the marker value now in force; the window is named after the run id. */
  openFleetWindow(
    marker: string,
    fleet: string,
    epoch: string,
    windowMs: string,
    now: string,
    runId: string,
    since: string,
  ): Promise<string>;
  /** See FLEET_BEAT_LUA: [window open 0/1, member, last seen, ...]. */
  fleetBeat(
    fleet: string,
    marker: string,
    member: string,
    now: string,
    doneId: string,
    pruneMs: string,
  ): Promise<(string | number)[]>;
  /** See FLEET_MERGE_LUA. */
  fleetMerge(fleet: string, ...memberSeen: string[]): Promise<1>;
  /** See LOG_APPEND_LUA: the number of members the log holds afterwards. */
  logAppend(key: string, maxEntries: string, cutoff: string, ttlMs: string, ...members: string[]): Promise<number>;
  /** See INCR_WINDOW_LUA: [count, remaining ms]. */
  incrWindow(key: string, windowMs: string, by: string): Promise<[number, number]>;
  /** See SLIDING_WINDOW_LUA: [granted, ms until a slot may free up]. */
  slidingWindow(key: string, windowMs: string, limit: string, want: string, member: string, blockMs: string): Promise<[number, number]>;
};

/**
 * Owns the Redis connection and decides whether Redis may be used right now. Two signals:
 * the connection (ioredis `ready` / `close`), and a circuit breaker that opens after consecutive
 * command timeouts (a hung Redis keeps its TCP connection). While open, no user operation touches
 * Redis; a background PING probes it on a jittered, capped exponential interval. On Cluster there is
 * one breaker per master (NodeBreakers), so a hung master sends only its own slots to memory.
 */
export class RedisGateway implements CommandExecutor {
  readonly client: CasClient;
  /** Standalone and Sentinel: the one breaker. On Cluster it never opens (commands without a key cannot be attributed to a node). */
  private readonly breaker: CircuitBreaker;
  /** Cluster only: a breaker per master, fed by the commands of its slots' keys. */
  private readonly nodes: NodeBreakers | null;
  private readonly released = new Subject<string>();
  private readonly availability = new BehaviorSubject<boolean>(false);
  private connected = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private inFlight = 0;
  /** Standalone and Sentinel only: a Cluster batch would span slots. */
  private readonly batcher: CommandBatcher | null;
  /**
   * Standalone and Sentinel: bounds commands once the connection is ready, in place of ioredis'
   * per-command timer (ioredis' own timeout still bounds the connection handshake). Cluster keeps
   * ioredis' timeout on every node and our timer per operation.
   */
  private readonly deadlines: DeadlineQueue | null;
  /** Standalone and Sentinel: opens the breaker when Redis sends nothing while commands wait. */
  private readonly silence: SilenceWatch | null;
  /** Set while the breaker opens on silence, for the operator's message. */
  private silentFor: { quietMs: number; waiting: number } | null = null;
  reconnectAttempts = 0;
  lastError: string | null = null;
  /** Why the last connection ended: its own error, else that it was closed. */
  private closeCause: string | null = null;
  private errorSinceReady: string | null = null;

  constructor(private readonly options: ResolvedCacheOptions) {
    if (!options.redis) throw new Error('RedisGateway needs a Redis target');
    this.client = createRedisClient(options.redis, options) as CasClient;
    this.client.defineCommand('casSet', { numberOfKeys: 1, lua: CAS_SET_LUA });
    this.client.defineCommand('casAdd', { numberOfKeys: 1, lua: ADD_LUA });
    this.client.defineCommand('casSetMany', { lua: CAS_SET_MANY_LUA });
    this.client.defineCommand('casIfVersion', { numberOfKeys: 1, lua: CAS_IF_VERSION_LUA });
    this.client.defineCommand('casClaim', { lua: CLAIM_LUA });
    this.client.defineCommand('releaseClaim', { numberOfKeys: 1, lua: RELEASE_CLAIM_LUA });
    this.client.defineCommand('openReseedWindow', { numberOfKeys: 1, lua: OPEN_WINDOW_LUA });
    this.client.defineCommand('openFleetWindow', { numberOfKeys: 2, lua: OPEN_FLEET_WINDOW_LUA });
    this.client.defineCommand('fleetBeat', { numberOfKeys: 2, lua: FLEET_BEAT_LUA });
    this.client.defineCommand('fleetMerge', { numberOfKeys: 1, lua: FLEET_MERGE_LUA });
    this.client.defineCommand('logAppend', { numberOfKeys: 1, lua: LOG_APPEND_LUA });
    this.client.defineCommand('incrWindow', { numberOfKeys: 1, lua: INCR_WINDOW_LUA });
    this.client.defineCommand('slidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
    const cluster = options.redis.kind === 'cluster';
    this.batcher = cluster ? null : new CommandBatcher(this.client);
    this.deadlines = cluster ? null : new DeadlineQueue(options.commandTimeoutMs);
    this.silence =
      cluster || options.breaker.silenceFloorMs >= options.commandTimeoutMs
        ? null
        : new SilenceWatch(
            { floorMs: options.breaker.silenceFloorMs, multiplier: SILENCE_MULTIPLIER, ceilingMs: options.commandTimeoutMs },
            () => this.deadlines!.oldestStart(),
            () => (this.client as Redis).stream?.writableLength ?? 0,
            (quietMs) => this.silenced(quietMs),
          );
    this.nodes = cluster
      ? new NodeBreakers(options.breaker, () => (this.client as Cluster).slots, (breaker) => this.outcomeOf(breaker), {
          opened: (node) => {
            this.lastError = `Redis Cluster master ${node} not answering: ${options.breaker.failureThreshold} command(s) in a row timed out (its circuit breaker is open, its slots are served from memory)`;
            this.startProbing();
            this.publish();
          },
          released: (node) => {
            if (this.nodes!.openNodes.length === 0) this.stopProbing();
            this.publish();
            if (!this.closing) this.released.next(node);
          },
        })
      : null;
    if (this.nodes) {
      const nodes = this.nodes;
      // ioredis emits `refresh` after each slot-table refresh (start, MOVED, every slotsRefreshInterval).
      this.client.on('refresh', () => {
        nodes.refresh();
        this.publish();
      });
    }
    this.breaker = new CircuitBreaker(options.breaker, {
      opened: () => {
        const s = this.silentFor;
        this.lastError = s
          ? `Redis not answering: it sent nothing for ${Math.round(s.quietMs)} ms while ${s.waiting} command(s) waited (circuit breaker open)`
          : `Redis not answering: ${options.breaker.failureThreshold} command(s) in a row timed out (circuit breaker open)`;
        this.startProbing();
        this.publish();
      },
      closed: () => {
        this.stopProbing();
        this.publish();
      },
    });
    this.outcome = this.outcomeOf(cluster ? null : this.breaker);
    this.client.on('ready', () => {
      // From here on every command goes through run(), the probe or close(), all bounded by
      // `deadlines`; ioredis reads this option each time it sends a command.
      if (this.deadlines) (this.client.options as RedisOptions).commandTimeout = undefined;
      this.connected = true;
      this.reconnectAttempts = 0;
      this.errorSinceReady = null;
      this.closeCause = null;
      this.nodes?.refresh();
      // Every chunk Redis sends on this connection is evidence that it is alive.
      if (this.silence) (this.client as Redis).stream.on('data', this.silence.heard);
      // A late answer while the breaker is open: Redis resumed, so probe now, not after the backoff.
      if (!this.nodes) (this.client as Redis).stream.on('data', () => this.breaker.heard());
      this.publish();
    });
    this.client.on('close', () => {
      // The next connection's handshake (ready check, AUTH, SELECT) is bounded by ioredis again.
      if (this.deadlines) (this.client.options as RedisOptions).commandTimeout = this.options.commandTimeoutMs;
      if (this.connected) {
        this.closeCause = this.errorSinceReady ?? 'connection to Redis closed (server stopped, restarted or the network dropped it)';
        this.lastError = this.closeCause;
      }
      this.connected = false;
      this.publish();
    });
    this.client.on('reconnecting', () => {
      this.reconnectAttempts++;
    });
    // Errors are recorded, not logged: the mode transition they cause is the one log line.
    this.client.on('error', (err: Error) => {
      this.lastError = describeRedisError(err);
      this.errorSinceReady = this.lastError;
    });
  }

  /** Emits whenever Redis becomes usable or stops being usable. */
  get available$(): Observable<boolean> {
    return this.availability.pipe(distinctUntilChanged());
  }

  /** On Cluster: until every master's breaker is open (then the whole cache is in fallback, as with one breaker). */
  get available(): boolean {
    return this.connected && this.breaker.state === 'closed' && (this.nodes === null || !this.nodes.allOpen);
  }

  /** Whether a command on `key` would be sent: Redis available and, on Cluster, the breaker of the key's master closed. */
  usableFor(key: string): boolean {
    return this.available && (this.nodes === null || this.nodes.usableFor(key));
  }

  /** Cluster: masters whose breaker is open or half-open (their slots are served from memory). */
  get breakerOpenNodes(): string[] {
    return this.nodes?.openNodes ?? [];
  }

  /** Cluster: a master's breaker closed, or was dropped by a failover: keys journaled for it can drain now. */
  get nodeReleased$(): Observable<string> {
    return this.released.asObservable();
  }

  get isCluster(): boolean {
    return this.batcher === null;
  }

  /** The cause an operator needs: the closed connection's, or the last command error (a timeout). */
  get unavailableReason(): string | null {
    return this.connected ? this.lastError : (this.closeCause ?? this.lastError);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** On Cluster 'open' only while every master's breaker is (breakerOpenNodes names each one). */
  get breakerState(): BreakerState {
    if (this.nodes !== null) return this.nodes.allOpen ? 'open' : 'closed';
    return this.breaker.state;
  }

  /** Starts connecting without waiting; `ready` flips availability when it happens. */
  start(): void {
    this.client.connect().catch((err: Error) => {
      this.lastError = describeRedisError(err);
    });
  }

  /** Resolves once Redis is usable, or rejects after `timeoutMs`. */
  waitUntilAvailable(timeoutMs: number): Promise<void> {
    if (this.available) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.unsubscribe();
        reject(new Error(this.lastError ?? 'Redis did not become ready in time'));
      }, timeoutMs);
      const sub = this.available$.subscribe((up) => {
        if (!up) return;
        clearTimeout(timer);
        queueMicrotask(() => sub.unsubscribe());
        resolve();
      });
    });
  }

  /**
   * Runs one Redis operation through the breaker. Rejects when Redis is not usable or the command
   * fails; the caller decides how to serve the operation from memory. Not async: one promise per
   * command (the deadline's) is all this layer adds on the hot path. `command` names it for a wrapper.
   */
  run<T>(command: string, fn: (client: CasClient) => Promise<T>, deadline?: number): Promise<T>;
  run<T, R>(command: string, fn: (client: CasClient) => Promise<T>, deadline: number | undefined, next: Continuation<T, R>): Promise<R>;
  run<T, R>(_command: string, fn: (client: CasClient) => Promise<T>, deadline?: number, next?: Continuation<T, R>): Promise<T | R> {
    if (this.breaker.state !== 'closed' || (this.nodes !== null && this.nodes.allOpen)) return refused(new CircuitOpenError(), next);
    return this.send(fn, deadline, next, this.outcome);
  }

  /**
   * `run` for a command on `key`. On Cluster it goes through the breaker of the master serving the
   * key's slot (refused while that one is open or half-open) and its outcome feeds only that one.
   */
  runFor<T>(command: string, key: string, fn: (client: CasClient) => Promise<T>, deadline?: number): Promise<T>;
  runFor<T, R>(command: string, key: string, fn: (client: CasClient) => Promise<T>, deadline: number | undefined, next: Continuation<T, R>): Promise<R>;
  runFor<T, R>(command: string, key: string, fn: (client: CasClient) => Promise<T>, deadline?: number, next?: Continuation<T, R>): Promise<T | R> {
    const node = this.nodes === null ? null : this.nodes.forKey(key);
    // Standalone and Sentinel, or no slot table yet: as a command without a key.
    if (node === null) return next ? this.run(command, fn, deadline, next) : this.run(command, fn, deadline);
    if (node.breaker.state !== 'closed') return refused(new CircuitOpenError(), next);
    return this.send(fn, deadline, next, node.outcome);
  }

  private send<T, R>(fn: (client: CasClient) => Promise<T>, deadline: number | undefined, next: Continuation<T, R> | undefined, outcome: Outcome): Promise<T | R> {
    // ioredis would reject it too (no offline queue); said here, the caller knows nothing was sent.
    if (!this.connected) return refused(new CommandNotSentError('Redis connection is not ready: the command was not sent'), next);
    const remaining = deadline === undefined ? this.options.commandTimeoutMs : deadline - performance.now();
    if (remaining <= 0) return refused(new CommandNotSentError('Command timed out before it was sent'), next);
    // A command is written to the socket when it is issued (no auto-pipelining: ioredis sends one
    // auto-pipeline at a time, so against a hung Redis queued batches would stack their timeouts).
    // The full command timeout feeds the breaker; a partial budget (a retry within one deadline)
    // or Cluster, where redirections happen inside the client, also gets a timer of its own.
    this.inFlight++;
    this.silence?.started();
    let op: Promise<T>;
    try {
      op = fn(this.client);
    } catch (err) {
      outcome.failed(err, false);
      return refused(err, next);
    }
    if (this.deadlines && remaining >= this.options.commandTimeoutMs) return next ? this.deadlines.bound(op, outcome, next) : this.deadlines.bound(op, outcome);
    const bounded = withTimeout(this.deadlines ? this.deadlines.bound(op, outcome) : this.observed(op, outcome), remaining, 'Command timed out');
    return next ? bounded.then((v) => next.answered(v), (err: unknown) => next.failed(err)) : bounded;
  }

  /** Redis sent nothing for longer than the silence interval while commands waited: a hang, as on timeouts. */
  private silenced(quietMs: number): void {
    if (!this.connected || this.closing || this.breaker.state !== 'closed') return;
    this.silentFor = { quietMs, waiting: this.inFlight };
    this.breaker.silenced();
    this.silentFor = null;
    // Opened first, so callers answered now from memory do not send again.
    this.deadlines?.expireAll();
  }

  /** How a command without a key ended (on Cluster: fed to no breaker). */
  private readonly outcome: Outcome;

  /** How a command ended, for `breaker` (none: only the operator's last error) and the operator's last error. */
  private outcomeOf(breaker: CircuitBreaker | null): Outcome {
    if (breaker === null) {
      return {
        answered: () => {
          this.inFlight--;
        },
        failed: (err) => {
          this.inFlight--;
          if (this.connected) this.lastError = describeRedisError(err);
        },
      };
    }
    return {
      answered: () => {
        this.inFlight--;
        breaker.answered();
      },
      failed: (err, timedOut) => {
        this.inFlight--;
        // Once open, the breaker's cause stays: the commands still in flight only repeat it.
        if (!this.connected || breaker.state !== 'closed') return;
        this.lastError = describeRedisError(err);
        if (timedOut || isTimeout(err)) breaker.timedOut();
      },
    };
  }

  /** Cluster: ioredis' own command timeout bounds the command; the outcome is still recorded. */
  private observed<T>(op: Promise<T>, outcome: Outcome): Promise<T> {
    op.then(
      () => outcome.answered(),
      (err: unknown) => outcome.failed(err, false),
    );
    return op;
  }

  /** GET, coalesced into an MGET with the reads of the same tick when others are in flight. */
  get(key: string): Promise<string | null> {
    return this.batcher && this.inFlight > this.options.batchFromInFlight ? this.batcher.get(key) : this.client.get(key);
  }

  /** Compare-and-set write (CAS_SET_LUA), coalesced like `get` under concurrency. */
  casSet(key: string, version: string, record: string, pxat: string, channel = ''): Promise<1 | string> {
    return this.batcher && this.inFlight > this.options.batchFromInFlight
      ? this.batcher.casSet(key, version, record, pxat, channel)
      : this.client.casSet(key, version, record, pxat, channel);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.stopProbing();
    this.silence?.stop();
    this.availability.complete();
    this.released.complete();
    try {
      await this.bounded(this.client.quit());
    } catch {
      this.client.disconnect();
    }
    this.deadlines?.close();
  }

  /** A command sent on a ready connection, bounded by the command timeout. */
  private bounded<T>(command: Promise<T>): Promise<T> {
    return this.deadlines ? this.deadlines.bound(command) : command;
  }

  private publish(): void {
    if (!this.closing) this.availability.next(this.available);
  }

  private startProbing(): void {
    if (this.probeTimer || this.closing) return;
    // The breaker's own backoff decides when a probe may pass; this tick only offers one.
    this.probeTimer = setInterval(() => {
      if (this.nodes) {
        if (this.connected) this.probeNodes(this.nodes);
        return;
      }
      if (!this.connected || !this.breaker.tryProbe()) return;
      this.bounded(this.client.ping()).then(
        () => this.breaker.probeAnswered(),
        () => this.breaker.probeFailed(),
      );
    }, 50);
    this.probeTimer.unref();
  }

  /** Cluster: a PING to each master whose breaker's wait is over, on that master's own connection. */
  private probeNodes(nodes: NodeBreakers): void {
    let masters: ReturnType<Cluster['nodes']> | null = null;
    for (const nb of nodes.notClosed()) {
      if (!nb.breaker.tryProbe()) continue;
      masters ??= (this.client as Cluster).nodes('master');
      const conn = masters.find((m) => `${m.options.host}:${m.options.port}` === nb.node);
      if (!conn) {
        nb.breaker.probeFailed();
        continue;
      }
      withTimeout(conn.ping(), this.options.commandTimeoutMs, 'Command timed out').then(
        () => nb.breaker.probeAnswered(),
        () => nb.breaker.probeFailed(),
      );
    }
  }

  private stopProbing(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }
}

/** Silence longer than this many times the longest recent gap is a hang (docs/cache.md). */
const SILENCE_MULTIPLIER = 4;

/** A command not sent: rejected, or handed to `next` (a step later, as if Redis had answered). */
function refused<T, R>(err: unknown, next: Continuation<T, R> | undefined): Promise<R> {
  const failed = Promise.reject(err) as Promise<R>;
  return next ? failed.then(undefined, (e: unknown) => next.failed(e)) : failed;
}
