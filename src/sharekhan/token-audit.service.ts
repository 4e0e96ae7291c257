import { Inject, Injectable, Logger } from '@nestjs/common';
import { CacheService } from '../cache/index.js';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from './sharekhan.options.js';
import { TokenClock } from './token-clock.js';

export interface AuditActor {
  /** API key name, `login-callback`, `env`, `orchestrator`, ...: never a secret. */
  who: string;
  /** Where the action came from: `api`, `login`, `env`, `orchestrator`, ... */
  source: string;
  clientAddress?: string;
}

export interface AuditEvent {
  at: string;
  userId: string;
  action: string;
  who: string;
  source: string;
  clientAddress: string | null;
  fingerprint: string | null;
  detail: string | null;
}

export interface AuditInput {
  action: string;
  actor: AuditActor;
  fingerprint?: string;
  detail?: string;
}

interface StoredAudit {
  events: AuditEvent[];
}

const MAX_DETAIL = 300;

export const auditKey = (userId: string) => `sharekhan:audit:${userId}`;

/**
 * Per-user audit trail kept through the cache as one capped list (newest first) with a TTL of a
 * few days; every event is also one log line, which is the durable copy. Appends for a user are
 * serialised in this process; two instances appending at the same instant can lose one event
 * from the stored list (never from the log).
 */
@Injectable()
export class TokenAuditLog {
  private readonly logger = new Logger('TokenAudit');
  private readonly chains = new Map<string, Promise<void>>();
  /** Events that could not be merged because the stored list was unreadable (Redis down, not in memory). */
  private readonly pending = new Map<string, AuditEvent[]>();
  private readonly maxEvents: number;
  private readonly ttlMs: number;

  constructor(
    private readonly cache: CacheService,
    private readonly clock: TokenClock,
    @Inject(SHAREKHAN_SETTINGS) settings: ShareKhanSettings,
  ) {
    this.maxEvents = settings.audit.maxEvents;
    this.ttlMs = settings.audit.ttlMs;
  }

  append(userId: string, input: AuditInput): Promise<void> {
    const event: AuditEvent = {
      at: new Date(this.clock.now()).toISOString(),
      userId,
      action: clean(input.action, 64) ?? 'unknown',
      who: clean(input.actor.who, 128) ?? 'unknown',
      source: clean(input.actor.source, 64) ?? 'unknown',
      clientAddress: clean(input.actor.clientAddress, 64),
      fingerprint: clean(input.fingerprint, 64),
      detail: clean(input.detail, MAX_DETAIL),
    };
    this.logger.log(
      `audit ${event.action} user=${userId} who=${event.who} source=${event.source}` +
        (event.fingerprint ? ` fingerprint=${event.fingerprint}` : '') +
        (event.clientAddress ? ` client=${event.clientAddress}` : '') +
        (event.detail ? ` detail="${event.detail}"` : ''),
    );
    return this.serialise(userId, () => this.store(userId, event));
  }

  async read(userId: string): Promise<{ events: AuditEvent[]; complete: boolean }> {
    await this.chains.get(userId);
    const r = await this.cache.read<StoredAudit>(auditKey(userId));
    const stored = r.state === 'hit' && Array.isArray(r.value?.events) ? r.value.events : [];
    return { events: this.merge([...(this.pending.get(userId) ?? [])].reverse(), stored), complete: r.state !== 'unavailable' };
  }

  private async store(userId: string, event: AuditEvent): Promise<void> {
    try {
      const r = await this.cache.read<StoredAudit>(auditKey(userId));
      const waiting = [...(this.pending.get(userId) ?? []), event];
      if (r.state === 'unavailable') {
        // Writing now would replace the stored list with this one event once Redis is back.
        this.pending.set(userId, waiting.slice(-this.maxEvents));
        return;
      }
      const stored = r.state === 'hit' && Array.isArray(r.value?.events) ? r.value.events : [];
      await this.cache.set(auditKey(userId), { events: this.merge([...waiting].reverse(), stored) }, { ttlMs: this.ttlMs });
      this.pending.delete(userId);
    } catch (err) {
      this.logger.warn(`audit event for user ${userId} not stored: ${(err as Error).message}`);
    }
  }

  /** Both inputs newest first; the sort is stable, so events in the same millisecond keep that order. */
  private merge(a: readonly AuditEvent[], b: readonly AuditEvent[]): AuditEvent[] {
    return [...a, ...b]
      .sort((x, y) => (x.at < y.at ? 1 : x.at > y.at ? -1 : 0))
      .slice(0, this.maxEvents);
  }

  private serialise(userId: string, task: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(userId) ?? Promise.resolve()).then(task);
    this.chains.set(userId, next);
    void next.finally(() => {
      if (this.chains.get(userId) === next) this.chains.delete(userId);
    });
    return next;
  }
}

/** Audit text ends up in log lines: no control characters (log injection), bounded length. */
function clean(value: string | undefined | null, max: number): string | null {
  if (value === undefined || value === null) return null;
  // oxlint-disable-next-line no-control-regex
  const text = String(value).replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (text === '') return null;
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
