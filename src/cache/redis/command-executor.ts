import type { Observable } from 'rxjs';
import type { BreakerState, CasClient } from './redis-gateway.js';
import type { Continuation } from './deadline-queue.js';

/**
 * What the typed operations of redis/ send their commands through: the connection, the breakers
 * and the per-operation deadline. RedisGateway is the real one; a test wraps it to inject faults
 * (test/support/chaos-gateway.ts). Only redis/ (and the facade, which builds one) may name it: the
 * engine sees CacheGateway, which sends nothing but named operations.
 * @internal Its client is the driver's, which the package's types do not expose.
 */
export interface CommandExecutor {
  readonly client: CasClient;
  readonly available$: Observable<boolean>;
  readonly available: boolean;
  readonly isConnected: boolean;
  /** Cluster: no multi-key scripts across slots, no batching. */
  readonly isCluster: boolean;
  readonly breakerState: BreakerState;
  /** Cluster: masters ("host:port") whose own breaker is open or half-open; empty elsewhere. */
  readonly breakerOpenNodes: readonly string[];
  /** Cluster: a master's breaker closed (or went with a failover): keys journaled for it can drain. */
  readonly nodeReleased$: Observable<string>;
  readonly reconnectAttempts: number;
  readonly lastError: string | null;
  /** The cause an operator needs: the closed connection's, or the last command error (a timeout). */
  readonly unavailableReason: string | null;
  start(): void;
  waitUntilAvailable(timeoutMs: number): Promise<void>;
  /**
   * One bounded command through the breaker; throws when Redis cannot be used or the command fails.
   * With `next`, settles with what `next` makes of the answer or the failure (one promise for both).
   * `command` names it (the script or Redis command) for whoever wraps the executor.
   */
  run<T>(command: string, fn: (client: CasClient) => Promise<T>, deadline?: number): Promise<T>;
  run<T, R>(command: string, fn: (client: CasClient) => Promise<T>, deadline: number | undefined, next: Continuation<T, R>): Promise<R>;
  /** `run` for a command on `key`: on Cluster through the breaker of the master serving its slot. */
  runFor<T>(command: string, key: string, fn: (client: CasClient) => Promise<T>, deadline?: number): Promise<T>;
  runFor<T, R>(command: string, key: string, fn: (client: CasClient) => Promise<T>, deadline: number | undefined, next: Continuation<T, R>): Promise<R>;
  /** Whether a command on `key` would be sent now (`available`, and on Cluster its master's breaker closed). */
  usableFor(key: string): boolean;
  /** GET (coalesced under load); only inside `run`/`runFor`. */
  get(key: string): Promise<string | null>;
  /** CAS_SET_LUA (coalesced under load); only inside `run`/`runFor`. */
  casSet(key: string, version: string, record: string, pxat: string, channel?: string): Promise<1 | string>;
  close(): Promise<void>;
}
