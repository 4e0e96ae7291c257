import { z } from 'zod';

/**
 * ShareKhan order body for POST /orders, as the public SDKs send it.
 * Enum values are the ones SHAREKHAN-API.md lists; free-text fields whose full
 * value set is undocumented (orderType, validity, rmsCode, instrumentType) are
 * format-checked only, with the documented value as default.
 */

export const EXCHANGES = ['NC', 'BC', 'NF', 'RN', 'MX'] as const;
/** NSE F&O, NSE currency, MCX: orders there carry the contract fields. */
export const DERIVATIVE_EXCHANGES: readonly Exchange[] = ['NF', 'RN', 'MX'];
export const TRANSACTION_TYPES = ['B', 'S', 'BM', 'SM', 'SAM'] as const;
export const PRODUCT_TYPES = [
  'INVESTMENT',
  'BIGTRADE',
  'BIGTRADEPLUS',
] as const;
export const OPTION_TYPES = ['XX', 'PE', 'CE'] as const;
export const REQUEST_TYPES = ['NEW', 'MODIFY', 'CANCEL'] as const;
export const AFTER_HOUR = ['N', 'Y'] as const;

export type Exchange = (typeof EXCHANGES)[number];
export type TransactionType = (typeof TRANSACTION_TYPES)[number];
export type ProductType = (typeof PRODUCT_TYPES)[number];
export type OptionType = (typeof OPTION_TYPES)[number];
export type RequestType = (typeof REQUEST_TYPES)[number];

const oneOf = (name: string, values: readonly string[]) =>
  `${name} must be one of ${values.join(', ')}`;

export const exchangeSchema = z.enum(EXCHANGES, {
  error: oneOf('exchange', EXCHANGES),
});
export const transactionTypeSchema = z.enum(TRANSACTION_TYPES, {
  error: oneOf('transactionType', TRANSACTION_TYPES),
});
export const productTypeSchema = z.enum(PRODUCT_TYPES, {
  error: oneOf('productType', PRODUCT_TYPES),
});
export const optionTypeSchema = z.enum(OPTION_TYPES, {
  error: oneOf('optionType', OPTION_TYPES),
});
export const requestTypeSchema = z.enum(REQUEST_TYPES, {
  error: oneOf('requestType', REQUEST_TYPES),
});

const DECIMAL = /^\d{1,9}(\.\d{1,4})?$/;
const decimalString = (name: string) =>
  z
    .string({ error: `${name} must be a decimal string such as "101.50"` })
    .regex(DECIMAL, {
      error: `${name} must be a decimal string such as "101.50"`,
    });

const code = (name: string, example: string) =>
  z
    .string({ error: `${name} must be a string such as "${example}"` })
    .regex(/^[A-Z][A-Z0-9_]{0,31}$/, {
      error: `${name} must be upper-case letters/digits such as "${example}"`,
    });

const EXPIRY = /^(\d{2})\/(\d{2})\/(\d{4})$/;
export const expirySchema = z
  .string({ error: 'expiry must be a date string "dd/mm/yyyy"' })
  .refine(isCalendarDate, {
    error: 'expiry must be a real date written "dd/mm/yyyy"',
  });

function isCalendarDate(text: string): boolean {
  const m = EXPIRY.exec(text);
  if (!m) return false;
  const [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const d = new Date(Date.UTC(year, month - 1, day));
  return (
    d.getUTCFullYear() === year &&
    d.getUTCMonth() === month - 1 &&
    d.getUTCDate() === day
  );
}

export const orderShape = {
  customerId: z
    .string({
      error: 'customerId must be the ShareKhan customer id as a string',
    })
    .regex(/^[A-Za-z0-9_-]{1,64}$/, {
      error: 'customerId must be 1-64 letters, digits, "_" or "-"',
    }),
  scripCode: z
    .number({ error: 'scripCode must be a number (the ShareKhan scrip code)' })
    .int({ error: 'scripCode must be an integer' })
    .positive({ error: 'scripCode must be positive' }),
  tradingSymbol: z
    .string({ error: 'tradingSymbol must be a string such as "RELIANCE"' })
    .trim()
    .min(1, { error: 'tradingSymbol must not be empty' })
    .max(64, { error: 'tradingSymbol must be at most 64 characters' })
    // It is written into log lines: a newline or control character could forge one.
    // oxlint-disable-next-line no-control-regex
    .regex(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/, {
      error: 'tradingSymbol must not contain line breaks or control characters',
    }),
  exchange: exchangeSchema,
  transactionType: transactionTypeSchema,
  quantity: z
    .number({ error: 'quantity must be a number' })
    .int({ error: 'quantity must be a whole number' })
    .positive({ error: 'quantity must be greater than 0' }),
  disclosedQty: z
    .number({ error: 'disclosedQty must be a number' })
    .int({ error: 'disclosedQty must be a whole number' })
    .nonnegative({ error: 'disclosedQty must not be negative' })
    .default(0),
  price: decimalString('price'),
  triggerPrice: decimalString('triggerPrice').default('0'),
  rmsCode: code('rmsCode', 'ANY').default('ANY'),
  afterHour: z
    .enum(AFTER_HOUR, { error: oneOf('afterHour', AFTER_HOUR) })
    .default('N'),
  orderType: code('orderType', 'NORMAL').default('NORMAL'),
  channelUser: z
    .string({ error: 'channelUser must be the ShareKhan login id as a string' })
    .trim()
    .min(1, { error: 'channelUser (login id) must not be empty' })
    .max(64, { error: 'channelUser must be at most 64 characters' }),
  validity: code('validity', 'GFD').default('GFD'),
  requestType: requestTypeSchema,
  productType: productTypeSchema,
  instrumentType: code('instrumentType', 'FUTIDX').optional(),
  strikePrice: decimalString('strikePrice').optional(),
  optionType: optionTypeSchema.optional(),
  expiry: expirySchema.optional(),
  orderId: z
    .string({ error: 'orderId must be the broker order id as a string' })
    .regex(/^[A-Za-z0-9_-]{1,64}$/, {
      error: 'orderId must be 1-64 letters or digits',
    })
    .optional(),
};

/** Strict: a misspelt field is an error, not silently dropped and defaulted. */
export const orderSchema = z
  .object(orderShape)
  .strict()
  .superRefine((order, ctx) => {
    const needsOrderId = order.requestType !== 'NEW';
    if (needsOrderId && !order.orderId) {
      ctx.addIssue({
        code: 'custom',
        path: ['orderId'],
        message: `orderId is required when requestType is ${order.requestType}`,
      });
    }
    if (!needsOrderId && order.orderId) {
      ctx.addIssue({
        code: 'custom',
        path: ['orderId'],
        message: 'orderId must not be sent with requestType NEW',
      });
    }
    if (order.disclosedQty > order.quantity) {
      ctx.addIssue({
        code: 'custom',
        path: ['disclosedQty'],
        message: 'disclosedQty must not exceed quantity',
      });
    }
    if (DERIVATIVE_EXCHANGES.includes(order.exchange)) {
      for (const field of [
        'instrumentType',
        'strikePrice',
        'optionType',
        'expiry',
      ] as const) {
        if (order[field] === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: `${field} is required for ${order.exchange} (derivatives) orders`,
          });
        }
      }
    }
    if (
      (order.optionType === 'CE' || order.optionType === 'PE') &&
      order.strikePrice !== undefined &&
      Number(order.strikePrice) <= 0
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['strikePrice'],
        message: 'strikePrice must be greater than 0 for CE/PE options',
      });
    }
  });

/** What callers send (defaults may be omitted). */
export type OrderInput = z.input<typeof orderSchema>;
/** What goes to the broker (defaults filled in). */
export type Order = z.output<typeof orderSchema>;

export type OrderParseResult =
  | { ok: true; order: Order }
  | { ok: false; message: string; issues: { path: string; message: string }[] };

/** Validation for request bodies: a message fit for a 400 response. */
export function parseOrder(input: unknown): OrderParseResult {
  const result = orderSchema.safeParse(input);
  if (result.success) return { ok: true, order: result.data };
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || 'order',
    message:
      issue.code === 'invalid_type' && issue.path.length === 0
        ? 'order must be a JSON object'
        : issue.message,
  }));
  return {
    ok: false,
    message: `invalid order: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    issues,
  };
}
