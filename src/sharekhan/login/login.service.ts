import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CacheService } from '../../cache/index.js';
import { DomainError } from '../../common/domain-error.js';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from '../sharekhan.options.js';
import { RequestTokenError, ShareKhanSecretKeyError, exchangeRequestToken } from './request-token-exchange.js';
import { BrokerAuthError, BrokerBadRequestError, BrokerError, ShareKhanNotConfiguredError } from '../broker/broker-errors.js';
import { ShareKhanClientFactory } from '../broker/sharekhan-client.factory.js';
import { TokenClock } from '../tokens/token-clock.js';
import { istTime } from '../tokens/token-expiry.js';
import { ShareKhanTokenStore, assertUserId, type TokenView } from '../tokens/token-store.service.js';
import { CustomerMismatchError, CustomerNotConfiguredError, TradingAccounts } from '../tokens/trading-accounts.js';
import {
  BrokerCallFailedError,
  LoginExchangeRefusedError,
  LoginSecretKeyError,
  LoginStateError,
  LoginStateUnavailableError,
  RequestTokenRejectedError,
} from './login-errors.js';

export interface Identity {
  who: string;
  clientAddress?: string;
}

interface LoginState {
  userId: string;
  requestedBy: string;
  clientAddress: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface LoginUrl {
  userId: string;
  loginUrl: string;
  state: string;
  expiresAt: string;
  redirectUrl: string | null;
}

export type ValidationOutcome =
  | { valid: true; token: TokenView }
  | { valid: false; reason: string; token: TokenView | null };

/** The state is a bearer credential for ten minutes: only its hash is used as a key. */
const stateKey = (state: string) => `sharekhan:login-state:${createHash('sha256').update(state, 'utf8').digest('hex')}`;

/**
 * The broker side of tokens: the daily login (one-time state, tag-checked request-token
 * exchange, POST /access/token) and the cheap validation call.
 */
@Injectable()
export class ShareKhanLoginService {
  private readonly logger = new Logger('ShareKhanSession');
  private readonly settings: ShareKhanSettings;

  constructor(
    private readonly cache: CacheService,
    private readonly store: ShareKhanTokenStore,
    private readonly clients: ShareKhanClientFactory,
    private readonly clock: TokenClock,
    private readonly accounts: TradingAccounts,
    @Inject(SHAREKHAN_SETTINGS) settings: ShareKhanSettings,
  ) {
    this.settings = settings;
  }

  /**
   * PUT token: only for a configured trading user, and only for that user's own ShareKhan account.
   * A token does not name its account, so without a customerId in the body the configured one is
   * recorded; the validation call (GET /reports/{customerId} with the token) is what proves it.
   */
  async submitManual(
    userId: string,
    body: { accessToken: string; customerId?: string | null; loginId?: string | null },
    by: Identity,
  ): Promise<{ view: TokenView; store: 'redis' | 'memory' }> {
    assertUserId(userId);
    this.accounts.assertKnown(userId);
    const actor = { who: by.who, source: 'api', clientAddress: by.clientAddress };
    const wrong = this.accounts.mismatch(userId, body.customerId);
    if (wrong) {
      await this.store.audit(userId, { action: 'customer_refused', actor, detail: `manual submission for customer ${wrong.got}; ${userId} is ${wrong.expected}; nothing stored` });
      throw new CustomerMismatchError(userId, wrong.expected, wrong.got, 'manual', this.accounts.accountsSetting);
    }
    return this.store.submit(userId, {
      accessToken: body.accessToken,
      customerId: body.customerId ?? this.accounts.customerOf(userId),
      loginId: body.loginId ?? null,
      source: 'manual',
      actor,
    });
  }

  async createLoginUrl(userId: string, by: Identity): Promise<LoginUrl> {
    assertUserId(userId);
    this.accounts.assertKnown(userId);
    this.accounts.assertLoginCheckable(userId);
    const { apiKey } = this.loginCredentials();
    const state = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const value: LoginState = {
      userId,
      requestedBy: by.who,
      clientAddress: by.clientAddress ?? null,
      createdAt: now,
      expiresAt: now + this.settings.loginStateTtlMs,
    };
    await this.cache.set(stateKey(state), value, { ttlMs: this.settings.loginStateTtlMs });
    const url = new URL(this.settings.loginUrl);
    url.searchParams.set('api_key', apiKey);
    url.searchParams.set('state', state);
    if (this.settings.vendorKey) url.searchParams.set('vendor_key', this.settings.vendorKey);
    if (this.settings.versionId) url.searchParams.set('version_id', this.settings.versionId);
    await this.store.audit(userId, {
      action: 'login_started',
      actor: { who: by.who, source: 'api', clientAddress: by.clientAddress },
      detail: `state valid until ${istTime(value.expiresAt)}`,
    });
    return {
      userId,
      loginUrl: url.href,
      state,
      expiresAt: new Date(value.expiresAt).toISOString(),
      redirectUrl: this.settings.redirectUrl,
    };
  }

  /** The redirect back from ShareKhan. The state names the user; it works once, before it expires. */
  async completeLogin(requestToken: string, state: string, clientAddress?: string): Promise<{ token: TokenView; store: string }> {
    const { secretKey } = this.loginCredentials();
    const login = await this.takeState(state);
    const actor = { who: login.requestedBy, source: 'login', clientAddress };
    const failed = async (detail: string, error: DomainError, action = 'exchange_failed'): Promise<never> => {
      await this.store.audit(login.userId, { action, actor, detail });
      throw error;
    };
    // The state names the user; the account that actually logged in must be that user's own.
    const refuseAccount = (got: string | undefined, said: string): Promise<void> => {
      const wrong = this.accounts.mismatch(login.userId, got);
      if (!wrong) return Promise.resolve();
      return failed(
        `${said} customer ${wrong.got}; ${login.userId} is ${wrong.expected}; nothing stored`,
        new CustomerMismatchError(login.userId, wrong.expected, wrong.got, 'login', this.accounts.accountsSetting),
        'customer_refused',
      );
    };

    // Also here: a state started before a restart (or on a replica with other accounts) proves nothing.
    try {
      this.accounts.assertLoginCheckable(login.userId);
    } catch (err) {
      if (err instanceof CustomerNotConfiguredError) return failed(`no customer id configured for ${login.userId}; login refused, nothing stored`, err, 'customer_refused');
      throw err;
    }

    let exchange: ReturnType<typeof exchangeRequestToken>;
    try {
      exchange = exchangeRequestToken(requestToken, secretKey, { versionId: this.settings.versionId });
    } catch (err) {
      if (err instanceof RequestTokenError) {
        return failed(`${err.code}: ${err.message}`, new RequestTokenRejectedError(err.code, err.message, this.settings.nameOf));
      }
      if (err instanceof ShareKhanSecretKeyError) {
        this.logger.error(`login exchange impossible: ${err.message}`);
        return failed('secret key misconfigured', new LoginSecretKeyError(this.settings.nameOf));
      }
      throw err;
    }
    await refuseAccount(exchange.customerId, 'the login completed as');

    let accessToken: string;
    let brokerCustomer: string | undefined;
    try {
      const result = await this.clients.client().createAccessToken({ requestToken: exchange.exchangeValue, state });
      accessToken = result.accessToken;
      brokerCustomer = result.customerId;
    } catch (err) {
      if (err instanceof BrokerBadRequestError) return failed(err.message, new LoginExchangeRefusedError(err.brokerMessage));
      if (err instanceof BrokerError) return failed(err.message, new BrokerCallFailedError(err, 'exchange the request token'));
      throw err;
    }
    await refuseAccount(brokerCustomer, 'ShareKhan issued the access token for');
    const note =
      brokerCustomer !== undefined && brokerCustomer !== exchange.customerId
        ? `; broker answered customer ${brokerCustomer}, kept ${exchange.customerId} from the request token`
        : '';
    const saved = await this.store.submit(login.userId, {
      accessToken,
      customerId: exchange.customerId,
      source: 'login',
      actor,
      action: 'exchanged',
    });
    if (note) await this.store.audit(login.userId, { action: 'customer_mismatch', actor, fingerprint: saved.view.fingerprint, detail: note.slice(2) });
    return { token: saved.view, store: saved.store };
  }

  /** Asks ShareKhan for the day's orders: the cheapest call that proves the token works. */
  async validate(userId: string, by: Identity): Promise<ValidationOutcome> {
    const found = await this.store.lookup(userId);
    const actor = { who: by.who, source: 'api', clientAddress: by.clientAddress };
    switch (found.kind) {
      case 'unavailable':
        throw new DomainError('TOKEN_STORE_UNAVAILABLE', `Cannot read the token of ${userId} right now (Redis unreachable and not in memory); retry shortly`);
      case 'missing':
        throw new DomainError('TOKEN_NOT_FOUND', `No ShareKhan token stored for ${userId}: submit one with PUT /sharekhan/users/${userId}/token or log in`);
      case 'expired':
        return { valid: false, reason: `token expired at ${istTime(found.view.expiresAt)}`, token: found.view };
      case 'invalid':
        return { valid: false, reason: `token is ${found.view.status}${found.view.statusReason ? `: ${found.view.statusReason}` : ''}`, token: found.view };
      case 'unconfirmed':
        throw new DomainError('TOKEN_UNCONFIRMED', `The token of ${userId} is held in this instance's memory only and Redis has not confirmed it for a while; retry when Redis is reachable (see /health/ready)`);
    }
    const { accessToken, view } = found;
    if (!view.customerId) {
      throw new DomainError('TOKEN_CUSTOMER_UNKNOWN', `The token of ${userId} has no ShareKhan customer id, which the check needs: submit the token again with customerId`);
    }
    try {
      await this.clients.client().getDayOrders(accessToken, view.customerId);
    } catch (err) {
      if (err instanceof BrokerAuthError) {
        await this.store.markInvalid(userId, view.fingerprint, 'ShareKhan refused the token (HTTP 403) on a validation call', actor);
        const after = await this.store.lookup(userId);
        return { valid: false, reason: 'ShareKhan refused the token (403); it is now marked invalid', token: 'view' in after ? after.view : null };
      }
      if (err instanceof BrokerError) {
        await this.store.audit(userId, { action: 'validation_failed', actor, fingerprint: view.fingerprint, detail: err.message });
        if (err instanceof BrokerBadRequestError) {
          throw new DomainError('VALIDATION_REFUSED', `ShareKhan refused the check: ${err.brokerMessage ?? 'bad request'}; check the customerId submitted with the token`);
        }
        throw new BrokerCallFailedError(err, 'validate the token');
      }
      throw err;
    }
    const token = (await this.store.markValidated(userId, view.fingerprint, actor)) ?? view;
    return { valid: true, token };
  }

  private loginCredentials(): { apiKey: string; secretKey: string } {
    const { apiKey, secretKey } = this.settings;
    if (!apiKey || !secretKey) {
      throw new ShareKhanNotConfiguredError(
        [!apiKey && 'apiKey', !secretKey && 'secretKey'].filter((o): o is string => typeof o === 'string'),
        this.settings.nameOf,
      );
    }
    return { apiKey, secretKey };
  }

  private async takeState(state: string): Promise<LoginState> {
    const key = stateKey(state);
    const r = await this.cache.read<LoginState>(key);
    if (r.state === 'unavailable') {
      throw new LoginStateUnavailableError();
    }
    const unknown = new LoginStateError();
    if (r.state === 'miss' || !r.value) throw unknown;
    if (r.value.expiresAt <= this.clock.now()) throw unknown;
    // One atomic claim across every instance: of two callbacks racing with the same state, only
    // one gets past this line. Then the state is deleted, so a later replay finds nothing.
    // While Redis is unreachable ('unknown') the claim is this instance's alone; ShareKhan's own
    // single use of the request token still stops a second exchange.
    const claim = await this.cache.setIfAbsent(`${key}:used`, true, { ttlMs: Math.max(1_000, r.value.expiresAt - this.clock.now()) });
    if (claim.state === 'exists') throw unknown;
    await this.cache.delete(key);
    return r.value;
  }
}
