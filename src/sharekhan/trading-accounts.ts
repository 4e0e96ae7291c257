import { ConflictException, NotFoundException } from '@nestjs/common';

/** A token offered for a user id that TRADING_USERS does not list: it would never be used. */
export class NotATradingUserError extends NotFoundException {
  readonly code = 'NOT_A_TRADING_USER';
  constructor(userId: string, configured: readonly string[]) {
    super({
      statusCode: 404,
      error: 'Not Found',
      code: 'NOT_A_TRADING_USER',
      message: `${userId} is not a trading user, so a token for it would never be used; nothing was stored. Use the exact id of a user in TRADING_USERS (${configured.join(', ')}), or add ${userId} there (userId:mode:customerId:loginId) and restart.`,
    });
  }
}

/** The ShareKhan account a token belongs to is not the one configured for the user. */
export class CustomerMismatchError extends ConflictException {
  readonly code = 'CUSTOMER_MISMATCH';
  constructor(userId: string, expected: string, got: string, how: 'login' | 'manual') {
    const todo =
      how === 'login'
        ? `Start the login again for ${userId} and sign in to ShareKhan as customer ${expected}`
        : `Submit the token of customer ${expected} for ${userId}`;
    super({
      statusCode: 409,
      error: 'Conflict',
      code: 'CUSTOMER_MISMATCH',
      message: `The token belongs to ShareKhan customer ${got}, but ${userId} is customer ${expected} in TRADING_USERS; nothing was stored. ${todo}, or correct TRADING_USERS if ${expected} is wrong.`,
    });
  }
}

/** A user who may hold a token, and the ShareKhan customer id its tokens must belong to ('' for none). */
export interface TradingAccount {
  userId: string;
  customerId: string;
}

/**
 * Which users may hold a token and which ShareKhan account each one is, from TRADING_USERS.
 * With no trading users configured the token service stands alone and accepts any valid user id.
 */
export class TradingAccounts {
  private readonly byId: ReadonlyMap<string, TradingAccount>;

  constructor(users: readonly TradingAccount[]) {
    this.byId = new Map(users.map((u) => [u.userId, u]));
  }

  /** Throws NotATradingUserError when TRADING_USERS is set and does not list the id. */
  assertKnown(userId: string): void {
    if (this.byId.size > 0 && !this.byId.has(userId)) throw new NotATradingUserError(userId, [...this.byId.keys()]);
  }

  /** The configured ShareKhan customer id, or null when none is configured (paper user, no TRADING_USERS). */
  customerOf(userId: string): string | null {
    return this.byId.get(userId)?.customerId || null;
  }

  /** The customer id a token of this user must carry; `got` null means "not known", which is accepted. */
  mismatch(userId: string, got: string | null | undefined): { expected: string; got: string } | null {
    const expected = this.customerOf(userId);
    if (!expected || !got || got === expected) return null;
    return { expected, got };
  }
}
