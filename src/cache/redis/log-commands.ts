import type { CommandExecutor } from './command-executor.js';

/** Append logs as sorted sets (scripts/append-log-script.ts); each call one bounded command on the log's key. */
export class LogCommands {
  constructor(private readonly exec: CommandExecutor) {}

  /**
   * LOG_APPEND_LUA: adds `members`, drops those below the `cutoff` version (null: no age bound) and
   * the oldest beyond `maxEntries`, renews the key's TTL to `maxAgeMs`; the members the log then holds.
   */
  append(k: string, maxEntries: number, cutoff: string | null, maxAgeMs: number | null | undefined, members: readonly string[]): Promise<number> {
    const ttl = maxAgeMs ? String(Math.ceil(maxAgeMs)) : '0';
    return this.exec.runFor('logAppend', k, (c) => c.logAppend(k, String(maxEntries), cutoff ?? '', ttl, ...members));
  }

  /** Every member of the log, in version order. */
  read(k: string): Promise<string[]> {
    return this.exec.runFor('zrange', k, (c) => c.zrange(k, '0', '-1'));
  }
}
