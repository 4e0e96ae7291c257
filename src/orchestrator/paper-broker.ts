import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Order } from '../sharekhan/index.js';

export interface PaperFill {
  orderId: string;
  orderStatus: 'FILLED';
  /** The limit price; null for a market order (price "0"), which paper cannot price. */
  fillPrice: string | null;
  quantity: number;
}

/** Simulated broker: every valid order fills at once, in full, at its limit price. */
@Injectable()
export class PaperBroker {
  place(order: Order): PaperFill {
    const id = `PAPER-${Date.now().toString(36).toUpperCase()}-${randomBytes(5).toString('hex').toUpperCase()}`;
    return {
      orderId: id,
      orderStatus: 'FILLED',
      fillPrice: Number(order.price) > 0 ? order.price : null,
      quantity: order.quantity,
    };
  }
}
