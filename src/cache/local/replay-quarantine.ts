import type { Logger } from '@nestjs/common';

/**
 * Redis replies that will fail the same way on every retry: the entry itself is bad (a key of
 * another type, an argument Redis refuses). Connection errors, timeouts, OOM, BUSY, LOADING,
 * READONLY, NOPERM and cluster redirections are transient (or an operator's fix) and are retried.
 */
export function isPoisonError(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return false;
  return /^(ERR|WRONGTYPE)\b/.test(err.message) && !/\b(OOM|BUSY|LOADING|READONLY|NOPERM|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/.test(err.message);
}

/**
 * Journal entries Redis rejected for good: dropped from the journal (so recovery can finish),
 * counted, and reported once each. Memory is then made to hold what Redis holds for the key.
 */
export class ReplayQuarantine {
  private count = 0;

  constructor(private readonly logger: Logger) {}

  get quarantined(): number {
    return this.count;
  }

  record(key: string, err: Error): void {
    this.count++;
    const reason = err.message.split('\n')[0].slice(0, 200);
    this.logger.error(`Journaled write to ${key} quarantined: Redis rejects it (${reason}); it is dropped so recovery can finish (status.replayQuarantined counts these)`);
  }
}
