import type { AuditActor, TokenLookup, TokenView } from '../sharekhan/index.js';

/** The part of a token's view the orchestrator reads (a fake builds no more than this). */
export type TokenViewLike = Pick<TokenView, 'userId' | 'status' | 'mask' | 'fingerprint' | 'expiresAt' | 'secondsLeft' | 'source'> &
  Partial<Pick<TokenView, 'lastValidatedAt' | 'statusReason'>>;

/** The store's lookup answer, with the view narrowed to what the orchestrator reads. */
export type TokenLookupLike = TokenLookup extends infer L ? (L extends { view: TokenView } ? Omit<L, 'view'> & { view: TokenViewLike } : L) : never;

export type AuditActorLike = AuditActor;

/**
 * What the orchestrator needs from ShareKhanAuthModule's token store, in the store's own types.
 * The module binds this to `ShareKhanTokenStore` with `useExisting`, so tests can hand in a small
 * fake and the orchestrator never depends on how tokens are stored.
 */
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
