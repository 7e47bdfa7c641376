// A delivery's retry schedule and outcomes, by hand.
import { describe, expect, it } from 'vitest';
import { MAX_ATTEMPTS, messageBody, outcomeOf, retryDelayMs } from './delivery.js';

const AT = new Date('2026-01-15T10:00:00Z');
const later = (ms: number) => new Date(AT.getTime() + ms);

describe('retries', () => {
  it('wait 30 s after the first failure, doubling, at most 6 h', () => {
    const seconds = Array.from({ length: MAX_ATTEMPTS - 1 }, (_, i) => retryDelayMs(i + 1) / 1000);
    expect(seconds).toEqual([30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600, 21600]);
    // from the first attempt to the last: 30 s × (2^10 − 1) + 4 × 6 h ≈ 32.5 h
    expect(seconds.reduce((a, b) => a + b, 0)).toBe(30 * 1023 + 4 * 21600);
  });

  it('a 2xx delivers; anything else is retried, until the 15th attempt fails and the delivery is given up', () => {
    expect(outcomeOf(3, { statusCode: 204, error: null }, AT)).toEqual({ status: 'delivered', nextAttemptAt: null, deliveredAt: AT });
    expect(outcomeOf(1, { statusCode: 500, error: 'HTTP 500' }, AT)).toEqual({ status: 'pending', nextAttemptAt: later(30_000), deliveredAt: null });
    expect(outcomeOf(2, { statusCode: 301, error: 'HTTP 301' }, AT)).toEqual({ status: 'pending', nextAttemptAt: later(60_000), deliveredAt: null });
    expect(outcomeOf(14, { statusCode: null, error: 'ECONNREFUSED' }, AT)).toEqual({ status: 'pending', nextAttemptAt: later(21_600_000), deliveredAt: null });
    expect(outcomeOf(15, { statusCode: 404, error: 'HTTP 404' }, AT)).toEqual({ status: 'failed', nextAttemptAt: null, deliveredAt: null });
    expect(outcomeOf(15, { statusCode: 200, error: null }, AT).status).toBe('delivered');
  });
});

describe('messageBody', () => {
  it('is type, timestamp (when the message was made) and data', () => {
    expect(messageBody({ messageId: 'm', type: 'points.expiring', createdAt: AT, payload: { points: 50 } }))
      .toBe('{"type":"points.expiring","timestamp":"2026-01-15T10:00:00.000Z","data":{"points":50}}');
  });
});
