import type { Order } from '../sharekhan/index.js';
import type { OrderLimits, TradingUser } from './orchestrator.options.js';

export type OrderLimitName = keyof OrderLimits;

export interface LimitBreach {
  limit: OrderLimitName;
  /** The limit in force for this user. */
  max: number;
  /** What the order asked for (quantity, or price x quantity). */
  value: number;
}

/** The user's own limits, each unset one taken from the module's defaults. */
export function limitsOf(
  user: Pick<TradingUser, 'limits'>,
  defaults: OrderLimits,
): OrderLimits {
  return {
    maxQuantity: user.limits?.maxQuantity ?? defaults.maxQuantity,
    maxNotional: user.limits?.maxNotional ?? defaults.maxNotional,
  };
}

/** The first limit the order breaks, or null. A price of 0 (market order) has no notional to check. */
export function breachOf(
  order: Pick<Order, 'quantity' | 'price'>,
  limits: OrderLimits,
): LimitBreach | null {
  if (order.quantity > limits.maxQuantity)
    return {
      limit: 'maxQuantity',
      max: limits.maxQuantity,
      value: order.quantity,
    };
  const notional = Number(order.price) * order.quantity;
  if (Number.isFinite(notional) && notional > limits.maxNotional)
    return { limit: 'maxNotional', max: limits.maxNotional, value: notional };
  return null;
}
