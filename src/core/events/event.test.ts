// Events are checked and normalised before anything is stored: integers become bigint, and every
// bad input is refused naming its field.
import { describe, expect, it } from 'vitest';
import { normaliseEvent, type EventInput } from './event.js';

const purchase: EventInput = {
  externalId: 'order-1', type: 'purchase',
  lines: [{ sku: 'LATTE-L', category: 'coffee', quantity: 2, unitPrice: 1250 }, { sku: 'BEANS-1KG', quantity: 1, unitPrice: 999, discount: 100 }],
};
const refused = (input: Partial<EventInput> & Record<string, unknown>, field: string) =>
  expect(() => normaliseEvent(input as EventInput)).toThrow(expect.objectContaining({ code: 'validation', field }));

describe('a purchase event', () => {
  it('is normalised with integer amounts as bigint and defaults filled', () => {
    expect(normaliseEvent({ ...purchase, paidWithPoints: 1000, occurredAt: '2026-03-01T09:30:00+01:00' })).toEqual({
      kind: 'purchase', type: 'purchase', externalId: 'order-1', occurredAt: new Date('2026-03-01T08:30:00Z'),
      channel: null, location: null, currency: null, orderId: null, attributes: {}, paidWithPoints: 1000n, pointsHoldId: null,
      lines: [
        { sku: 'LATTE-L', category: 'coffee', quantity: 2n, unitPrice: 1250n, discount: 0n },
        { sku: 'BEANS-1KG', category: null, quantity: 1n, unitPrice: 999n, discount: 100n },
      ],
    });
  });

  it.each([
    ['no lines', { lines: undefined }, 'lines'],
    ['an empty list of lines', { lines: [] }, 'lines'],
    ['a pointsHoldId that is not an id', { pointsHoldId: 'hold-1' }, 'pointsHoldId'],
    ['a line without a price', { lines: [{ sku: 'A', quantity: 1 }] }, 'lines[0].unitPrice'],
    ['a fractional quantity', { lines: [{ sku: 'A', quantity: 1.5, unitPrice: 100 }] }, 'lines[0].quantity'],
    ['a zero quantity', { lines: [{ sku: 'A', quantity: 0, unitPrice: 100 }] }, 'lines[0].quantity'],
    ['a negative price', { lines: [{ sku: 'A', quantity: 1, unitPrice: -1 }] }, 'lines[0].unitPrice'],
    ['a discount above the line', { lines: [{ sku: 'A', quantity: 2, unitPrice: 100, discount: 201 }] }, 'lines[0].discount'],
    ['a sku twice', { lines: [{ sku: 'A', quantity: 1, unitPrice: 1 }, { sku: 'A', quantity: 1, unitPrice: 2 }] }, 'lines[1].sku'],
    ['a line over 10^12', { lines: [{ sku: 'A', quantity: 1_000_000, unitPrice: 1_000_000_000_000 }] }, 'lines[0].quantity'],
    ['an order over 10^12', { lines: [{ sku: 'A', quantity: 1, unitPrice: 900_000_000_000 }, { sku: 'B', quantity: 1, unitPrice: 900_000_000_000 }] }, 'lines'],
    ['more paid with points than the order', { paidWithPoints: 3400 }, 'paidWithPoints'],
    ['a refund amount', { refundAmount: 5 }, 'refundAmount'],
    ['a purchase reference', { purchaseExternalId: 'x' }, 'purchaseExternalId'],
    ['a NUL in a sku', { lines: [{ sku: 'A\u0000', quantity: 1, unitPrice: 1 }] }, 'lines[0].sku'],
    ['an unpaired surrogate', { orderId: 'x\ud800' }, 'orderId'],
    ['a date before 1970', { occurredAt: '0000-01-01T00:00:00Z' }, 'occurredAt'],
    ['a leap second', { occurredAt: '2026-06-30T23:59:60Z' }, 'occurredAt'],
    ['a lower-case currency', { currency: 'eur' }, 'currency'],
    ['attributes that are a list', { attributes: [1] as unknown as Record<string, unknown> }, 'attributes'],
    ['attributes nested too deep', { attributes: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } }, 'attributes'],
    ['an empty external id', { externalId: ' ' }, 'externalId'],
    ['an upper-case type', { type: 'Purchase' }, 'type'],
  ])('refuses %s', (_name, change, field) => refused({ ...purchase, ...change }, field));
});

describe('a return event', () => {
  it('gives lines or an amount, not both and not neither', () => {
    expect(normaliseEvent({ externalId: 'r-1', type: 'return', purchaseExternalId: 'order-1', lines: [{ sku: 'A', quantity: 1 }] }))
      .toMatchObject({ kind: 'return', lines: [{ sku: 'A', quantity: 1n }], refundAmount: null });
    expect(normaliseEvent({ externalId: 'r-1', type: 'return', purchaseExternalId: 'order-1', refundAmount: 500 }))
      .toMatchObject({ kind: 'return', lines: null, refundAmount: 500n });
    refused({ externalId: 'r-1', type: 'return', purchaseExternalId: 'order-1' }, 'lines');
    refused({ externalId: 'r-1', type: 'return', purchaseExternalId: 'order-1', refundAmount: 5, lines: [{ sku: 'A', quantity: 1 }] }, 'lines');
  });

  it('names its purchase, and takes its prices from it', () => {
    refused({ externalId: 'r-1', type: 'return', refundAmount: 5 }, 'purchaseExternalId');
    refused({ externalId: 'r-1', type: 'return', purchaseExternalId: 'o', lines: [{ sku: 'A', quantity: 1, unitPrice: 5 }] }, 'lines[0].unitPrice');
    refused({ externalId: 'r-1', type: 'return', purchaseExternalId: 'o', refundAmount: 0 }, 'refundAmount');
    refused({ externalId: 'r-1', type: 'return', purchaseExternalId: 'o', refundAmount: 5, paidWithPoints: 1 }, 'paidWithPoints');
  });
});

describe('a custom action', () => {
  it('is any lower-case name, with attributes and no lines', () => {
    expect(normaliseEvent({ externalId: 'rev-9', type: 'review', attributes: { rating: 5 }, channel: 'app' }))
      .toMatchObject({ kind: 'action', type: 'review', attributes: { rating: 5 }, channel: 'app' });
    refused({ externalId: 'rev-9', type: 'review', lines: [{ sku: 'A', quantity: 1 }] }, 'lines');
    refused({ externalId: 'rev-9', type: 'survey-completed' }, 'type');
    refused({ externalId: 'rev-9', type: `a${'b'.repeat(64)}` }, 'type');
  });
});
