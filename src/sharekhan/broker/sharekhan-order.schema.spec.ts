import { parseOrder } from './sharekhan-order.schema.js';
import { SAMPLE_ORDER } from '../../../test/fixtures/orders.js';

const cash = { ...SAMPLE_ORDER, customerId: '1234567', channelUser: 'LOGIN1' };

const future = {
  ...cash,
  exchange: 'NF',
  scripCode: 35001,
  tradingSymbol: 'NIFTY',
  instrumentType: 'FUTIDX',
  strikePrice: '0',
  optionType: 'XX',
  expiry: '27/11/2025',
};

describe('parseOrder', () => {
  it('accepts a cash order and fills the documented defaults', () => {
    const r = parseOrder(cash);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.order).toMatchObject({
        disclosedQty: 0,
        triggerPrice: '0',
        rmsCode: 'ANY',
        afterHour: 'N',
        orderType: 'NORMAL',
        validity: 'GFD',
      });
    }
  });

  it('accepts a futures order with the contract fields', () => {
    expect(parseOrder(future).ok).toBe(true);
  });

  it.each([
    ['not an object', 'x', /order must be a JSON object/],
    [
      'bad exchange',
      { ...cash, exchange: 'NSE' },
      /exchange must be one of NC, BC, NF, RN, MX/,
    ],
    [
      'a newline in tradingSymbol (it would forge a log line)',
      { ...cash, tradingSymbol: 'RELIANCE\n[Orders] Order placed for MASTER_USER_001' },
      /tradingSymbol must not contain line breaks or control characters/,
    ],
    [
      'a control character in tradingSymbol',
      { ...cash, tradingSymbol: 'REL\u001b[31mIANCE' },
      /tradingSymbol must not contain line breaks or control characters/,
    ],
    [
      'bad transaction type',
      { ...cash, transactionType: 'BUY' },
      /transactionType must be one of/,
    ],
    [
      'bad product type',
      { ...cash, productType: 'CNC' },
      /productType must be one of/,
    ],
    [
      'numeric price',
      { ...cash, price: 2500.5 },
      /price must be a decimal string/,
    ],
    [
      'zero quantity',
      { ...cash, quantity: 0 },
      /quantity must be greater than 0/,
    ],
    [
      'fractional quantity',
      { ...cash, quantity: 1.5 },
      /quantity must be a whole number/,
    ],
    ['missing channelUser', { ...cash, channelUser: undefined }, /channelUser/],
    ['unknown field', { ...cash, triggerprice: '1' }, /triggerprice/],
    [
      'MODIFY without orderId',
      { ...cash, requestType: 'MODIFY' },
      /orderId is required when requestType is MODIFY/,
    ],
    [
      'NEW with orderId',
      { ...cash, orderId: '123' },
      /orderId must not be sent with requestType NEW/,
    ],
    [
      'F&O without expiry',
      { ...future, expiry: undefined },
      /expiry is required for NF/,
    ],
    [
      'impossible expiry',
      { ...future, expiry: '31/02/2025' },
      /expiry must be a real date/,
    ],
    [
      'bad option type',
      { ...future, optionType: 'CALL' },
      /optionType must be one of XX, PE, CE/,
    ],
    [
      'option without strike',
      { ...future, optionType: 'CE' },
      /strikePrice must be greater than 0/,
    ],
    [
      'disclosed > quantity',
      { ...cash, disclosedQty: 5 },
      /disclosedQty must not exceed quantity/,
    ],
  ])(
    'rejects %s with a message saying what is wrong',
    (_name, input, pattern) => {
      const r = parseOrder(input);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toMatch(pattern);
    },
  );

  it('accepts CANCEL with an orderId', () => {
    expect(
      parseOrder({ ...cash, requestType: 'CANCEL', orderId: '998877' }).ok,
    ).toBe(true);
  });
});
