// Households against the database: joining brings a member's points (pending ones too, with
// their dates), members earn into the pool through the event path, only members allowed spend,
// leaving takes nothing, the pool's journal names who earned and who spent, two members spending
// the last points at once (PostgreSQL): exactly one succeeds. A return of a purchase whose points
// went into the pool takes them back from the pool, even after the member left, and a return
// racing a spend never overdraws beyond the debt policy (PostgreSQL). A property runs random
// sequences of joins, earnings, returns, spends and leaves, each ending with `laurel verify`.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/errors.js';
import { dashboard } from '../src/db/dashboard.js';
import { listOutbox } from '../src/db/jobs.js';
import { listMembers, searchMembers } from '../src/services/members.js';
import { settleDue } from '../src/db/settlement.js';
import { ingestEvent } from '../src/services/events.js';
import { createRule } from '../src/services/rules.js';
import {
  createHousehold, getMemberHousehold, householdJournal, leaveHousehold, putHouseholdMember, spendFromHousehold,
} from '../src/services/households.js';
import { adjust, getBalance, redeem, reverseEntry } from '../src/services/ledger.js';
import { expectVerified, key, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2026-04-01T10:00:00Z', {}, 30); });
afterAll(async () => { await laurel.close(); });

/** A program earning 1 point per 100 minor units spent, after a return window of `returnWindowDays`. */
async function program(returnWindowDays = 0) {
  const p = await newProgram(laurel, { returnWindowDays });
  await createRule(laurel, p.tenantId, p.programId, { name: '1 point per $1', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
  return p;
}

let serial = 0;
const purchase = (p: { tenantId: string; programId: string }, memberId: string, unitPrice: number) => ingestEvent(laurel, p.tenantId, {
  programId: p.programId, memberId, type: 'purchase', externalId: `o-${++serial}`, lines: [{ sku: 'X', quantity: 1, unitPrice }],
});
const giveBack = (p: { tenantId: string; programId: string }, purchaseExternalId: string, refundAmount?: number) => ingestEvent(laurel, p.tenantId, {
  programId: p.programId, type: 'return', externalId: `r-${++serial}`, purchaseExternalId,
  ...(refundAmount === undefined ? { lines: [{ sku: 'X', quantity: 1 }] } : { refundAmount }),
});
const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof DomainError) return `${e.code}:${e.field}`;
    throw e;
  }
};

describe('a household', () => {
  it('pools what members bring and earn; only members allowed spend; leaving takes nothing; the journal names who', async () => {
    // A 14-day return window: a purchase's points wait, in the pool too.
    const p = await program(14);
    const [ana, ben, kid] = [await newMember(laurel, p), await newMember(laurel, p), await newMember(laurel, p)];
    await adjust(laurel, { tenantId: p.tenantId, idempotencyKey: key(), memberId: ana, amount: 300, reason: 'welcome', actor: 'test' });
    await purchase(p, ana, 5000); // 50 pending
    const h = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'The Garcias' });
    const joined = await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ana, canSpend: true, actor: 'test' });
    expect(joined).toMatchObject({ joined: true, brought: 350n });
    expect(joined.household.balance).toMatchObject({ available: 300n, pending: 50n });
    expect(await getBalance(laurel, p.tenantId, ana)).toMatchObject({ available: 0n, pending: 0n });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ben, canSpend: true, actor: 'test' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: kid, canSpend: false, actor: 'test' });
    // A second PUT changes nothing but the permission.
    expect((await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ana, canSpend: true, actor: 'test' })).joined).toBe(false);

    await purchase(p, kid, 2000); // 20 pending, into the pool
    await purchase(p, ben, 1000); // 10 pending, into the pool
    const pool = await getMemberHousehold(laurel, p.tenantId, kid);
    expect(pool.balance).toMatchObject({ available: 300n, pending: 80n });
    expect(await getBalance(laurel, p.tenantId, kid)).toMatchObject({ available: 0n, pending: 0n, lifetimeEarned: 20n });

    expect(await codeOf(spendFromHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 'pos', memberId: kid, amount: 10 }))).toBe('conflict:memberId');
    expect(await codeOf(spendFromHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 'pos', memberId: ben, amount: 301 }))).toBe('insufficient_points:amount');
    const spent = await spendFromHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 'pos', memberId: ben, amount: 120, ref: 'order-7' });
    expect(spent.balances[0]).toMatchObject({ available: 180n });

    // Two weeks on, the pending points mature in the pool.
    laurel.clock.advance(15 * 86_400_000);
    await settleDue(laurel.db, laurel.clock.now());
    await leaveHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: kid });
    const after = await getMemberHousehold(laurel, p.tenantId, ana);
    expect(after.balance).toMatchObject({ available: 260n, pending: 0n });
    expect(after.members.map((m) => m.memberId).sort()).toEqual([ana, ben].sort());
    // The kid earns for themselves again.
    await purchase(p, kid, 3000);
    expect(await getBalance(laurel, p.tenantId, kid)).toMatchObject({ pending: 30n });

    const journal = await householdJournal(laurel, p.tenantId, h.householdId, { before: null, limit: 50 });
    const who = journal.filter((e) => e.action).map((e) => [e.action, e.for_member_id, e.pool_change]).reverse();
    expect(who).toEqual([['brought', ana, 350n], ['earned', kid, 20n], ['earned', ben, 10n], ['spent', ben, -120n]]);
    await expectVerified(laurel, p.tenantId);
  });

  it('refuses a member of another program, of another household, and one in debt', async () => {
    const p = await newProgram(laurel);
    const other = await newProgram(laurel);
    const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
    const stranger = await newMember(laurel, other);
    const h1 = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'One' });
    const h2 = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'Two' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h1.householdId, memberId: a, canSpend: true, actor: 't' });
    expect(await codeOf(putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h2.householdId, memberId: a, canSpend: true, actor: 't' }))).toBe('conflict:memberId');
    expect(await codeOf(putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h2.householdId, memberId: stranger, canSpend: true, actor: 't' }))).toBe('not_found:memberId');
    expect(await codeOf(putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h2.householdId, memberId: h1.accountMemberId, canSpend: true, actor: 't' }))).toBe('validation:memberId');
    expect(await codeOf(putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h2.householdId, memberId: b, canSpend: 'yes', actor: 't' }))).toBe('validation:canSpend');
    // b owes points: a reversal of spent points left a debt.
    const earned = await adjust(laurel, { tenantId: p.tenantId, idempotencyKey: key(), memberId: b, amount: 100, reason: 'x', actor: 'test' });
    await redeem(laurel, { tenantId: p.tenantId, idempotencyKey: key(), memberId: b, amount: 100n });
    await reverseEntry(laurel, { tenantId: p.tenantId, idempotencyKey: key(), entryId: earned.entries[0]!.entryId });
    expect((await getBalance(laurel, p.tenantId, b)).available).toBe(-100n);
    expect(await codeOf(putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h2.householdId, memberId: b, canSpend: true, actor: 't' }))).toBe('conflict:memberId');
    const ghosts = await laurel.db.selectFrom('household_members').select('member_id').where('tenant_id', '=', p.tenantId).where('household_id', '=', h2.householdId).execute();
    expect(ghosts).toEqual([]);
    await expectVerified(laurel, p.tenantId);
  });
});


describe("a household's account", () => {
  it('is no member in member lists, searches and the dashboard\'s counts, even once its pool has spent', async () => {
    const p = await program(0);
    const ana = await newMember(laurel, p);
    await purchase(p, ana, 5000);
    const h = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'Counted' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ana, canSpend: true, actor: 't' });
    await spendFromHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 'pos', memberId: ana, amount: 10 });
    expect((await listMembers(laurel, p.tenantId, { programId: p.programId, limit: 50 })).map((m) => m.memberId)).toEqual([ana]);
    expect(await searchMembers(laurel, p.tenantId, `household:${h.householdId}`, p.programId)).toEqual([]);
    expect(await searchMembers(laurel, p.tenantId, h.accountMemberId, p.programId)).toEqual([]);
    const d = await dashboard(laurel.db, p.tenantId, p.programId, 'Europe/Paris', new Date(laurel.clock.now().getTime() - 86_400_000), laurel.clock.now());
    expect({ members: d.members, activeMembers: d.activeMembers, tiers: d.tiers.map((t) => t.members) }).toEqual({ members: 1n, activeMembers: 1n, tiers: [1n] });
  });
});

describe('webhook messages', () => {
  it('tell each join and leave once, in its own transaction; a second PUT or a replay adds none', async () => {
    const p = await program(0);
    const ana = await newMember(laurel, p);
    await purchase(p, ana, 1200);
    const h = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'Messages' });
    const k = key();
    const join = { tenantId: p.tenantId, householdId: h.householdId, memberId: ana, canSpend: true, actor: 't', idempotencyKey: k };
    await putHouseholdMember(laurel, join);
    await putHouseholdMember(laurel, join);
    await putHouseholdMember(laurel, { ...join, idempotencyKey: undefined, canSpend: false });
    await leaveHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ana });
    expect(await codeOf(leaveHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ana }))).toBe('not_found:memberId');
    await putHouseholdMember(laurel, { ...join, idempotencyKey: undefined });
    const messages = (await listOutbox(laurel.db, p.tenantId)).filter((m) => m.type.startsWith('household.'));
    expect(messages.map((m) => m.type)).toEqual(['household.joined', 'household.left', 'household.joined']);
    expect(messages[0]!.payload).toMatchObject({ householdId: h.householdId, programId: p.programId, name: 'Messages', memberId: ana, canSpend: true, brought: 12 });
    expect(messages[1]!.payload).toMatchObject({ householdId: h.householdId, memberId: ana, leftAt: expect.any(String) });
    expect(messages[2]!.payload).toMatchObject({ memberId: ana, brought: 0 });
  });
});

describe('a return of a purchase whose points went into the pool', () => {
  it('takes them back from the pool, partly then in full, and the journal says whose purchase came back', async () => {
    const p = await program(14);
    const [ana, ben] = [await newMember(laurel, p), await newMember(laurel, p)];
    const h = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'Returns' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ana, canSpend: true, actor: 't' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ben, canSpend: true, actor: 't' });
    const order = await purchase(p, ana, 8000); // 80 pending, into the pool
    await purchase(p, ben, 2000); // 20 pending
    const partly = await giveBack(p, order.event.externalId, 3000);
    expect(partly.points).toBe(-30n);
    expect((await getMemberHousehold(laurel, p.tenantId, ben)).balance).toMatchObject({ available: 0n, pending: 70n });
    // Ana's own wallet is untouched; her lifetime earned counts what the return took back.
    expect(await getBalance(laurel, p.tenantId, ana)).toMatchObject({ available: 0n, pending: 0n, lifetimeEarned: 50n });
    // Replayed, the return changes nothing.
    expect((await ingestEvent(laurel, p.tenantId, { programId: p.programId, type: 'return', externalId: partly.event.externalId, purchaseExternalId: order.event.externalId, refundAmount: 3000 })).points).toBe(-30n);
    expect((await giveBack(p, order.event.externalId)).points).toBe(-50n);
    expect((await getMemberHousehold(laurel, p.tenantId, ben)).balance).toMatchObject({ available: 0n, pending: 20n });
    expect(await getBalance(laurel, p.tenantId, ana)).toMatchObject({ available: 0n, pending: 0n, lifetimeEarned: 0n });
    const journal = await householdJournal(laurel, p.tenantId, h.householdId, { before: null, limit: 50 });
    expect(journal.filter((e) => e.action).map((e) => [e.action, e.for_member_id, e.kind, e.pool_change]).reverse()).toEqual([
      ['earned', ana, 'transfer', 80n], ['earned', ben, 'transfer', 20n], ['returned', ana, 'reverse', -30n], ['returned', ana, 'reverse', -50n],
    ]);
    await expectVerified(laurel, p.tenantId);
  });

  it('follows the points brought on joining, and after the member left: the pool gives them back, into debt when it spent them', async () => {
    const p = await program(0);
    const [ana, ben] = [await newMember(laurel, p), await newMember(laurel, p)];
    const before = await purchase(p, ana, 4000); // 40, Ana's own, then brought
    const h = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'Leavers' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ana, canSpend: false, actor: 't' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ben, canSpend: true, actor: 't' });
    const inside = await purchase(p, ana, 6000); // 60, earned into the pool
    expect((await giveBack(p, before.event.externalId)).points).toBe(-40n);
    expect((await getBalance(laurel, p.tenantId, h.accountMemberId)).available).toBe(60n);
    await leaveHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ana });
    await purchase(p, ana, 1000); // 10, her own again
    await spendFromHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 'pos', memberId: ben, amount: 50 });
    // The pool spent 50 of the 60 it received: the return takes the 10 left and the pool owes 50.
    expect((await giveBack(p, inside.event.externalId)).points).toBe(-60n);
    expect(await getBalance(laurel, p.tenantId, h.accountMemberId)).toMatchObject({ available: -50n });
    expect(await getBalance(laurel, p.tenantId, ana)).toMatchObject({ available: 10n, lifetimeEarned: 10n });
    // A pool in debt spends nothing until what it earns repays it.
    expect(await codeOf(spendFromHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 'pos', memberId: ben, amount: 1 }))).toBe('insufficient_points:amount');
    await purchase(p, ben, 7000);
    expect((await getBalance(laurel, p.tenantId, h.accountMemberId)).available).toBe(20n);
    const journal = await householdJournal(laurel, p.tenantId, h.householdId, { before: null, limit: 50 });
    expect(journal.filter((e) => e.action === 'returned').map((e) => [e.for_member_id, e.pool_change]).reverse()).toEqual([[ana, -40n], [ana, -60n]]);
    await expectVerified(laurel, p.tenantId);
  });

  it('in a program that writes claw-backs off, leaves the pool at zero', async () => {
    const p = await newProgram(laurel, { negativeBalance: 'write_off' });
    await createRule(laurel, p.tenantId, p.programId, { name: '1 point per $1', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
    const [ana, ben] = [await newMember(laurel, p), await newMember(laurel, p)];
    const h = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'Write-off' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ana, canSpend: true, actor: 't' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: ben, canSpend: true, actor: 't' });
    const order = await purchase(p, ana, 3000);
    await spendFromHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 'pos', memberId: ben, amount: 30 });
    expect((await giveBack(p, order.event.externalId)).points).toBe(-30n);
    expect(await getBalance(laurel, p.tenantId, h.accountMemberId)).toMatchObject({ available: 0n, pending: 0n });
    expect(await getBalance(laurel, p.tenantId, ana)).toMatchObject({ available: 0n, lifetimeEarned: 0n });
    await expectVerified(laurel, p.tenantId);
  });
});

describe.skipIf(!onPostgres)('concurrent household spends on PostgreSQL', () => {
  it('two members spending the last points at once: exactly one succeeds, 20 times over', async () => {
    const p = await newProgram(laurel);
    const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
    const h = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'Race' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: a, canSpend: true, actor: 't' });
    await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: b, canSpend: true, actor: 't' });
    for (let round = 0; round < 20; round++) {
      await adjust(laurel, { tenantId: p.tenantId, idempotencyKey: key(), memberId: h.accountMemberId, amount: 100, reason: 'top up', actor: 'test' });
      const outcomes = await Promise.allSettled([a, b].map((m) => spendFromHousehold(laurel, {
        tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 'pos', memberId: m, amount: 100,
      })));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).toMatchObject({ code: 'insufficient_points' });
      expect((await getBalance(laurel, p.tenantId, h.accountMemberId)).available).toBe(0n);
    }
    await expectVerified(laurel, p.tenantId);
  });

  it('a return and a spend of the same points at once: the spend is refused, or the pool owes the return, 20 times over', async () => {
    const p = await program(0);
    const outcomes: string[] = [];
    for (let round = 0; round < 20; round++) {
      const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
      const h = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: `Race ${round}` });
      await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: a, canSpend: true, actor: 't' });
      await putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: b, canSpend: true, actor: 't' });
      const order = await purchase(p, a, 10_000); // 100, the pool's only points
      const [spend, back] = await Promise.allSettled([
        spendFromHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 'pos', memberId: b, amount: 100 }),
        giveBack(p, order.event.externalId),
      ]);
      if (back.status === 'rejected') throw back.reason;
      const pool = await getBalance(laurel, p.tenantId, h.accountMemberId);
      if (spend.status === 'fulfilled') {
        expect(pool.available).toBe(-100n);
        outcomes.push('spent, then owed');
      } else {
        expect(spend.reason).toMatchObject({ code: 'insufficient_points' });
        expect(pool.available).toBe(0n);
        outcomes.push('refused');
      }
      expect(await getBalance(laurel, p.tenantId, a)).toMatchObject({ available: 0n, lifetimeEarned: 0n });
    }
    expect(outcomes).toHaveLength(20);
    await expectVerified(laurel, p.tenantId);
  });
});

type Step =
  | { kind: 'join'; who: number; canSpend: boolean }
  | { kind: 'leave'; who: number }
  | { kind: 'earn'; who: number; price: number }
  | { kind: 'spend'; who: number; amount: number }
  | { kind: 'return'; which: number; part: number | null }
  | { kind: 'days'; days: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('join' as const), who: fc.nat(3), canSpend: fc.boolean() }),
  fc.record({ kind: fc.constant('leave' as const), who: fc.nat(3) }),
  fc.record({ kind: fc.constant('earn' as const), who: fc.nat(3), price: fc.integer({ min: 100, max: 20_000 }) }),
  fc.record({ kind: fc.constant('spend' as const), who: fc.nat(3), amount: fc.integer({ min: 1, max: 150 }) }),
  fc.record({ kind: fc.constant('days' as const), days: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant('return' as const), which: fc.nat(30), part: fc.option(fc.integer({ min: 100, max: 5_000 }), { nil: null }) }),
);

describe('random sequences of joins, earnings, returns, spends and leaves', () => {
  it('keep the ledger verified and conserve points: the pool plus the members hold what was earned net of returns minus what was spent', async () => {
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 25 }), async (steps) => {
      const p = await program(7);
      const members = await Promise.all(Array.from({ length: 4 }, () => newMember(laurel, p)));
      const h = await createHousehold(laurel, p.tenantId, { programId: p.programId, name: 'Prop' });
      const orders: string[] = [];
      for (const s of steps) {
        if (s.kind === 'join') {
          expect(['ok', 'conflict:memberId']).toContain(await codeOf(putHouseholdMember(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: members[s.who]!, canSpend: s.canSpend, actor: 't' })));
        } else if (s.kind === 'leave') {
          expect(['ok', 'not_found:memberId']).toContain(await codeOf(leaveHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, memberId: members[s.who]! })));
        } else if (s.kind === 'earn') {
          orders.push((await purchase(p, members[s.who]!, s.price)).event.externalId);
        } else if (s.kind === 'return') {
          if (orders.length === 0) continue;
          // A return of more than is left of the order is refused; anything else comes back.
          const code = await codeOf(giveBack(p, orders[s.which % orders.length]!, s.part ?? undefined));
          expect(code).toMatch(/^(ok|(validation|conflict):(refundAmount|lines.*))$/);
        } else if (s.kind === 'spend') {
          expect(['ok', 'conflict:memberId', 'not_found:memberId', 'insufficient_points:amount'])
            .toContain(await codeOf(spendFromHousehold(laurel, { tenantId: p.tenantId, householdId: h.householdId, idempotencyKey: key(), actor: 't', memberId: members[s.who]!, amount: s.amount })));
        } else {
          laurel.clock.advance(s.days * 86_400_000);
          await settleDue(laurel.db, laurel.clock.now());
        }
      }
      await expectVerified(laurel, p.tenantId);
      let held = 0n;
      let earned = 0n;
      for (const m of members) {
        const b = await getBalance(laurel, p.tenantId, m);
        expect(b.available >= 0n).toBe(true);
        held += b.available + b.pending;
        earned += b.lifetimeEarned;
      }
      // The pool may owe a claw-back (the program's debt policy); it never spent more than it had.
      const pool = await getBalance(laurel, p.tenantId, h.accountMemberId);
      expect(held + pool.available + pool.pending).toBe(earned - pool.lifetimeRedeemed);
    }), { numRuns: onPostgres ? 12 : 6 });
  });
});
