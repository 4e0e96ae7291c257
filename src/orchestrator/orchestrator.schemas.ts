import { z } from 'zod';
import { userIdSchema } from '../common/user-id.js';
import { orderShape, parseOrder, type Order } from '../sharekhan/index.js';
import type { TradingUser } from './orchestrator.options.js';

/**
 * What a caller sends for one order: the ShareKhan fields except the account ones. `customerId`
 * and `channelUser` always come from the user registry, so a body can never aim at another account.
 */
const { customerId: _c, channelUser: _u, ...orderFieldShape } = orderShape;
export const orderFieldsSchema = z
  .object(orderFieldShape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `unknown field(s) ${iss.keys.join(', ')}; customerId and channelUser come from the trading user's configuration, not from the request`
        : iss.code === 'invalid_type'
          ? 'order must be a JSON object'
          : undefined,
  })
  .strict();
export type OrderFields = z.input<typeof orderFieldsSchema>;

export const placeOrderBodySchema = z
  .object({
    userId: userIdSchema,
    order: orderFieldsSchema,
  })
  .strict();
export type PlaceOrderBody = z.infer<typeof placeOrderBodySchema>;

export const SIGNAL_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const signalBodySchema = z
  .object({
    signalId: z
      .string({ error: 'signalId is required: 1-128 characters A-Z a-z 0-9 . _ : - (the same id on a retry)' })
      .regex(SIGNAL_ID_PATTERN, { error: 'signalId must be 1-128 characters A-Z a-z 0-9 . _ : -' }),
    users: z.union([z.literal('all'), z.array(userIdSchema).min(1).max(1000)], {
      error: 'users must be "all" or a non-empty array of user ids',
    }),
    order: orderFieldsSchema,
  })
  .strict();
export type SignalBody = z.infer<typeof signalBodySchema>;

/** The full broker order for one user, or the reasons it is not a valid ShareKhan order. */
export function orderFor(user: Pick<TradingUser, 'userId' | 'customerId' | 'loginId'>, fields: OrderFields):
  | { ok: true; order: Order }
  | { ok: false; problems: string[] } {
  const parsed = parseOrder({
    ...fields,
    // Paper users may have no broker account; their own id keeps the order well-formed.
    customerId: user.customerId || user.userId,
    channelUser: user.loginId || user.userId,
  });
  if (parsed.ok) return parsed;
  return { ok: false, problems: parsed.issues.map((i) => `order.${i.path}: ${i.message}`) };
}
