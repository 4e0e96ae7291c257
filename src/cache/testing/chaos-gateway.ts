import { randomBytes } from 'node:crypto';
import {
  BehaviorSubject,
  distinctUntilChanged,
  Subject,
  type Observable,
} from 'rxjs';
import type { CacheGateway } from '../redis/cache-gateway.js';
import type { Continuation } from '../redis/deadline-queue.js';
import { VERSION_LENGTH } from '../core/hlc.js';
import type { BreakerState, CasClient } from '../redis/redis-gateway.js';
import { CircuitOpenError } from '../redis/circuit-breaker.js';

/**
 * What an injected fault does to one command: a timeout before it ran, a timeout after it ran (the
 * reply was lost: the outcome is unknown to the caller), or a Redis error.
 */
export type Fault = 'timeout' | 'lost-reply' | 'error';
export type FaultRule = (command: string, key: string) => Fault | undefined | void;

/** ADD_LUA's rule: write unless the key holds a live record or a tombstone at least as new. */
function setIfAbsent(data: Map<string, string>, key: string, version: string, record: string): 1 | string {
  const cur = data.get(key);
  if (cur !== undefined) {
    const bar = cur.indexOf('|', VERSION_LENGTH + 1);
    if (cur[bar + 1] !== 'd' || cur.slice(0, VERSION_LENGTH) >= version) return cur;
  }
  data.set(key, record);
  return 1;
}

/**
 * An in-process gateway for fast tests of the mode machine: a Map with the record scripts'
 * semantics (CAS, set-if-absent, if-version), availability switched by hand, and faults injected
 * per command. Not a Redis: no expiry, one "connection". The real-Redis suites stay the evidence.
 */
export class ChaosGateway implements CacheGateway {
  readonly data = new Map<string, string>();
  /** Hashes (the fleet's roll call). */
  readonly hashes = new Map<string, Map<string, string>>();
  /** INFO server's run_id: a new one on every restart. */
  runId = newRunId();
  readonly commands: string[] = [];
  fault: FaultRule | null = null;
  /** Round-trip time of every command (0: one event-loop turn). */
  latencyMs = 0;
  lastError: string | null = null;
  reconnectAttempts = 0;
  private readonly availability = new BehaviorSubject<boolean>(false);
  readonly client: CasClient;
  /** Per-node breakers as on Cluster: the node serving a key; its keys are refused while it is in `openNodes`. */
  nodeOf: ((key: string) => string) | null = null;
  readonly openNodes = new Set<string>();
  private readonly released = new Subject<string>();

  constructor() {
    const self = {
      data: this.data,
      hashes: this.hashes,
      runId: () => this.runId,
      exec: <T>(c: string, k: string, f: () => T) => this.exec(c, k, f),
    };
    const client = {
      async get(key: string) {
        return self.exec('get', key, () => self.data.get(key) ?? null);
      },
      async set(key: string, value: string, nx?: string) {
        return self.exec('set', key, () => {
          if (nx === 'NX' && self.data.has(key)) return null;
          self.data.set(key, value);
          return 'OK';
        });
      },
      async casSet(key: string, version: string, record: string) {
        return self.exec('casSet', key, () => {
          const cur = self.data.get(key);
          if (cur !== undefined && cur.slice(0, VERSION_LENGTH) >= version) return cur.slice(0, VERSION_LENGTH);
          self.data.set(key, record);
          return 1 as const;
        });
      },
      async casAdd(key: string, version: string, record: string) {
        return self.exec('casAdd', key, () => setIfAbsent(self.data, key, version, record));
      },
      /** Scripts defined by other parts (append logs) exist but are not emulated. */
      defineCommand() {},
      async casClaim(_n: number, key: string, ...rest: string[]) {
        // CLAIM_LUA without the seed and the re-seed window: set-if-absent.
        const [version, record] = rest.length === 9 ? rest.slice(1) : rest;
        return self.exec('casClaim', key, () => setIfAbsent(self.data, key, version, record));
      },
      async releaseClaim(key: string) {
        return self.exec('releaseClaim', key, () => 0 as const);
      },
      async openReseedWindow(marker: string, epoch: string, windowMs: string, now: string) {
        return self.exec('openReseedWindow', marker, () => {
          const cur = self.data.get(marker);
          const v = `${cur ? cur.split('|')[0] : epoch}|${Number(now) + Number(windowMs)}`;
          self.data.set(marker, v);
          return v;
        });
      },
      async info() {
        return self.exec(
          'info',
          '',
          () => `# Server\r\nrun_id:${self.runId()}\r\n`,
        );
      },
      async hset(key: string, field: string, value: string) {
        return self.exec('hset', key, () => {
          hashOf(self.hashes, key).set(field, value);
          return 1;
        });
      },
      async openFleetWindow(
        marker: string,
        fleet: string,
        epoch: string,
        windowMs: string,
        now: string,
        runId: string,
        since: string,
      ) {
        return self.exec('openFleetWindow', marker, () => {
          const cur = self.data.get(marker);
          const [e, end] = cur ? cur.split('|') : [epoch, '0'];
          const v = `${e}|${Math.max(Number(end ?? 0), Number(now) + Number(windowMs))}`;
          self.data.set(marker, v);
          const h = hashOf(self.hashes, fleet);
          const [wid, prev] = (h.get('~w') ?? '').split('|');
          const s =
            wid === `${runId}/${e}`
              ? Math.min(Number(prev), Number(since))
              : Number(since);
          h.set('~w', `${runId}/${e}|${s}`);
          return v;
        });
      },
      async fleetBeat(
        fleet: string,
        marker: string,
        member: string,
        now: string,
        doneId: string,
      ) {
        return self.exec('fleetBeat', fleet, () =>
          fleetBeat(
            self.data,
            hashOf(self.hashes, fleet),
            marker,
            member,
            Number(now),
            doneId,
          ),
        );
      },
      async fleetMerge(fleet: string, ...memberSeen: string[]) {
        return self.exec('fleetMerge', fleet, () => {
          const h = hashOf(self.hashes, fleet);
          for (let i = 0; i < memberSeen.length; i += 3) {
            const [seen, done, beat] = (h.get(memberSeen[i]) ?? '0||0').split('|');
            const left = memberSeen[i + 2] === '1';
            if (Number(memberSeen[i + 1]) > Number(seen) || (left && Number(memberSeen[i + 1]) >= Number(seen))) {
              h.set(memberSeen[i], left ? `${memberSeen[i + 1]}|left|0` : `${memberSeen[i + 1]}|${done}|${beat}`);
            }
          }
          return 1 as const;
        });
      },
      async time() {
        return self.exec('time', '', () => {
          const ms = Date.now();
          return [String(Math.floor(ms / 1000)), String((ms % 1000) * 1000)];
        });
      },
      async casIfVersion(key: string, version: string, record: string, _pxat: string, _channel: string, expected: string) {
        return self.exec('casIfVersion', key, () => {
          const cv = self.data.get(key)?.slice(0, VERSION_LENGTH) ?? '';
          if (cv !== expected || (cv !== '' && cv >= version)) return cv;
          self.data.set(key, record);
          return 1 as const;
        });
      },
    };
    this.client = client as unknown as CasClient;
  }

  get available$(): Observable<boolean> {
    return this.availability.pipe(distinctUntilChanged());
  }
  get available(): boolean {
    return this.availability.value;
  }
  get unavailableReason(): string | null {
    return this.lastError;
  }
  /** As on Cluster (claims then read the marker in a call of its own): set by a test. */
  isCluster = false;
  get isConnected(): boolean {
    return this.available;
  }
  get breakerState(): BreakerState {
    return this.available ? 'closed' : 'open';
  }
  get breakerOpenNodes(): string[] {
    return [...this.openNodes];
  }
  get nodeReleased$(): Observable<string> {
    return this.released.asObservable();
  }
  usableFor(key: string): boolean {
    return this.available && !(this.nodeOf !== null && this.openNodes.has(this.nodeOf(key)));
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

  /** Redis becomes usable (a new connection: the mode machine starts a resync). */
  up(): void {
    this.availability.next(true);
  }
  /** Redis stops being usable (connection closed or breaker open). */
  down(reason = 'Connection is closed.'): void {
    this.lastError = reason;
    this.availability.next(false);
  }
  /** Redis came back without its data (restart without persistence). */
  restartEmpty(): void {
    this.down();
    this.data.clear();
    this.hashes.clear();
    this.runId = newRunId();
    this.up();
  }

  start(): void {}
  async waitUntilAvailable(): Promise<void> {
    if (!this.available) throw new Error('not available');
  }
  async close(): Promise<void> {
    this.availability.complete();
    this.released.complete();
  }

  run<T>(fn: (client: CasClient) => Promise<T>, deadline?: number): Promise<T>;
  run<T, R>(fn: (client: CasClient) => Promise<T>, deadline: number | undefined, next: Continuation<T, R>): Promise<R>;
  run<T, R>(fn: (client: CasClient) => Promise<T>, _deadline?: number, next?: Continuation<T, R>): Promise<T | R> {
    let sent: Promise<T>;
    try {
      if (!this.available) throw new CircuitOpenError();
      sent = fn(this.client);
    } catch (err) {
      sent = Promise.reject(err);
    }
    return next ? sent.then((v) => next.answered(v), (err: unknown) => next.failed(err)) : sent;
  }
  runFor<T>(key: string, fn: (client: CasClient) => Promise<T>, deadline?: number): Promise<T>;
  runFor<T, R>(key: string, fn: (client: CasClient) => Promise<T>, deadline: number | undefined, next: Continuation<T, R>): Promise<R>;
  runFor<T, R>(key: string, fn: (client: CasClient) => Promise<T>, deadline?: number, next?: Continuation<T, R>): Promise<T | R> {
    if (!this.available || this.usableFor(key)) return next ? this.run(fn, deadline, next) : this.run(fn, deadline);
    const refused: Promise<T> = Promise.reject(new CircuitOpenError());
    return next ? refused.then(undefined, (err: unknown) => next.failed(err)) : refused;
  }
  get(key: string): Promise<string | null> {
    return this.client.get(key);
  }
  casSet(key: string, version: string, record: string, pxat: string, channel = ''): Promise<1 | string> {
    return this.client.casSet(key, version, record, pxat, channel);
  }

  private async exec<T>(command: string, key: string, apply: () => T): Promise<T> {
    // A turn of the event loop, as a network round trip would give other work.
    await new Promise((r) => (this.latencyMs > 0 ? setTimeout(r, this.latencyMs) : setImmediate(r)));
    this.commands.push(`${command} ${key}`);
    const fault = this.fault?.(command, key);
    if (!this.available) throw new Error('Connection is closed.');
    if (fault === 'timeout') throw new Error('Command timed out');
    if (fault === 'error') throw new Error('ERR injected fault');
    const result = apply();
    if (fault === 'lost-reply') throw new Error('Command timed out');
    return result;
  }
}

function newRunId(): string {
  return randomBytes(20).toString('hex');
}

function hashOf(
  hashes: Map<string, Map<string, string>>,
  key: string,
): Map<string, string> {
  let h = hashes.get(key);
  if (!h) hashes.set(key, (h = new Map()));
  return h;
}

/** FLEET_BEAT_LUA's rule (fleet-scripts.ts), without the pruning. */
function fleetBeat(
  data: Map<string, string>,
  h: Map<string, string>,
  marker: string,
  member: string,
  now: number,
  doneId: string,
): (string | number)[] {
  const n = Number(h.get('~n') ?? 0) + 1;
  h.set('~n', String(n));
  h.set(member, `${now}|${doneId}|${n}`);
  const [wid, since] = (h.get('~w') ?? '|0').split('|');
  const m = data.get(marker);
  const [epoch, end] = m ? m.split('|') : [undefined, undefined];
  let open = end !== undefined && now < Number(end);
  const out: (string | number)[] = [0, wid];
  let waiting = false;
  for (const [f, v] of h) {
    if (f.startsWith('~')) continue;
    const [seen, done, beat] = v.split('|');
    out.push(f, seen, beat ?? '0', done === 'left' ? 1 : 0);
    if (Number(seen) >= Number(since) && done !== wid && done !== 'left') waiting = true;
  }
  if (open && h.has('~w') && !waiting && epoch !== undefined) {
    data.set(marker, epoch);
    open = false;
  }
  out[0] = m === undefined ? 2 : open ? 1 : 0;
  return out;
}
