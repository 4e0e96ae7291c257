import type { Observable } from 'rxjs';
import type { BreakerState } from './redis-gateway.js';
import type { CommandExecutor } from './command-executor.js';
import { CoherenceBus, type CoherenceBusOptions, type CoherenceEvents } from './coherence-bus.js';
import { CounterCommands } from './counter-commands.js';
import { FleetCommands } from './fleet-commands.js';
import { LogCommands } from './log-commands.js';
import { MarkerCommands } from './marker-commands.js';
import { RedisRecords } from './redis-records.js';
import { scanKeys } from './scan-keys.js';
import { ServerCommands } from './server-commands.js';
import { SlidingWindowCommands } from './sliding-window-commands.js';

/**
 * The one door to Redis the rest of the cache uses: whether Redis may be used now, and named,
 * typed operations whose arguments are assembled here in redis/. It hands out no client and runs
 * no caller's command; each operation goes through the executor's breaker and deadline.
 * @internal Built on the executor, whose client the package's types do not expose.
 */
export class CacheGateway {
  readonly marker: MarkerCommands;
  readonly fleet: FleetCommands;
  readonly logs: LogCommands;
  readonly counters: CounterCommands;
  readonly windows: SlidingWindowCommands;
  readonly server: ServerCommands;

  constructor(private readonly exec: CommandExecutor) {
    this.marker = new MarkerCommands(exec);
    this.fleet = new FleetCommands(exec);
    this.logs = new LogCommands(exec);
    this.counters = new CounterCommands(exec);
    this.windows = new SlidingWindowCommands(exec);
    this.server = new ServerCommands(exec);
  }

  get available$(): Observable<boolean> {
    return this.exec.available$;
  }

  get available(): boolean {
    return this.exec.available;
  }

  get isConnected(): boolean {
    return this.exec.isConnected;
  }

  /** Cluster: no multi-key scripts across slots, no batching. */
  get isCluster(): boolean {
    return this.exec.isCluster;
  }

  get breakerState(): BreakerState {
    return this.exec.breakerState;
  }

  /** Cluster: masters ("host:port") whose own breaker is open or half-open; empty elsewhere. */
  get breakerOpenNodes(): readonly string[] {
    return this.exec.breakerOpenNodes;
  }

  /** Cluster: a master's breaker closed (or went with a failover): keys journaled for it can drain. */
  get nodeReleased$(): Observable<string> {
    return this.exec.nodeReleased$;
  }

  get reconnectAttempts(): number {
    return this.exec.reconnectAttempts;
  }

  get lastError(): string | null {
    return this.exec.lastError;
  }

  /** The cause an operator needs: the closed connection's, or the last command error (a timeout). */
  get unavailableReason(): string | null {
    return this.exec.unavailableReason;
  }

  /** Whether a command on `key` would be sent now (`available`, and on Cluster its master's breaker closed). */
  usableFor(key: string): boolean {
    return this.exec.usableFor(key);
  }

  start(): void {
    this.exec.start();
  }

  waitUntilAvailable(timeoutMs: number): Promise<void> {
    return this.exec.waitUntilAvailable(timeoutMs);
  }

  close(): Promise<void> {
    return this.exec.close();
  }

  /** The versioned records (CAS and the other record scripts); `channel` is where writes publish their L1 invalidation. */
  records(channel: () => string): RedisRecords {
    return new RedisRecords(this.exec, channel);
  }

  /** SCAN of every node (every master on Cluster) for the string keys under `prefix` (scan-keys.ts). */
  scanKeys(prefix: string, onBatch: (keys: string[]) => Promise<void>): Promise<void> {
    return scanKeys(this.exec, prefix, onBatch);
  }

  /** The L1 invalidation subscriber, on a connection of its own beside this one. */
  coherenceBus(options: CoherenceBusOptions, events: CoherenceEvents): CoherenceBus {
    return new CoherenceBus(this.exec.client, options, events);
  }
}

/**
 * Nest token for injecting a CommandExecutor in place of the RedisGateway built from the options
 * (tests: a fault wrapper around a real one). @internal
 */
export const CACHE_GATEWAY = Symbol('CACHE_GATEWAY');
