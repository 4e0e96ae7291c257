import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { VERSION_LENGTH } from '../core/hlc.js';
import type { RedisClient } from './redis-connection.js';
import { withTimeout } from './with-timeout.js';

/** Pause before reconnecting after a failed SUBSCRIBE, doubling up to the max while it keeps failing. */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2_000;

export interface CoherenceBusOptions {
  channel: string;
  heartbeatMs: number;
  /** A heartbeat PING that takes longer than this means the link is silently dead. */
  timeoutMs: number;
}

export interface CoherenceEvents {
  /** Another write reached Redis: `key` (full, with prefix) now holds `version` or newer. */
  invalidate(key: string, version: string): void;
  /** Subscribed again after a gap: invalidations may have been missed, so L1 must be flushed. */
  resubscribed(): void;
  /** The subscription stopped being trustworthy; L1 must not be served until `resubscribed`. */
  lost(): void;
}

/**
 * The L1 invalidation channel: a dedicated subscriber connection (a connection in subscriber
 * mode can run no other command). Messages are `<version><key>`; values never travel here.
 * The subscription counts as live only from the SUBSCRIBE reply until the connection closes or a
 * heartbeat PING goes unanswered (a black-holed link keeps its TCP connection and would otherwise
 * drop invalidations silently forever).
 */
export class CoherenceBus {
  private readonly sub: RedisClient;
  private live = false;
  private closing = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private pinging = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = RETRY_MIN_MS;
  resubscriptions = 0;
  /** SUBSCRIBE attempts that failed or went unanswered, each followed by a reconnect. */
  subscribeFailures = 0;
  messages = 0;

  constructor(
    private readonly main: RedisClient,
    private readonly options: CoherenceBusOptions,
    private readonly events: CoherenceEvents,
  ) {
    // Resubscribing ourselves (not ioredis) tells us exactly when the gap ended.
    const overrides = { autoResubscribe: false, lazyConnect: true, enableOfflineQueue: false, connectionName: 'cache-l1' };
    this.sub = main instanceof Cluster ? clusterNodeSubscriber(main, overrides) : (main as Redis).duplicate(overrides);
    this.sub.on('ready', () => void this.subscribe());
    this.sub.on('close', () => this.markLost());
    this.sub.on('error', () => undefined);
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
  }

  get isLive(): boolean {
    return this.live;
  }

  start(): void {
    if (this.main instanceof Cluster) startOnClusterNode(this.main, this.sub as Redis);
    else this.sub.connect().catch(() => undefined);
    this.heartbeat = setInterval(() => void this.beat(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.live = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    try {
      await this.sub.quit();
    } catch {
      this.sub.disconnect();
    }
  }

  private async subscribe(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    try {
      await withTimeout(this.sub.subscribe(this.options.channel), this.options.timeoutMs, 'subscribe timed out');
    } catch {
      // Failed or unanswered: nothing else would ever retry on a connection that stays open.
      if (!this.closing) this.retryLater();
      return;
    }
    if (this.closing) return;
    this.retryDelay = RETRY_MIN_MS;
    this.live = true;
    this.resubscriptions++;
    this.events.resubscribed();
  }

  /** Reconnects the subscriber after a growing pause; its `ready` subscribes again. */
  private retryLater(): void {
    if (this.retryTimer) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closing || this.live) return;
      this.subscribeFailures++;
      // A fresh socket: the old one may still deliver the late SUBSCRIBE reply, or nothing at all.
      if (this.main instanceof Cluster) moveToAnotherNode(this.main, this.sub as Redis);
      this.sub.disconnect(true);
    }, delay);
    this.retryTimer.unref();
  }

  private markLost(): void {
    if (!this.live) return;
    this.live = false;
    this.events.lost();
  }

  private async beat(): Promise<void> {
    if (!this.live || this.pinging) return;
    this.pinging = true;
    try {
      await withTimeout(this.sub.ping(), this.options.timeoutMs, 'heartbeat timed out');
    } catch {
      if (this.closing) return;
      this.markLost();
      // Reconnect through a fresh socket (on a Cluster, to another node); `ready` then subscribes again.
      if (this.main instanceof Cluster) moveToAnotherNode(this.main, this.sub as Redis);
      this.sub.disconnect(true);
    } finally {
      this.pinging = false;
    }
  }

  private onMessage(channel: string, message: string): void {
    if (channel !== this.options.channel || message.length <= VERSION_LENGTH) return;
    this.messages++;
    this.events.invalidate(message.slice(VERSION_LENGTH), message.slice(0, VERSION_LENGTH));
  }
}

/**
 * On a Cluster the subscription lives on one node's own connection (a PUBLISH reaches every node
 * over the cluster bus, so any node will do). Not ioredis' Cluster pub/sub: when its subscriber's
 * node dies it silently moves the subscription to another node, and whatever was published in
 * between is lost while the subscription still looks live, so L1 would keep a stale value. Here
 * losing the node closes *our* connection (L1 stops being served), the reconnect goes to another
 * node, and the new subscription flushes L1 like any other re-subscription.
 */
function clusterNodeSubscriber(main: Cluster, overrides: RedisOptions): Redis {
  const sub: Redis = new Redis({
    ...main.options.redisOptions,
    ...overrides,
    retryStrategy: (times) => {
      moveToAnotherNode(main, sub);
      return Math.min(50 * 2 ** Math.min(times, 5), 1_000);
    },
  });
  return sub;
}

/** The main client knows the cluster's nodes once it is ready; the subscriber picks one then. */
function startOnClusterNode(main: Cluster, sub: Redis): void {
  const connect = () => {
    moveToAnotherNode(main, sub);
    sub.connect().catch(() => undefined);
  };
  if (main.status === 'ready') connect();
  else main.once('ready', connect);
}

/** Points the (disconnected) subscriber at a node other than its current one, a connected one if any. */
function moveToAnotherNode(main: Cluster, sub: Redis): void {
  const here = `${sub.options.host}:${sub.options.port}`;
  const others = main.nodes('all').filter((n) => `${n.options.host}:${n.options.port}` !== here);
  const next = others.find((n) => n.status === 'ready') ?? others[Math.floor(Math.random() * others.length)];
  if (!next) return;
  sub.options.host = next.options.host;
  sub.options.port = next.options.port;
}
