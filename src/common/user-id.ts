import { z } from 'zod';

/**
 * The one canonical form of a trading user id. Tokens are stored and looked up under exactly this
 * string: no case folding, no trimming, no aliases, so a lookup can never land on another user.
 */
export const USER_ID_PATTERN = /^[A-Z0-9_]{1,64}$/;

export const userIdSchema = z
  .string()
  .regex(USER_ID_PATTERN, { error: 'a user id of 1-64 characters A-Z, 0-9 or _ (e.g. PAPER_TRADER_001)' });
