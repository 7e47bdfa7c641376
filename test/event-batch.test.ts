// Purchases and actions in the ledger's group commit (services/events.ts, services/ledger-batch.ts):
// an event of a program whose features need nothing but the member's points wallet, achievements
// and referral is decided on the wallet its batch locks (and the tallies, unlocks and referral the
// batch reads under that lock) and written with the batch. Each answer must be the one the event's
// own transaction gives, whatever it is batched with: earns, redeems, other events, returns (which
// go their own way), twins under the same external id.
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/errors.js';
import { runJobNow } from '../src/jobs/runner.js';
import type { Laurel } from '../src/services/context.js';
import { ingestEvent, type EventResult, type IngestInput } from '../src/services/events.js';
import { earn, getBalance, redeem } from '../src/services/ledger.js';
import { batchStats } from '../src/services/ledger-batch.js';
import { createMember } from '../src/services/members.js';
import { createAchievement, memberAchievements } from '../src/services/achievements.js';
import { memberReferral, putReferralSettings } from '../src/services/referrals.js';
import { createReward } from '../src/services/rewards.js';
import { createRule } from '../src/services/rules.js';
import type { Program } from '../src/services/tenants.js';
import { expectVerified, newProgram, onPostgres, openTestLaurel, whileRefusing } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
/** The same database and clock, every event in a transaction of its own. */
let unbatched: Laurel;
/**
 * The same database and time, one batch in flight at a time (as on PGlite): on PostgreSQL, a few
 * members' requests in turn would otherwise each find a free batch of their own.
 */
let oneBatchAtATime: Laurel;

beforeAll(async () => {
  laurel = await openTestLaurel('2026-03-01T09:00:00Z', {}, 24);
  unbatched = { ...laurel, settings: { ...laurel.settings, batch: null } };
  // A clock of its own (telling the same time) gets a coalescer of its own, with these settings.
  oneBatchAtATime = { ...laurel, clock: { now: () => laurel.clock.now() }, settings: { ...laurel.settings, batch: { maxSize: 256, waitMs: 0, concurrency: 1 } } };
});
afterAll(async () => laurel?.close());

/** Rules that decide on the event and the member's profile alone, and one paying store credit (its events go their own way). */
async function program(): Promise<Program> {
  const p = await newProgram(laurel, { wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'credit', kind: 'redeemable' }] });
  const rule = (definition: Record<string, unknown>) => createRule(laurel, p.tenantId, p.programId, definition, { actor: 'test' });
  await rule({ name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
  await rule({ name: 'Big basket', trigger: 'purchase', condition: 'order.total >= 5000', effect: { type: 'fixed_points', points: 50 } });
  await rule({ name: 'VIP', trigger: 'purchase', condition: 'member.attributes.segment == "vip"', effect: { type: 'fixed_points', points: 7 } });
  await rule({ name: 'Check-in', trigger: 'check_in', effect: { type: 'fixed_points', points: 5 } });
  await rule({ name: 'Gift card back', trigger: 'purchase', condition: '"GIFT" in order.skus', effect: { type: 'percent_back', percent: 10, wallet: 'credit' } });
  return p;
}

/**
 * The same with achievements of every kind and referrals on: counters paying points, spend,
 * distinct categories, a streak a return revokes, a stamp card issuing a free latte (an instance
 * the batch draws), a milestone paying points, a monthly repeatable counter; a referee's first order
 * of 30.00 or more qualifies their referral (in a transaction of its own: the referral was pending).
 */
async function engagedProgram(): Promise<Program> {
  const p = await program();
  const latte = await createReward(laurel, p.tenantId, p.programId, { code: 'latte', name: 'Free latte', value: { type: 'free_product', sku: 'LATTE' }, cost: 100 });
  for (const d of [
    { code: 'regular', name: 'Regular', kind: 'counter', target: 3, reward: { type: 'points', points: 20 } },
    { code: 'spender', name: 'Spender', kind: 'counter', metric: 'spend', target: 10000, reward: { type: 'points', points: 40 } },
    { code: 'explorer', name: 'Explorer', kind: 'counter', metric: 'distinctCategories', target: 2 },
    { code: 'days', name: 'Two days', kind: 'streak', streakUnit: 'day', target: 2, revokeOnReturn: true, reward: { type: 'points', points: 9 } },
    { code: 'card', name: 'Coffee card', kind: 'counter', target: 3, repeatable: true, stampCard: true, filter: '"LATTE" in order.skus', reward: { type: 'reward', rewardId: latte.reward.rewardId } },
    { code: 'balance', name: 'Balance', kind: 'milestone', thresholds: { every: 50 }, reward: { type: 'points', points: 3 } },
    { code: 'monthly', name: 'Monthly', kind: 'counter', eventType: 'check_in', target: 2, repeatable: true, resetEvery: 'month', reward: { type: 'points', points: 2 } },
  ]) await createAchievement(laurel, p.tenantId, p.programId, d, { actor: 'test' });
  await putReferralSettings(laurel, p.tenantId, p.programId, {
    enabled: true, linkBaseUrl: 'https://shop.example/join', condition: 'event.type == "purchase" && order.total >= 3000', withinDays: 30,
    referrer: { points: 100 }, referee: { points: 60 },
  }, { actor: 'test' });
  return p;
}

/**
 * `n` members, the even ones vip; in a program with referrals, the odd ones referred by a member of
 * their own (who sends nothing: what a referral pays them does not depend on how members interleave).
 */
async function members(p: Program, n: number, referred = false): Promise<string[]> {
  const ids: string[] = [];
  const referrer = referred ? (await createMember(laurel, p.tenantId, { programId: p.programId, externalId: 'referrer' })).memberId : null;
  const code = referrer && (await memberReferral(laurel, p.tenantId, referrer)).code!;
  for (let i = 0; i < n; i++) {
    const referralCode = code && i % 2 === 1 ? code : undefined;
    const m = await createMember(laurel, p.tenantId, {
      programId: p.programId, externalId: `m${i}`, attributes: i % 2 === 0 ? { segment: 'vip' } : {}, ...(referralCode ? { referralCode } : {}),
    });
    ids.push(m.memberId);
  }
  return ids;
}

/** What a member sees of their achievements and referral, without ids: the same in two tenants that lived the same. */
async function engagementOf(p: Program, memberId: string): Promise<unknown> {
  const achievements = (await memberAchievements(laurel, p.tenantId, memberId)).map((m) => ({
    code: m.achievement.code, unlocked: m.unlocked, times: m.timesUnlocked, current: m.current, target: m.target, next: m.next,
  }));
  const { rows } = await sql<{ type: string; n: number }>`
    select type, count(*)::int as n from outbox where tenant_id = ${p.tenantId} and payload->>'memberId' = ${memberId} group by type order by type`.execute(laurel.db);
  const referral = await laurel.db.selectFrom('referrals').select(['state', 'referrer_points', 'referee_points']).where('tenant_id', '=', p.tenantId)
    .where('referee_id', '=', memberId).executeTakeFirst();
  const instances = await laurel.db.selectFrom('reward_instances').select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', p.tenantId).where('member_id', '=', memberId).executeTakeFirstOrThrow();
  return { achievements, messages: rows, referral: referral ?? null, instances: Number(instances.n) };
}

type Op =
  | { kind: 'purchase'; m: number; price: number; gift: boolean }
  | { kind: 'check_in'; m: number }
  | { kind: 'redeem'; m: number; amount: number }
  | { kind: 'earn'; m: number; amount: number }
  /** a return, whole, of the `back`-th op of the waves before (a return sent with its purchase may or may not find it) */
  | { kind: 'return'; back: number }
  /** the `back`-th op before this one again, under its external id: the same event, or another body */
  | { kind: 'again'; back: number; same: boolean };

const opArbitrary = (n: number): fc.Arbitrary<Op> => {
  const m = fc.nat({ max: n - 1 });
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('purchase' as const), m, price: fc.integer({ min: 1, max: 9000 }), gift: fc.integer({ min: 0, max: 4 }).map((x) => x === 0) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('check_in' as const), m }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('redeem' as const), m, amount: fc.integer({ min: 1, max: 120 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('earn' as const), m, amount: fc.integer({ min: 1, max: 50 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('return' as const), back: fc.integer({ min: 1, max: 6 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('again' as const), back: fc.integer({ min: 1, max: 6 }), same: fc.boolean() }) },
  );
};

type Outcome = PromiseSettledResult<EventResult | { entries: { amount: bigint }[]; balances: { available: bigint }[] }>;
interface Sent { member: number; externalId: string; call: (l: Laurel) => Promise<Awaited<Outcome extends PromiseSettledResult<infer T> ? T : never>> }

/** The operations as calls on a program's members; external ids and keys are prefixed by the wave. */
function callsOf(ops: Op[], wave: number, p: Program, ids: string[], earlier: Sent[]): Sent[] {
  const sent: Sent[] = [];
  const event = (input: Omit<IngestInput, 'programId'>) => (l: Laurel) => ingestEvent(l, p.tenantId, { programId: p.programId, ...input });
  ops.forEach((op, i) => {
    const externalId = `w${wave}-${i}`;
    const past = op.kind === 'return' ? earlier : [...earlier, ...sent];
    if (op.kind === 'again' || op.kind === 'return') {
      const before = past[past.length - op.back];
      if (op.kind === 'again' && before && op.same) {
        sent.push(before);
        return;
      }
      const member = before?.member ?? 0;
      const order = before?.externalId ?? externalId;
      sent.push(op.kind === 'return'
        ? { member, externalId, call: event({ externalId, type: 'return', purchaseExternalId: order }) }
        // the same external id with another body: refused as a conflict (or, first, a check-in)
        : { member, externalId: order, call: event({ externalId: order, type: 'check_in', memberId: ids[member]! }) });
      return;
    }
    const memberId = ids[op.m]!;
    const call = op.kind === 'purchase'
      // An even price buys a latte (a stamp), the rest something of one of three categories.
      ? event({ externalId, type: 'purchase', memberId, lines: [{ sku: op.gift ? 'GIFT' : op.price % 2 === 0 ? 'LATTE' : 'X', category: `c${op.price % 3}`, quantity: 1, unitPrice: op.price }] })
      : op.kind === 'check_in' ? event({ externalId, type: 'check_in', memberId })
        : op.kind === 'redeem' ? (l: Laurel) => redeem(l, { tenantId: p.tenantId, memberId, amount: op.amount, idempotencyKey: `${externalId}-r` })
          : (l: Laurel) => earn(l, { tenantId: p.tenantId, memberId, amount: op.amount, idempotencyKey: `${externalId}-e` });
    sent.push({ member: op.m, externalId, call });
  });
  return sent;
}

/** An answer without what differs between two tenants (ids): what the client sees. */
function comparable(outcome: Outcome): unknown {
  if (outcome.status === 'rejected') {
    const e = outcome.reason as unknown;
    return e instanceof DomainError ? { refused: e.code, field: e.field, message: e.message } : { raw: String(e) };
  }
  const r = outcome.value;
  if (!('event' in r)) return { entries: r.entries.map((e) => e.amount), balances: r.balances.map((b) => b.available) };
  return {
    points: r.points, kind: r.event.kind, type: r.event.type, externalId: r.event.externalId, total: r.event.total,
    explanation: r.event.explanation.map((a) => [a.name, a.wallet, a.points]), entries: r.event.entries.map((e) => [e.wallet, e.amount]),
    ledger: r.ledger && { entries: r.ledger.entries.map((e) => [e.kind, e.amount]), balances: r.ledger.balances.map((b) => [b.available, b.pending, b.lifetimeEarned]) },
    tier: r.tier, enrolled: r.enrolled,
  };
}

/** Sends each member's calls in turn, the members' at once; the outcomes in the calls' order. */
async function byMember(calls: Sent[], l: Laurel): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(calls.length);
  const chains = new Map<number, number[]>();
  calls.forEach((s, i) => chains.set(s.member, [...(chains.get(s.member) ?? []), i]));
  await Promise.all([...chains.values()].map(async (indexes) => {
    for (const i of indexes) outcomes[i] = (await Promise.allSettled([calls[i]!.call(l)]))[0] as Outcome;
  }));
  return outcomes;
}

// PostgreSQL only: on PGlite events keep a transaction each (services/events.ts batchable).
describe.skipIf(!onPostgres)('events in the group commit', () => {
  /** Waves of random operations against two programs alike, batched and not: every answer, balance and engagement the same, both ledgers sound. */
  const sameAsAlone = (newProgram: () => Promise<Program>, referred: boolean, dayPerWave: boolean) => async () => {
    const before = batchStats(oneBatchAtATime);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 2, max: 5 }).chain((n) => fc.record({
      n: fc.constant(n), waves: fc.array(fc.array(opArbitrary(n), { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 4 }),
    })), async ({ n, waves }) => {
      const [b, u] = [await newProgram(), await newProgram()];
      const [bm, um] = [await members(b, n, referred), await members(u, n, referred)];
      const [bSent, uSent]: [Sent[], Sent[]] = [[], []];
      for (const [w, ops] of waves.entries()) {
        const batchedCalls = callsOf(ops, w, b, bm, bSent);
        const aloneCalls = callsOf(ops, w, u, um, uSent);
        // Each member's operations one after the other, members side by side: requests sent at once
        // have no order (an event reads its program before it queues), a member's sent in turn do.
        const [batchedOutcomes, aloneOutcomes] = [await byMember(batchedCalls, oneBatchAtATime), await byMember(aloneCalls, unbatched)];
        for (let i = 0; i < ops.length; i++) {
          expect(comparable(batchedOutcomes[i]!), `wave ${w} op ${i}: ${JSON.stringify(ops[i])}`).toEqual(comparable(aloneOutcomes[i]!));
        }
        bSent.push(...batchedCalls);
        uSent.push(...aloneCalls);
        laurel.clock.advance(dayPerWave ? 86_400_000 : 60_000);
      }
      for (const [i, m] of bm.entries()) {
        for (const wallet of ['points', 'credit']) {
          expect({ ...(await getBalance(laurel, b.tenantId, m, wallet)), memberId: null, walletId: null })
            .toEqual({ ...(await getBalance(laurel, u.tenantId, um[i]!, wallet)), memberId: null, walletId: null });
        }
        expect(await engagementOf(b, m), `member ${i}`).toEqual(await engagementOf(u, um[i]!));
      }
      if (referred) {
        const referrerOf = async (p: Program) => (await laurel.db.selectFrom('members').select('member_id').where('tenant_id', '=', p.tenantId)
          .where('external_id', '=', 'referrer').executeTakeFirstOrThrow()).member_id;
        expect((await getBalance(laurel, b.tenantId, await referrerOf(b))).available).toBe((await getBalance(laurel, u.tenantId, await referrerOf(u))).available);
      }
      await expectVerified(laurel, b.tenantId);
      await expectVerified(laurel, u.tenantId);
    }), { numRuns: 25 });
    const after = batchStats(oneBatchAtATime);
    // Events went through batches, and batches took more than one operation.
    expect(after.batched - before.batched).toBeGreaterThan(0);
    expect(after.largest).toBeGreaterThan(1);
  };

  it('answer as their own transactions do, batched with earns, redeems, returns and twins; the ledger verifies', sameAsAlone(program, false, false));

  it('with achievements and referrals, move progress, unlocks, rewards, milestones and referrals as their own transactions do', sameAsAlone(engagedProgram, true, true));

  it("many members' purchases at once go in batches, each member's in the order sent, and earn what their own transactions would", async () => {
    const p = await program();
    const ids = await members(p, 8);
    const t = p.tenantId;
    const before = batchStats(laurel);
    // Each member buys 5 times in turn, all members at once; member i's k-th basket costs 1000 × (k + 1) + i.
    const answers = await Promise.all(ids.map(async (memberId, i) => {
      const points: bigint[] = [];
      for (let k = 0; k < 5; k++) {
        const r = await ingestEvent(laurel, t, {
          programId: p.programId, externalId: `m${i}-${k}`, type: 'purchase', memberId, lines: [{ sku: 'X', quantity: 1, unitPrice: 1000 * (k + 1) + i }],
        });
        points.push(r.points);
      }
      return points;
    }));
    // floor(total / 100), + 50 from 5000, + 7 for the vip members (even i)
    expect(answers).toEqual(ids.map((_, i) => [0, 1, 2, 3, 4].map((k) => BigInt(10 * (k + 1) + (k === 4 ? 50 : 0) + (i % 2 === 0 ? 7 : 0)))));
    const stats = batchStats(laurel);
    expect(stats.batched - before.batched).toBe(40);
    expect(stats.largest).toBeGreaterThan(1);
    const { rows: [count] } = await sql<{ n: number }>`select count(*)::int as n from events where tenant_id = ${t}`.execute(laurel.db);
    expect(count!.n).toBe(40);
    await expectVerified(laurel, t);
  });

  it('a database error fails only its own event: the batch runs again one by one, and nothing of it is written', async () => {
    const p = await program();
    const ids = await members(p, 3);
    const t = p.tenantId;
    const buy = (memberId: string, externalId: string) =>
      ingestEvent(laurel, t, { programId: p.programId, externalId, type: 'purchase', memberId, lines: [{ sku: 'X', quantity: 1, unitPrice: 1000 }] });
    await whileRefusing(laurel, 'events', 'external_id', 'boom', async () => {
      const before = batchStats(laurel);
      // An earn first, so that the events queue behind it and go together.
      const outcomes = await Promise.allSettled([
        earn(laurel, { tenantId: t, memberId: ids[0]!, amount: 1, idempotencyKey: 'first' }),
        ...ids.map((m, i) => buy(m, `ok-${i}`)),
        buy(ids[1]!, 'boom'),
        buy(ids[2]!, 'ok-last'),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(String((outcomes[4] as PromiseRejectedResult).reason)).toMatch(/boom refused/);
      expect(batchStats(laurel).failed - before.failed).toBeGreaterThan(0);
    });
    // 10 + 7 for the vip members (0 and 2), 10 for member 1
    expect((await Promise.all(ids.map((m) => getBalance(laurel, t, m)))).map((x) => x.available)).toEqual([18n, 10n, 34n]);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from idempotency_keys where tenant_id = ${t} and key like '%:boom'`.execute(laurel.db);
    expect(rows[0]!.n).toBe(0);
    await expectVerified(laurel, t);
  });

  it('32 clients of purchases and redeems on 8 members, racing the settle job, never overdraw and record each event once', async () => {
    const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 1 } });
    const t = p.tenantId;
    await createRule(laurel, t, p.programId, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
    const ids = await members(p, 8);
    await Promise.all(ids.map((m, i) => earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: `seed-${i}` })));
    laurel.clock.advance(31 * 86_400_000 + 1);
    // Each client sends 10 operations one after the other; every fourth is a redeem, every sixth a twin of the one before.
    const clients = Array.from({ length: 32 }, (_, c) => (async () => {
      const outcomes: PromiseSettledResult<unknown>[] = [];
      for (let i = 0; i < 10; i++) {
        const memberId = ids[(c + i) % ids.length]!;
        const externalId = i % 6 === 5 ? `c${c}-${i - 1}` : `c${c}-${i}`;
        const op = i % 4 === 3
          ? redeem(laurel, { tenantId: t, memberId, amount: 15, idempotencyKey: `c${c}-r${i}` })
          : ingestEvent(laurel, t, {
            programId: p.programId, externalId, type: 'purchase', memberId: i % 6 === 5 ? ids[(c + i - 1) % ids.length]! : memberId,
            lines: [{ sku: 'X', quantity: 1, unitPrice: 2000 }],
          });
        outcomes.push(...await Promise.allSettled([op]));
      }
      return outcomes;
    })());
    const [results] = await Promise.all([Promise.all(clients), runJobNow(laurel, 'settle'), runJobNow(laurel, 'settle')]);
    for (const o of results.flat()) {
      if (o.status === 'rejected') expect((o.reason as DomainError).code).toBe('insufficient_points');
    }
    await runJobNow(laurel, 'settle');
    const { rows: [counts] } = await sql<{ events: number; keys: number }>`
      select (select count(*)::int from events where tenant_id = ${t}) as events,
             (select count(*)::int from idempotency_keys where tenant_id = ${t} and key like 'event:%') as keys`.execute(laurel.db);
    // 32 clients × 8 purchases, of which 32 × 1 are twins (i = 5 repeats i = 4)
    expect(counts).toEqual({ events: 32 * 7, keys: 32 * 7 });
    const balances = await Promise.all(ids.map((m) => getBalance(laurel, t, m)));
    for (const x of balances) expect(x.available).toBeGreaterThanOrEqual(0n);
    expect(balances.reduce((s, x) => s + x.expired, 0n)).toBe(800n);
    await expectVerified(laurel, t);
  });
});
