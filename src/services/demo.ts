// The demo program `npm start` creates on an empty database: a coffee brand with earning rules,
// a tier ladder, three members and two months of history, so every balance, lot, entry kind and rule has an example.
import { DateTime } from 'luxon';
import { DAY_MS, ManualClock } from '../core/clock.js';
import type { Laurel } from './context.js';
import { ingestEvent } from './events.js';
import { adjust, captureHold, createHold, earn, redeem } from './ledger.js';
import { createMember } from './members.js';
import { createReward } from './rewards.js';
import { createCampaign, createRule } from './rules.js';
import { createProgram, createTenant, type Program, type Tenant } from './tenants.js';
import { putLadder } from './tiers.js';
import { settleDue } from '../db/settlement.js';

export interface Demo {
  tenant: Tenant;
  program: Program;
  members: { name: string; memberId: string }[];
}

export async function hasData(laurel: Laurel): Promise<boolean> {
  return (await laurel.db.selectFrom('tenants').select('tenant_id').limit(1).execute()).length > 0;
}

export async function seedDemo(laurel: Laurel): Promise<Demo> {
  const now = laurel.clock.now();
  // History is written with a clock that starts on the Wednesday about 60 days ago and walks to
  // today: a weekday, so weekend rules give the same points whatever day the demo is seeded.
  const clock = new ManualClock(DateTime.fromJSDate(new Date(now.getTime() - 60 * DAY_MS), { zone: 'Europe/Paris' }).set({ weekday: 3 }).toJSDate());
  const past: Laurel = { ...laurel, clock };
  const tenant = await createTenant(past, { name: 'Laurel Demo Coffee', timeZone: 'Europe/Paris', currency: 'EUR' });
  const program = await createProgram(past, tenant.tenantId, {
    name: 'Demo Rewards', enrollmentMode: 'universal',
    wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'status', kind: 'qualifying' }],
    returnWindowDays: 14, expiry: { kind: 'rolling', months: 12 }, negativeBalance: 'debt',
    // 100 points pay €1 at the till
    pointValue: { points: 100n, minor: 100n },
  });
  const t = tenant.tenantId;
  const rule = (definition: Record<string, unknown>, campaignId?: string) =>
    createRule(past, t, program.programId, { ...definition, ...(campaignId ? { campaignId } : {}) }, { actor: 'demo' });
  const bonuses = await createCampaign(past, t, program.programId, { name: 'Bonuses', perMember: [{ period: 'month', points: 2000 }] });
  await rule({ name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
  await rule({ name: 'Tier multiplier', trigger: 'purchase', effect: { type: 'tier_multiplier' } }, bonuses.campaignId);
  await rule({
    name: 'Welcome: 100 on the first purchase', trigger: 'purchase', condition: 'member.stats.purchases == 0',
    effect: { type: 'fixed_points', points: 100 },
  }, bonuses.campaignId);
  await rule({
    name: 'Pastries 3x at weekends', trigger: 'purchase', condition: 'time.weekend',
    effect: { type: 'multiplier', factor: 3, categories: ['pastry'] },
  }, bonuses.campaignId);
  await rule({ name: 'Review: 50 points', trigger: 'review', effect: { type: 'fixed_points', points: 50 }, limits: { perMember: [{ period: 'month', times: 2 }] } });
  await putLadder(past, t, program.programId, {
    metric: 'points', window: { kind: 'calendar_year' }, graceDays: 30,
    tiers: [
      { code: 'member', name: 'Member', threshold: 0 },
      { code: 'silver', name: 'Silver', threshold: 500, benefits: { earnMultiplier: '1.5', upgradeBonus: 50, flags: ['free_shipping'] } },
      { code: 'gold', name: 'Gold', threshold: 2000, benefits: { earnMultiplier: '2', upgradeBonus: 200, flags: ['free_shipping', 'early_access'] } },
    ],
  }, { actor: 'demo' });
  const reward = (definition: Record<string, unknown>) => createReward(past, t, program.programId, definition);
  await reward({ code: 'free-coffee', name: 'A free large latte', value: { type: 'free_product', sku: 'LATTE-L' }, cost: 150, perMember: [{ period: 'week', times: 1 }] });
  await reward({ code: 'five-off', name: '€5 off your order', value: { type: 'fixed_discount', amount: 500 }, cost: 500 });
  await reward({ code: 'free-shipping', name: 'Free shipping', value: { type: 'free_shipping' }, cost: 100, channels: ['web'] });
  await reward({ code: 'tasting', name: 'Coffee tasting class', value: { type: 'experience', startsAt: '2027-02-06T10:00:00+01:00', location: 'Paris 11e' }, cost: 1000, stock: 12, tiers: ['gold'] });
  await reward({ code: 'plant-a-tree', name: 'Plant a tree with us', value: { type: 'donation', amount: 200, charity: 'Reforest Now' }, cost: 200 });
  const people = [
    { name: 'Alice', email: 'alice@example.com', cardCode: 'CARD-0001' },
    { name: 'Bob', email: 'bob@example.com', cardCode: 'CARD-0002' },
    { name: 'Carol', email: 'carol@example.com', cardCode: 'CARD-0003' },
  ];
  const members = [];
  for (const p of people) {
    const m = await createMember(past, tenant.tenantId, {
      programId: program.programId, externalId: p.name.toLowerCase(), email: p.email, cardCode: p.cardCode,
      attributes: { firstName: p.name }, ...(p.name === 'Alice' ? { tier: 'gold' } : {}),
    });
    members.push({ name: p.name, memberId: m.memberId });
  }
  const key = (s: string) => `demo-${s}`;
  const [alice, bob, carol] = members.map((m) => m.memberId) as [string, string, string];
  const purchase = (memberId: string, externalId: string, lines: { sku: string; category: string; quantity: number; unitPrice: number }[]) =>
    ingestEvent(past, t, { programId: program.programId, memberId, externalId, type: 'purchase', channel: 'store', location: 'paris-01', lines });
  await purchase(alice, 'order-1001', [
    { sku: 'BEANS-1KG', category: 'coffee', quantity: 8, unitPrice: 2000 }, { sku: 'CROISSANT', category: 'pastry', quantity: 2, unitPrice: 120 },
  ]);
  await earn(past, { tenantId: t, memberId: alice, wallet: 'status', amount: 420, ref: 'order-1001', idempotencyKey: key('1s') });
  await purchase(bob, 'order-1002', [{ sku: 'LATTE-L', category: 'coffee', quantity: 10, unitPrice: 450 }]);
  await ingestEvent(past, t, { programId: program.programId, memberId: bob, externalId: 'review-1', type: 'review', attributes: { rating: 5 } });
  clock.advance(20 * DAY_MS);
  await settleDue(past.db, clock.now());
  await redeem(past, { tenantId: t, memberId: alice, amount: 200, ref: 'reward-free-coffee', idempotencyKey: key('3') });
  await purchase(carol, 'order-1003', [{ sku: 'BEANS-250G', category: 'coffee', quantity: 1, unitPrice: 890 }]);
  clock.advance(30 * DAY_MS);
  await settleDue(past.db, clock.now());
  const hold = await createHold(past, { tenantId: t, memberId: bob, amount: 100, ttlSeconds: 900, ref: 'checkout-77', idempotencyKey: key('5') });
  await captureHold(past, { tenantId: t, holdId: hold.hold!.holdId, idempotencyKey: key('6') });
  await adjust(past, { tenantId: t, memberId: carol, amount: 50, reason: 'welcome gesture', actor: 'demo', idempotencyKey: key('7') });
  await purchase(alice, 'order-1004', [{ sku: 'MUG', category: 'merch', quantity: 1, unitPrice: 950 }]);
  await settleDue(laurel.db, now);
  return { tenant, program, members };
}
