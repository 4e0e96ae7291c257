import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error.js';

/** Where trading users come from, as the library sees it (an app maps its own settings onto these options). */
export const ACCOUNTS_OPTION = "ShareKhanAuthModule's `accounts` option (or OrchestratorModule's `users`)";

/** A token offered for a user id that is not a configured trading user: it would never be used. Names no other user. */
export class NotATradingUserError extends DomainError {
  override name = 'NotATradingUserError';
  constructor(userId: string, accountsSetting = ACCOUNTS_OPTION) {
    super(
      'NOT_A_TRADING_USER',
      `${userId} is not a trading user, so a token for it would never be used; nothing was stored. Use the exact id of a configured trading user, or add ${userId} to ${accountsSetting} and restart.`,
    );
  }
}

/** The ShareKhan account a token belongs to is not the one configured for the user. */
export class CustomerMismatchError extends DomainError {
  override name = 'CustomerMismatchError';
  constructor(userId: string, expected: string, got: string, how: 'login' | 'manual', accountsSetting = ACCOUNTS_OPTION) {
    const todo =
      how === 'login'
        ? `Start the login again for ${userId} and sign in to ShareKhan as customer ${expected}`
        : `Submit the token of customer ${expected} for ${userId}`;
    super(
      'CUSTOMER_MISMATCH',
      `The token belongs to ShareKhan customer ${got}, but ${userId} is customer ${expected} in the configured accounts; nothing was stored. ${todo}, or correct the customer id of ${userId} in ${accountsSetting} if ${expected} is wrong.`,
    );
  }
}

/**
 * A ShareKhan login for a trading user with no configured customer id: the account that logs in
 * could be anyone's, so it is refused rather than trusted (see docs/sharekhan.md).
 */
export class CustomerNotConfiguredError extends DomainError {
  override name = 'CustomerNotConfiguredError';
  constructor(userId: string, accountsSetting = ACCOUNTS_OPTION) {
    super(
      'CUSTOMER_NOT_CONFIGURED',
      `${userId} has no ShareKhan customer id configured, so a ShareKhan login cannot be checked against its account and is refused; nothing was stored. Add the customer id (and login id) of ${userId} to ${accountsSetting} and restart, or submit its token by hand.`,
    );
  }
}

/** A user who may hold a token, and the ShareKhan customer id its tokens must belong to ('' for none). */
export interface TradingAccount {
  userId: string;
  customerId: string;
}

/**
 * Which users may hold a token and which ShareKhan account each one is: the module's `accounts`
 * plus the users OrchestratorModule registers at start-up (so an app using both is bound without
 * repeating them). With none at all the token service stands alone and accepts any valid user id.
 */
@Injectable()
export class TradingAccounts {
  private readonly byId = new Map<string, TradingAccount>();

  /** @param accountsSetting what an operator edits to change the accounts, as messages name it. */
  constructor(
    users: readonly TradingAccount[] = [],
    readonly accountsSetting = ACCOUNTS_OPTION,
  ) {
    this.register(users);
  }

  /** Adds users; one id with two different customer ids is a configuration error (start-up fails). */
  register(users: readonly TradingAccount[]): void {
    for (const u of users) {
      const had = this.byId.get(u.userId);
      if (had && had.customerId && u.customerId && had.customerId !== u.customerId) {
        throw new Error(`Trading user ${u.userId} is configured with two ShareKhan customer ids (${had.customerId}, ${u.customerId}); give it one`);
      }
      if (!had || !had.customerId) this.byId.set(u.userId, { userId: u.userId, customerId: u.customerId });
    }
  }

  userIds(): string[] {
    return [...this.byId.keys()];
  }

  /** Throws NotATradingUserError when trading users are configured and the id is not one of them. */
  assertKnown(userId: string): void {
    if (this.byId.size > 0 && !this.byId.has(userId)) throw new NotATradingUserError(userId, this.accountsSetting);
  }

  /**
   * A login may complete only into a user whose account is known: with trading users configured,
   * one without a customer id is refused (a standalone token service, with none, trusts the login).
   */
  assertLoginCheckable(userId: string): void {
    if (this.byId.size > 0 && !this.customerOf(userId)) throw new CustomerNotConfiguredError(userId, this.accountsSetting);
  }

  /** The configured ShareKhan customer id, or null when none is configured (paper user, no accounts). */
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
