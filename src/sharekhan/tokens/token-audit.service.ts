import { Inject, Injectable, Logger } from '@nestjs/common';
import { CacheService } from '../../cache/index.js';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from '../sharekhan.options.js';
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

const MAX_DETAIL = 300;

export const auditKey = (userId: string) => `sharekhan:audit:${userId}`;

/**
 * Per-user audit trail kept in the cache as an append log (newest first on read), bounded by
 * count and age; every event is also one log line, which is the durable copy. Appends from every
 * replica merge, so none overwrites another's (docs/sharekhan.md, "Audit trail").
 */
@Injectable()
export class TokenAuditLog {
  private readonly logger = new Logger('TokenAudit');
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

  async append(userId: string, input: AuditInput): Promise<void> {
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
    try {
      await this.cache.appendLog(auditKey(userId), event, { maxEntries: this.maxEvents, maxAgeMs: this.ttlMs, durable: true });
    } catch (err) {
      this.logger.warn(`audit event for user ${userId} not stored: ${(err as Error).message}`);
    }
  }

  /** Newest first; `complete` is false when Redis could not be asked (memory's copy only). */
  async read(userId: string): Promise<{ events: AuditEvent[]; complete: boolean }> {
    const r = await this.cache.readLog<AuditEvent>(auditKey(userId), { order: 'newest-first', limit: this.maxEvents, maxAgeMs: this.ttlMs });
    return { events: r.entries.map((e) => e.value), complete: r.complete };
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
