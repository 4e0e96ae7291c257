import { CacheUnavailableError } from '../core/cache.errors.js';
import type { CacheCore } from './cache-core.js';

/** Keys handed over at once from memory; SCAN steps bring their own bounded batches. */
const LOCAL_BATCH = 200;

/**
 * The keys under a full prefix, in batches, each returned without the first `strip` characters:
 * what memory holds, then what a bounded SCAN finds on each Redis node, each key once. The SCAN
 * step waits until the consumer asks for the next batch, so a slow consumer never holds a cursor
 * open on Redis' side. Keys may be deleted or expired by the time they are read. While Redis
 * cannot be scanned the batches from memory come first, then `CacheUnavailableError`.
 */
export async function* listKeys(
  core: CacheCore,
  fullPrefix: string,
  strip: number,
): AsyncGenerator<string[]> {
  const seen = new Set<string>();
  const fresh = (keys: string[]) => {
    const out: string[] = [];
    for (const k of keys) {
      if (k === core.keyPrefix || seen.has(k)) continue;
      seen.add(k);
      out.push(k.slice(strip));
    }
    return out;
  };
  const local = fresh(core.localKeys(fullPrefix));
  for (let i = 0; i < local.length; i += LOCAL_BATCH)
    yield local.slice(i, i + LOCAL_BATCH);
  if (core.memoryOnly) return;
  try {
    for await (const keys of pull((onBatch) =>
      core.scan(fullPrefix, onBatch),
    )) {
      const batch = fresh(keys);
      if (batch.length > 0) yield batch;
    }
  } catch {
    throw new CacheUnavailableError(
      'Redis could not be scanned, so only the keys this instance holds in memory were listed; list again once the cache is back in redis mode',
    );
  }
}

class Stopped extends Error {}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Turns a callback scan (the next step runs once `onBatch` resolves) into a pull-based iterator. */
async function* pull(
  scan: (onBatch: (keys: string[]) => Promise<void>) => Promise<void>,
): AsyncGenerator<string[]> {
  let ready = deferred<string[] | null>();
  let resume = deferred<boolean>();
  // A rejection nobody awaits any more (the consumer stopped) must not become an unhandled one.
  ready.promise.catch(() => {});
  void scan(async (keys) => {
    ready.resolve(keys);
    const go = await resume.promise;
    resume = deferred<boolean>();
    if (!go) throw new Stopped();
  }).then(
    () => ready.resolve(null),
    (err: unknown) => ready.reject(err),
  );
  let finished = false;
  try {
    for (;;) {
      const keys = await ready.promise;
      if (keys === null) {
        finished = true;
        return;
      }
      ready = deferred<string[] | null>();
      ready.promise.catch(() => {});
      yield keys;
      resume.resolve(true);
    }
  } catch (err) {
    finished = true;
    throw err;
  } finally {
    // The consumer stopped early: end the scan at its next step.
    if (!finished) resume.resolve(false);
  }
}
