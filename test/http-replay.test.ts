// A retry with the same Idempotency-Key (or an event's externalId) answers the first response
// byte for byte: same status, same content type, same bytes. A client that hashes or compares
// answers sees one answer per request, whatever the keys' order in the free-form JSON it sent.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, idemKey, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { expectVerified } from './support/laurel.js';

let laurel: TestLaurel;
let app: FastifyInstance;
let t: TestTenant;

beforeAll(async () => {
  ({ laurel, app } = await openTestApp());
  t = await newTenant(laurel);
});

afterAll(async () => {
  await app.close();
  await laurel.close();
});

/** Keys in an order jsonb would not keep (it sorts by length, then bytes), nested and with numbers of several sizes. */
const attributes = { zeta: 1, a: { yy: [3, { b: 2, aa: 1 }], x: 'é' }, middle: 10_000_000_000, bb: null };

async function twice(method: 'POST', url: string, body: unknown, key: string | false = idemKey()) {
  const first = await call(app, { method, url, key: t.keys.admin, body, idempotencyKey: key });
  const again = await call(app, { method, url, key: t.keys.admin, body, idempotencyKey: key });
  expect(first.statusCode, first.body).toBeLessThan(300);
  expect([again.statusCode, again.headers['content-type'], again.body]).toEqual([first.statusCode, first.headers['content-type'], first.body]);
  return first.json();
}

describe('an idempotent replay', () => {
  it('is byte-identical to the first answer for members, events, adjustments, holds, captures and redemptions', async () => {
    const member = await twice('POST', '/v1/members', { programId: t.program.programId, externalId: 'replay-1', attributes });
    const m = member.memberId as string;
    await twice('POST', '/v1/events', {
      programId: t.program.programId, externalId: 'replay-order-1', type: 'purchase', memberId: m,
      lines: [{ sku: 'LATTE-L', quantity: 2, unitPrice: 1250 }], attributes,
    }, false);
    await twice('POST', `/v1/members/${m}/adjustments`, { amount: 500, reason: 'replay' });
    const hold = await twice('POST', `/v1/members/${m}/holds`, { amount: 100, ttlSeconds: 600 });
    await twice('POST', `/v1/holds/${hold.hold.holdId}/capture`, {});
    await twice('POST', `/v1/members/${m}/redemptions`, { amount: 50 });
    await expectVerified(laurel, t.tenantId);
  });
});
