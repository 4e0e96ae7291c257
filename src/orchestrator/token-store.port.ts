/**
 * What the orchestrator needs from ShareKhanAuthModule's token store. The module binds this to
 * `ShareKhanTokenStore` with `useExisting`, so tests can hand in a small fake and the orchestrator
 * never depends on how tokens are stored.
 */
export type TokenRecordStatus = 'active' | 'expired' | 'invalid' | 'revoked';

export interface TokenViewLike {
  userId: string;
  status: TokenRecordStatus;
  mask: string;
  fingerprint: string;
  expiresAt: string;
  secondsLeft: number;
  source: string;
  lastValidatedAt?: string | null;
  /** Why it is not usable (who revoked it and when, the broker's refusal, ...). */
  statusReason?: string | null;
}

export type TokenLookupLike =
  | { kind: 'found'; accessToken: string; view: TokenViewLike }
  | { kind: 'missing' }
  | { kind: 'expired'; view: TokenViewLike }
  | { kind: 'invalid'; view: TokenViewLike }
  /** Only memory vouches for it (Redis unreachable) and Redis last confirmed it too long ago. */
  | { kind: 'unconfirmed'; view: TokenViewLike; unconfirmedForMs: number }
  | { kind: 'unavailable' };

export interface AuditActorLike {
  who: string;
  source: string;
  clientAddress?: string;
}

export interface TokenStorePort {
  lookup(userId: string): Promise<TokenLookupLike>;
  /** Marks exactly the token with this fingerprint refused; a newer token of the user stays usable. */
  markInvalid(userId: string, fingerprint: string, reason: string, actor: AuditActorLike): Promise<void>;
  audit(
    userId: string,
    event: { action: string; actor: AuditActorLike; fingerprint?: string; detail?: string },
  ): Promise<void>;
}

export const TOKEN_STORE = Symbol('ORCHESTRATOR_TOKEN_STORE');
