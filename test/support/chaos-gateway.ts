import { setTimeout as sleep } from 'node:timers/promises';
import { BehaviorSubject, combineLatest, distinctUntilChanged, map, merge, Subject, type Observable } from 'rxjs';
import { resolveCacheOptions, type CacheModuleOptions } from '../../src/cache/core/cache.options.js';
import { CircuitOpenError } from '../../src/cache/redis/circuit-breaker.js';
import type { CommandExecutor } from '../../src/cache/redis/command-executor.js';
import type { Continuation } from '../../src/cache/redis/deadline-queue.js';
import { RedisGateway, type BreakerState, type CasClient } from '../../src/cache/redis/redis-gateway.js';
import type { RedisProcess } from '../helpers/redis-server.js';

/**
 * What an injected fault does to one command: a timeout before it was sent, a timeout after Redis
 * ran it (the reply was lost: the outcome is unknown to the caller), or a Redis error.
 */
export type Fault = 'timeout' | 'lost-reply' | 'error';
/** Decides a command's fault; may first change what Redis holds (another writer racing it). */
export type FaultRule = (command: string, key: string) => Fault | undefined | void | Promise<Fault | undefined | void>;

/**
 * The real gateway (RedisGateway: deadlines, breaker, batching, the production Lua) on a real
 * redis-server, with faults injected per named command and availability switched by hand, for
 * fast tests of the mode machine. Only the switches are simulated: `down()` is the breaker (or the
 * connection) giving up, `openNode()` a Cluster master's breaker on a standalone server; every
 * command that is let through is sent to Redis.
 */
export class ChaosGateway implements CommandExecutor {
  /** `<command> <key>` of every command that reached the real gateway, in order. */
  readonly commands: string[] = [];
  fault: FaultRule | null = null;
  /** Added before each command is sent (0: none beyond the real round trip). */
  latencyMs = 0;
  /** As on Cluster (claims then read the marker in a call of its own): set by a test. */
  isCluster = false;
  /** Per-node breakers as on Cluster: the node serving a key; its keys are refused while it is in `openNodes`. */
  nodeOf: ((key: string) => string) | null = null;
  readonly openNodes = new Set<string>();
  private readonly real: RedisGateway;
  private readonly switchedOn = new BehaviorSubject(false);
  private readonly released = new Subject<string>();
  /** Counts `down()` calls: a command not yet sent when one came fails as on a closed connection. */
  private downs = 0;
  private downReason: string | null = 'Connection is closed.';

  constructor(
    private readonly redis: RedisProcess,
    options: Partial<CacheModuleOptions> = {},
  ) {
    const target = { kind: 'standalone' as const, host: redis.host, port: redis.port };
    this.real = new RedisGateway(resolveCacheOptions({ reconnect: { baseDelayMs: 20, maxDelayMs: 200 }, ...options, redis: target }, () => 'chaos'));
  }

  get client(): CasClient {
    return this.real.client;
  }
  get available$(): Observable<boolean> {
    return combineLatest([this.real.available$, this.switchedOn]).pipe(
      map(([real, on]) => real && on),
      distinctUntilChanged(),
    );
  }
  get available(): boolean {
    return this.switchedOn.value && this.real.available;
  }
  get isConnected(): boolean {
    return this.switchedOn.value && this.real.isConnected;
  }
  get breakerState(): BreakerState {
    return this.switchedOn.value ? this.real.breakerState : 'open';
  }
  get breakerOpenNodes(): string[] {
    return this.nodeOf ? [...this.openNodes] : this.real.breakerOpenNodes;
  }
  get nodeReleased$(): Observable<string> {
    return merge(this.real.nodeReleased$, this.released);
  }
  get reconnectAttempts(): number {
    return this.real.reconnectAttempts;
  }
  get lastError(): string | null {
    return this.switchedOn.value ? this.real.lastError : this.downReason;
  }
  get unavailableReason(): string | null {
    return this.switchedOn.value ? this.real.unavailableReason : this.downReason;
  }
  usableFor(key: string): boolean {
    return this.available && !this.nodeOpen(key) && this.real.usableFor(key);
  }

  /** Redis may be used again (once the real connection is ready: the mode machine starts a resync). */
  up(): void {
    this.switchedOn.next(true);
  }
  /** Redis stops being usable: commands are refused unsent (those already sent are still answered). */
  down(reason = 'Connection is closed.'): void {
    this.downs++;
    this.downReason = reason;
    this.switchedOn.next(false);
  }
  /** Redis comes back without its data: the server restarts empty (a new run id) on the same port. */
  async restartEmpty(): Promise<void> {
    this.down();
    await this.redis.restart();
    this.up();
  }
  /** A node's breaker opens: its keys are refused, the others still served. */
  openNode(node: string): void {
    this.openNodes.add(node);
  }
  /** A node's breaker closes (or a failover replaced it). */
  closeNode(node: string): void {
    this.openNodes.delete(node);
    this.released.next(node);
  }

  start(): void {
    this.real.start();
  }
  waitUntilAvailable(timeoutMs: number): Promise<void> {
    return this.switchedOn.value ? this.real.waitUntilAvailable(timeoutMs) : Promise.reject(new Error('switched off'));
  }
  async close(): Promise<void> {
    this.switchedOn.complete();
    this.released.complete();
    await this.real.close();
  }

  run<T>(command: string, fn: (client: CasClient) => Promise<T>, deadline?: number): Promise<T>;
  run<T, R>(command: string, fn: (client: CasClient) => Promise<T>, deadline: number | undefined, next: Continuation<T, R>): Promise<R>;
  run<T, R>(command: string, fn: (client: CasClient) => Promise<T>, deadline?: number, next?: Continuation<T, R>): Promise<T | R> {
    if (!this.switchedOn.value) return refused(next);
    const faulty = (c: CasClient) => this.inject(command, '', fn, c);
    return next ? this.real.run(command, faulty, deadline, next) : this.real.run(command, faulty, deadline);
  }
  runFor<T>(command: string, key: string, fn: (client: CasClient) => Promise<T>, deadline?: number): Promise<T>;
  runFor<T, R>(command: string, key: string, fn: (client: CasClient) => Promise<T>, deadline: number | undefined, next: Continuation<T, R>): Promise<R>;
  runFor<T, R>(command: string, key: string, fn: (client: CasClient) => Promise<T>, deadline?: number, next?: Continuation<T, R>): Promise<T | R> {
    if (!this.switchedOn.value || this.nodeOpen(key)) return refused(next);
    const faulty = (c: CasClient) => this.inject(command, key, fn, c);
    return next ? this.real.runFor(command, key, faulty, deadline, next) : this.real.runFor(command, key, faulty, deadline);
  }
  get(key: string): Promise<string | null> {
    return this.real.get(key);
  }
  casSet(key: string, version: string, record: string, pxat: string, channel = ''): Promise<1 | string> {
    return this.real.casSet(key, version, record, pxat, channel);
  }

  private nodeOpen(key: string): boolean {
    return this.nodeOf !== null && this.openNodes.has(this.nodeOf(key));
  }

  /** Runs inside the real gateway's deadline and breaker: what it throws counts as the command's failure. */
  private async inject<T>(command: string, key: string, fn: (client: CasClient) => Promise<T>, c: CasClient): Promise<T> {
    const downs = this.downs;
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    this.commands.push(`${command} ${key}`);
    // A rule that answers at once is applied in the same step, so the commands it lets through
    // before one that switches Redis off are sent, as they would have been.
    let fault = this.fault?.(command, key);
    if (fault instanceof Promise) fault = await fault;
    if (this.downs !== downs || !this.switchedOn.value) throw new Error('Connection is closed.');
    if (fault === 'timeout') throw new Error('Command timed out');
    if (fault === 'error') throw new Error('ERR injected fault');
    const result = await fn(c);
    if (fault === 'lost-reply') throw new Error('Command timed out');
    return result;
  }
}

/** Refused before it was sent, as the real gateway refuses while a breaker is open. */
function refused<T, R>(next: Continuation<T, R> | undefined): Promise<T | R> {
  const failed: Promise<T> = Promise.reject(new CircuitOpenError());
  return next ? failed.then(undefined, (err: unknown) => next.failed(err)) : failed;
}
