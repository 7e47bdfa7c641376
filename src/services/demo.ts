// The demo program `npm start` creates on an empty database: a coffee brand with three
// members and two months of history, so every balance, lot and entry kind has an example.
import { DAY_MS, ManualClock } from '../core/clock.js';
import type { Laurel } from './context.js';
import { adjust, captureHold, createHold, earn, redeem } from './ledger.js';
import { createMember } from './members.js';
import { createProgram, createTenant, type Program, type Tenant } from './tenants.js';
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
  // History is written with a clock that starts 60 days ago and walks to today.
  const clock = new ManualClock(new Date(now.getTime() - 60 * DAY_MS));
  const past: Laurel = { ...laurel, clock };
  const tenant = await createTenant(past, { name: 'Laurel Demo Coffee', timeZone: 'Europe/Paris', currency: 'EUR' });
  const program = await createProgram(past, tenant.tenantId, {
    name: 'Demo Rewards', enrollmentMode: 'universal',
    wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'status', kind: 'qualifying' }],
    returnWindowDays: 14, expiry: { kind: 'rolling', months: 12 }, negativeBalance: 'debt',
  });
  const people = [
    { name: 'Alice', email: 'alice@example.com', cardCode: 'CARD-0001' },
    { name: 'Bob', email: 'bob@example.com', cardCode: 'CARD-0002' },
    { name: 'Carol', email: 'carol@example.com', cardCode: 'CARD-0003' },
  ];
  const members = [];
  for (const p of people) {
    const m = await createMember(past, tenant.tenantId, {
      programId: program.programId, externalId: p.name.toLowerCase(), email: p.email, cardCode: p.cardCode,
      attributes: { firstName: p.name },
    });
    members.push({ name: p.name, memberId: m.memberId });
  }
  const t = tenant.tenantId;
  const key = (s: string) => `demo-${s}`;
  const [alice, bob, carol] = members.map((m) => m.memberId) as [string, string, string];
  await earn(past, { tenantId: t, memberId: alice, amount: 420, ref: 'order-1001', idempotencyKey: key('1') });
  await earn(past, { tenantId: t, memberId: alice, wallet: 'status', amount: 420, ref: 'order-1001', idempotencyKey: key('1s') });
  await earn(past, { tenantId: t, memberId: bob, amount: 150, ref: 'order-1002', idempotencyKey: key('2') });
  clock.advance(20 * DAY_MS);
  await settleDue(past.db, clock.now());
  await redeem(past, { tenantId: t, memberId: alice, amount: 200, ref: 'reward-free-coffee', idempotencyKey: key('3') });
  await earn(past, { tenantId: t, memberId: carol, amount: 80, ref: 'order-1003', idempotencyKey: key('4') });
  clock.advance(30 * DAY_MS);
  await settleDue(past.db, clock.now());
  const hold = await createHold(past, { tenantId: t, memberId: bob, amount: 100, ttlSeconds: 900, ref: 'checkout-77', idempotencyKey: key('5') });
  await captureHold(past, { tenantId: t, holdId: hold.hold!.holdId, idempotencyKey: key('6') });
  await adjust(past, { tenantId: t, memberId: carol, amount: 50, reason: 'welcome gesture', actor: 'demo', idempotencyKey: key('7') });
  await earn(past, { tenantId: t, memberId: alice, amount: 95, ref: 'order-1004', idempotencyKey: key('8') });
  await settleDue(laurel.db, now);
  return { tenant, program, members };
}
