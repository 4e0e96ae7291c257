import type { Cluster, Redis } from 'ioredis';

type BatchClient = (Redis | Cluster) & {
  casSet(key: string, version: string, record: string, pxat: string, channel?: string): Promise<1 | string>;
  casSetMany(numKeys: number, ...args: string[]): Promise<(1 | string)[]>;
};

interface PendingWrite {
  key: string;
  version: string;
  record: string;
  pxat: string;
  channel: string;
  resolve(v: 1 | string): void;
  reject(e: unknown): void;
}

interface PendingRead {
  key: string;
  resolve(v: string | null): void;
  reject(e: unknown): void;
}

const MAX_BATCH = 32;

/**
 * Coalesces the reads and the compare-and-set writes issued while many commands are in flight
 * into MGETs and multi-key script calls, MAX_BATCH keys each, once per tick. Under concurrency
 * Redis runs a few commands instead of dozens, and Node encodes and parses a few. Several batches
 * rather than one: Redis starts on the first while Node still answers the callers of the previous
 * one. Standalone and Sentinel only: a Cluster batch would span slots.
 */
export class CommandBatcher {
  private writes: PendingWrite[] = [];
  private reads: PendingRead[] = [];
  private scheduled = false;

  constructor(private readonly client: BatchClient) {}

  get(key: string): Promise<string | null> {
    return new Promise((resolve, reject) => {
      this.reads.push({ key, resolve, reject });
      this.schedule();
    });
  }

  casSet(key: string, version: string, record: string, pxat: string, channel: string): Promise<1 | string> {
    return new Promise((resolve, reject) => {
      this.writes.push({ key, version, record, pxat, channel, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: the other in-flight callers resume over several microtask
    // hops, and a batch flushed too early would hold one command.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const reads = this.reads;
    const writes = this.writes;
    this.reads = [];
    this.writes = [];
    for (let i = 0; i < reads.length; i += MAX_BATCH) this.sendReads(reads.slice(i, i + MAX_BATCH));
    for (let i = 0; i < writes.length; i += MAX_BATCH) this.sendWrites(writes.slice(i, i + MAX_BATCH));
  }

  private sendReads(batch: PendingRead[]): void {
    if (batch.length === 1) {
      this.client.get(batch[0].key).then(batch[0].resolve, batch[0].reject);
      return;
    }
    this.client.mget(batch.map((r) => r.key)).then(
      (values) => batch.forEach((r, i) => r.resolve(values[i] ?? null)),
      (err) => batch.forEach((r) => r.reject(err)),
    );
  }

  private sendWrites(batch: PendingWrite[]): void {
    const channel = batch[0].channel;
    if (batch.length === 1 || batch.some((w) => w.channel !== channel)) {
      for (const w of batch) this.client.casSet(w.key, w.version, w.record, w.pxat, w.channel).then(w.resolve, w.reject);
      return;
    }
    const args: string[] = batch.map((w) => w.key);
    args.push(channel);
    for (const w of batch) args.push(w.version, w.record, w.pxat);
    this.client.casSetMany(batch.length, ...args).then(
      (replies) => batch.forEach((w, i) => w.resolve(replies[i] === 1 ? 1 : String(replies[i]))),
      (err) => batch.forEach((w) => w.reject(err)),
    );
  }
}
