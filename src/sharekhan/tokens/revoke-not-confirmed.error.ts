import { DomainError } from '../../common/domain-error.js';

/**
 * A revoke this instance could only keep in memory and journal (Redis unreachable), or one decided
 * on a read Redis could not vouch for (it forgot and the fleet is still writing back what it holds:
 * a token submitted on another replica may be missing from it): the caller is not told "revoked". `unwritable`: nothing could be written
 * safely (Redis lost after the read, or other writers kept winning).
 */
export class RevokeNotConfirmedError extends DomainError {
  override name = 'RevokeNotConfirmedError';
  constructor(userId: string, state: 'revoked' | 'already_revoked' | 'superseded' | 'missing' | 'unwritable') {
    const here =
      state === 'unwritable'
        ? `The token of ${userId} could not be revoked right now (the token store cannot be written safely); it may still be usable.`
        : state === 'missing'
        ? `This instance holds no token for ${userId}, but Redis cannot confirm that for the fleet right now (unreachable, or still being re-seeded after it lost data).`
        : state === 'superseded'
        ? `A newer token of ${userId} was stored while the revoke ran and is left as it is, but Redis has not confirmed that for the fleet.`
        : `The token of ${userId} is revoked on this instance (refused here from now on), but Redis has not confirmed it for the fleet (unreachable, or still being re-seeded after it lost data), so other replicas may still trade with it or with a newer token.`;
    super('REVOKE_NOT_CONFIRMED', `${here} Retry the DELETE until it answers 200: only then is the token refused fleet-wide. See /health/ready for Redis.`);
  }
}
