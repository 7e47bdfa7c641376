// The README's two walkthroughs, over HTTP against the demo program: a sale at the till paid
// partly with points and partly returned, and a web checkout with a reserved reward. The numbers
// asserted are the ones the README prints; `verify` checks the ledger after each.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/http/app.js';
import { createApiKey } from '../src/services/api-keys.js';
import { seedDemo } from '../src/services/demo.js';
import { call } from './support/http.js';
import { expectVerified, lotsOf, openTestLaurel } from './support/laurel.js';

type TestLaurel = Awaited<ReturnType<typeof openTestLaurel>>;
let laurel: TestLaurel;
let app: FastifyInstance;
let key: string;
let tenantId: string;
let programId: string;

// The day the README's figures were taken: the demo's history (60 days back) falls on the same weekdays.
beforeAll(async () => {
  laurel = await openTestLaurel('2026-11-24T12:00:00Z');
  app = await buildApp(laurel, { logger: false, rateLimitPerMinute: 1_000_000 });
  const demo = await seedDemo(laurel);
  tenantId = demo.tenant.tenantId;
  programId = demo.program.programId;
  key = (await createApiKey(laurel, tenantId, { name: 'till', scopes: ['admin'] })).secret;
});
afterAll(async () => { await laurel.close(); });

async function ok(r: Promise<Awaited<ReturnType<typeof call>>>, status = 200) {
  const res = await r;
  expect(res.statusCode, res.body).toBe(status);
  return res.json();
}

const BASKET = [
  { sku: 'BEANS-1KG', category: 'coffee', quantity: 1, unitPrice: 2400 },
  { sku: 'MUG', category: 'merch', quantity: 1, unitPrice: 950 },
];

describe('the README walkthroughs', () => {
  it('at the till: card → quote → points held → sale capturing them and earning on the money → partial return → balances, lots, verify', async () => {
    const bob = (await ok(call(app, { method: 'GET', url: `/v1/members/lookup?programId=${programId}&cardCode=CARD-0002`, key }))).memberId;
    expect((await ok(call(app, { method: 'POST', url: '/v1/quotes', key, body: { programId, member: { cardCode: 'CARD-0002' }, lines: BASKET } }))).points).toBe(33);
    expect(await ok(call(app, { method: 'POST', url: '/v1/checkout/points-quote', key, body: { memberId: bob, amount: 3350 } })))
      .toMatchObject({ available: 95, points: 95, money: 95, pointValue: { points: 100, minor: 100 } });
    const hold = (await ok(call(app, { method: 'POST', url: `/v1/members/${bob}/holds`, key, idempotencyKey: 'till-77-points', body: { amount: 95, ttlSeconds: 600, ref: 'till-77' } }), 201)).hold.holdId;
    const sale = await ok(call(app, {
      method: 'POST', url: '/v1/events', key, idempotencyKey: false,
      body: { programId, externalId: 'till-77', type: 'purchase', member: { cardCode: 'CARD-0002' }, channel: 'store', location: 'paris-01', pointsHoldId: hold, lines: BASKET },
    }), 201);
    expect(sale).toMatchObject({ points: 32, event: { total: 3255, paidWithPoints: 95, pointsPaid: 95 } });
    const back = await ok(call(app, {
      method: 'POST', url: '/v1/events', key, idempotencyKey: false,
      body: { programId, externalId: 'till-77-return', type: 'return', purchaseExternalId: 'till-77', lines: [{ sku: 'MUG', quantity: 1 }] },
    }), 201);
    expect(back).toMatchObject({ points: -9, event: { refundAmount: 923, pointsPaid: -26 }, ledger: { balances: [{ available: 26, pending: 23, held: 0 }] } });
    const journal = await ok(call(app, { method: 'GET', url: `/v1/members/${bob}/journal?limit=5`, key }));
    expect(journal.data.map((e: { kind: string; amount: number }) => `${e.kind} ${e.amount}`)).toEqual(['reverse 26', 'reverse 9', 'earn 32', 'redeem 95', 'hold 95']);
    // the 26 points went back to the lots the 95 came from; the sale's lot keeps 32 − 9, pending
    const lots = await lotsOf(laurel, tenantId, bob);
    expect(lots.reduce((s, l) => s + (l.pending ? 0n : l.remaining), 0n)).toBe(26n);
    expect(lots.filter((l) => l.pending).map((l) => [l.amount, l.remaining])).toEqual([[32n, 23n]]);
    await expectVerified(laurel, tenantId);
  });

  it('online: the member view → a reward reserved at checkout → validated → points held → order consumes and captures → partial return', async () => {
    const alice = (await ok(call(app, { method: 'GET', url: `/v1/members/lookup?programId=${programId}&email=alice@example.com`, key }))).memberId;
    const token = (await ok(call(app, { method: 'POST', url: `/v1/members/${alice}/tokens`, key, body: {} }), 201)).token;
    const view = await ok(call(app, { method: 'GET', url: `/v1/members/${alice}/rewards?channel=web`, key: token }));
    expect([view.available, ...view.data.map((x: { reward: { code: string }; redeemable: boolean; locks: { detail: string }[] }) =>
      x.reward.code + (x.redeemable ? '' : ` — ${x.locks.map((l) => l.detail).join(', ')}`))]).toEqual([
      224, 'free-shipping', 'free-coffee', 'plant-a-tree', 'five-off — 276 points missing', 'tasting — 776 points missing',
    ]);
    const rewards = await ok(call(app, { method: 'GET', url: `/v1/programs/${programId}/rewards`, key }));
    const shipping = rewards.data.find((r: { code: string }) => r.code === 'free-shipping').rewardId;
    const redeemed = await ok(call(app, {
      method: 'POST', url: `/v1/members/${alice}/rewards/${shipping}/redeem`, key: token, idempotencyKey: 'web-9-shipping', body: { channel: 'web', holdSeconds: 900 },
    }), 201);
    const code = redeemed.instance.code;
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(await ok(call(app, { method: 'POST', url: '/v1/reward-instances/validate', key, body: { code } })))
      .toMatchObject({ usable: true, reward: { code: 'free-shipping' }, instance: { status: 'reserved' } });
    const quote = await ok(call(app, { method: 'POST', url: '/v1/checkout/points-quote', key, body: { memberId: alice, amount: 4800 } }));
    expect(quote.points).toBe(124);
    const hold = (await ok(call(app, { method: 'POST', url: `/v1/members/${alice}/holds`, key, idempotencyKey: 'web-9-points', body: { amount: quote.points, ttlSeconds: 900, ref: 'web-9' } }), 201)).hold.holdId;
    expect(await ok(call(app, { method: 'POST', url: '/v1/reward-instances/consume', key, idempotencyKey: 'web-9-consume', body: { code, orderRef: 'web-9' } })))
      .toMatchObject({ instance: { status: 'consumed', consumedRef: 'web-9' } });
    const sale = await ok(call(app, {
      method: 'POST', url: '/v1/events', key, idempotencyKey: false,
      body: { programId, externalId: 'web-9', type: 'purchase', channel: 'web', member: { email: 'alice@example.com' }, pointsHoldId: hold, lines: [{ sku: 'BEANS-1KG', category: 'coffee', quantity: 2, unitPrice: 2400 }] },
    }), 201);
    expect(sale).toMatchObject({ points: 92, event: { total: 4676, paidWithPoints: 124 } });
    const back = await ok(call(app, {
      method: 'POST', url: '/v1/events', key, idempotencyKey: false,
      body: { programId, externalId: 'web-9-return', type: 'return', purchaseExternalId: 'web-9', lines: [{ sku: 'BEANS-1KG', quantity: 1 }] },
    }), 201);
    expect(back).toMatchObject({ points: -46, event: { refundAmount: 2338, pointsPaid: -62 } });
    // a second consume of the same code is refused
    const again = await call(app, { method: 'POST', url: '/v1/reward-instances/consume', key, body: { code, orderRef: 'web-10' } });
    expect(again.statusCode).toBe(409);
    await expectVerified(laurel, tenantId);
  });
});

describe('earning on the part paid with points, over HTTP', () => {
  it('the program setting earnOnPaidWithPoints is documented, off by default, switched by PATCH, refused when not a boolean, and quotes follow it', async () => {
    const doc = (await call(app, { method: 'GET', url: '/openapi.json' })).json();
    const patch = doc.paths['/v1/programs/{programId}'].patch;
    expect(patch.requestBody.content['application/json'].schema.properties.earnOnPaidWithPoints).toMatchObject({ type: 'boolean' });
    expect((await ok(call(app, { method: 'GET', url: `/v1/programs/${programId}`, key }))).earnOnPaidWithPoints).toBe(false);
    const basket = { programId, member: { cardCode: 'CARD-0002' }, lines: BASKET, paidWithPoints: 950 };
    const before = (await ok(call(app, { method: 'POST', url: '/v1/quotes', key, body: basket }))).points;
    expect((await ok(call(app, { method: 'PATCH', url: `/v1/programs/${programId}`, key, body: { earnOnPaidWithPoints: true } }))).earnOnPaidWithPoints).toBe(true);
    try {
      // the €9.50 paid with points now earn at the demo's rate of a point per euro too
      expect((await ok(call(app, { method: 'POST', url: '/v1/quotes', key, body: basket }))).points).toBeGreaterThan(before);
      const bad = await call(app, { method: 'PATCH', url: `/v1/programs/${programId}`, key, body: { earnOnPaidWithPoints: 'yes' } });
      expect(bad.statusCode).toBe(400);
      expect(bad.body).toContain('earnOnPaidWithPoints');
    } finally {
      await ok(call(app, { method: 'PATCH', url: `/v1/programs/${programId}`, key, body: { earnOnPaidWithPoints: false } }));
    }
  });
});
