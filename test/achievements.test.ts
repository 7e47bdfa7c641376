// Achievements through the event path: counters, challenges, streaks in the tenant's time zone
// (across DST changes and year ends), balance milestones, stamp cards, returns undoing progress,
// and progress kept on the event path equal to progress recomputed from history (the backfill).
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock } from '../src/core/clock.js';
import type { Laurel } from '../src/services/context.js';
import {
  createAchievement, memberAchievements, requestBackfill, runBackfills, updateAchievement, type Achievement,
} from '../src/services/achievements.js';
import { ingestEvent } from '../src/services/events.js';
import { getBalance } from '../src/services/ledger.js';
import { consumeInstance, createReward, getReward, memberInstances } from '../src/services/rewards.js';
import { createRule } from '../src/services/rules.js';
import type { Program } from '../src/services/tenants.js';
import { expectVerified, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

let laurel: Laurel & { clock: ManualClock };
beforeAll(async () => { laurel = await openTestLaurel('2027-03-01T12:00:00Z'); });
afterAll(async () => { await laurel.close(); });

let serial = 0;
const ext = (p: string) => `${p}-${++serial}`;

async function program(timeZone = 'Europe/Paris', perPoint = 100): Promise<Program> {
  const p = await newProgram(laurel, {}, timeZone);
  await createRule(laurel, p.tenantId, p.programId, { name: 'points', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: perPoint } }, { actor: 'test' });
  return p;
}

type Line = { sku: string; category?: string; quantity: number; unitPrice: number };
const orders = new Map<string, Line[]>();

function buy(p: Program, memberId: string, at: string, lines: Line[] = [{ sku: 'LATTE', category: 'coffee', quantity: 1, unitPrice: 450 }], externalId = ext('o')) {
  orders.set(externalId, lines);
  return ingestEvent(laurel, p.tenantId, { programId: p.programId, memberId, externalId, type: 'purchase', occurredAt: at, lines });
}

/** A return: of this much money, or without an amount of every line (all that is left). */
const giveBack = (p: Program, purchaseExternalId: string, refundAmount?: number) =>
  ingestEvent(laurel, p.tenantId, {
    programId: p.programId, externalId: ext('r'), type: 'return', purchaseExternalId,
    ...(refundAmount === undefined ? { lines: orders.get(purchaseExternalId)!.map((l) => ({ sku: l.sku, quantity: l.quantity })) } : { refundAmount }),
  });

const create = (p: Program, body: Record<string, unknown>) => createAchievement(laurel, p.tenantId, p.programId, body, { actor: 'test' });

async function view(p: Program, memberId: string, a: Achievement) {
  return (await memberAchievements(laurel, p.tenantId, memberId)).find((x) => x.achievement.achievementId === a.achievementId);
}

async function messages(p: Program, type: string) {
  const rows = await laurel.db.selectFrom('outbox').select(['type', 'payload']).where('tenant_id', '=', p.tenantId).where('type', '=', type).orderBy('message_id').execute();
  return rows.map((r) => r.payload as Record<string, unknown>);
}

describe('counters', () => {
  it('three purchases unlock a badge once, pay its points through the ledger and tell achievement.unlocked', async () => {
    const p = await program();
    const a = await create(p, { code: 'regular', name: 'Regular', kind: 'counter', target: 3, reward: { type: 'points', points: 200 } });
    const m = await newMember(laurel, p);
    await buy(p, m, '2027-02-01T10:00:00Z');
    await buy(p, m, '2027-02-02T10:00:00Z');
    expect(await view(p, m, a)).toMatchObject({ unlocked: false, current: 2n, target: 3n, next: { remaining: 1n, unit: 'events' } });
    const third = await buy(p, m, '2027-02-03T10:00:00Z');
    expect(third.points).toBe(4n);
    expect(third.ledger!.balances[0]!.available).toBe(212n);
    await buy(p, m, '2027-02-04T10:00:00Z');
    expect(await view(p, m, a)).toMatchObject({ unlocked: true, timesUnlocked: 1, current: 3n, next: null });
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(216n);
    const told = await messages(p, 'achievement.unlocked');
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ code: 'regular', memberId: m, points: 200 });
    await expectVerified(laurel, p.tenantId);
  });

  it('spend, distinct categories and custom events with a CEL filter count what they say', async () => {
    const p = await program();
    const spend = await create(p, { code: 'big', name: 'Big spender', kind: 'counter', metric: 'spend', target: 10000 });
    const cats = await create(p, { code: 'explorer', name: 'Explorer', kind: 'counter', metric: 'distinctCategories', target: 3 });
    const reviews = await create(p, { code: 'critic', name: 'Critic', kind: 'counter', eventType: 'review', target: 2, filter: 'event.attributes.stars >= 4' });
    const m = await newMember(laurel, p);
    await buy(p, m, '2027-02-01T10:00:00Z', [{ sku: 'A', category: 'coffee', quantity: 1, unitPrice: 6000 }, { sku: 'B', category: 'tea', quantity: 1, unitPrice: 1000 }]);
    await buy(p, m, '2027-02-02T10:00:00Z', [{ sku: 'C', category: 'coffee', quantity: 1, unitPrice: 2000 }]);
    expect(await view(p, m, spend)).toMatchObject({ current: 9000n, unlocked: false, next: { remaining: 1000n, unit: 'money' } });
    expect(await view(p, m, cats)).toMatchObject({ current: 2n, unlocked: false });
    await buy(p, m, '2027-02-03T10:00:00Z', [{ sku: 'D', category: 'cakes', quantity: 1, unitPrice: 1000 }]);
    expect(await view(p, m, spend)).toMatchObject({ unlocked: true });
    expect(await view(p, m, cats)).toMatchObject({ unlocked: true, current: 3n });
    for (const stars of [5, 2, 4]) {
      await ingestEvent(laurel, p.tenantId, { programId: p.programId, memberId: m, externalId: ext('rv'), type: 'review', attributes: { stars } });
    }
    expect(await view(p, m, reviews)).toMatchObject({ unlocked: true, current: 2n });
  });

  it("a repeatable counter reset each month numbers each month's unlocks from 1, however many the months before hold", async () => {
    const p = await program();
    const a = await create(p, { code: 'pairs', name: 'Pairs', kind: 'counter', target: 2, repeatable: true, resetEvery: 'month', reward: { type: 'points', points: 7 } });
    const m = await newMember(laurel, p);
    for (let day = 1; day <= 6; day++) await buy(p, m, `2027-01-0${day}T10:00:00Z`);
    for (let day = 1; day <= 3; day++) await buy(p, m, `2027-02-0${day}T10:00:00Z`);
    const unlocks = await laurel.db.selectFrom('achievement_unlocks').select(['period', 'cycle']).where('tenant_id', '=', p.tenantId)
      .where('achievement_id', '=', a.achievementId).where('member_id', '=', m).orderBy('unlocked_at').orderBy('unlock_id').execute();
    const [january, february] = [unlocks[0]!.period, unlocks.at(-1)!.period];
    expect(february).toBe(january + 1);
    expect(unlocks).toEqual([1, 2, 3].map((cycle) => ({ period: january, cycle })).concat([{ period: february, cycle: 1 }]));
    expect(await view(p, m, a)).toMatchObject({ timesUnlocked: 4 });
    // 9 purchases of 4.50 earn 4 points each, and four unlocks pay 7
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(9n * 4n + 4n * 7n);
    await expectVerified(laurel, p.tenantId);
  });

  it('a challenge counts only inside its window and only for its segment', async () => {
    const p = await program();
    const a = await create(p, {
      code: 'march', name: 'March challenge', kind: 'challenge', target: 2,
      window: { from: '2027-03-01T00:00:00+01:00', to: '2027-04-01T00:00:00+02:00' }, segment: 'member.attributes.vip == true',
    });
    const vip = (await import('../src/services/members.js')).createMember;
    const inSegment = (await vip(laurel, p.tenantId, { programId: p.programId, externalId: ext('vip'), attributes: { vip: true } })).memberId;
    const outside = await newMember(laurel, p);
    await buy(p, inSegment, '2027-02-28T12:00:00Z');
    await buy(p, inSegment, '2027-03-02T12:00:00Z');
    expect(await view(p, inSegment, a)).toMatchObject({ current: 1n, unlocked: false, deadline: new Date('2027-03-31T22:00:00Z') });
    await buy(p, inSegment, '2027-03-03T12:00:00Z');
    expect(await view(p, inSegment, a)).toMatchObject({ unlocked: true });
    await buy(p, outside, '2027-03-02T12:00:00Z');
    await buy(p, outside, '2027-03-03T12:00:00Z');
    expect(await view(p, outside, a)).toMatchObject({ unlocked: false, current: 0n });
  });

  it('a return undoes its purchase: spend by the refund, the count when the whole order came back; revokeOnReturn takes the badge and its points back', async () => {
    const p = await program();
    const keep = await create(p, { code: 'keep', name: 'Kept', kind: 'counter', target: 2, reward: { type: 'points', points: 100 } });
    const revoke = await create(p, { code: 'revoke', name: 'Revoked', kind: 'counter', target: 2, revokeOnReturn: true, reward: { type: 'points', points: 50 } });
    const spend = await create(p, { code: 'spend', name: 'Spend', kind: 'counter', metric: 'spend', target: 100000 });
    const m = await newMember(laurel, p);
    await buy(p, m, '2027-02-01T10:00:00Z', undefined, 'first');
    await buy(p, m, '2027-02-02T10:00:00Z', [{ sku: 'LATTE', category: 'coffee', quantity: 2, unitPrice: 450 }], 'second');
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(4n + 9n + 150n);
    await giveBack(p, 'second', 450);
    expect(await view(p, m, spend)).toMatchObject({ current: 900n });
    expect(await view(p, m, revoke)).toMatchObject({ unlocked: true, current: 2n });
    await giveBack(p, 'second');
    expect(await view(p, m, spend)).toMatchObject({ current: 450n });
    expect(await view(p, m, keep)).toMatchObject({ unlocked: true });
    expect(await view(p, m, revoke)).toMatchObject({ unlocked: false, current: 1n });
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(4n + 100n);
    expect(await messages(p, 'achievement.revoked')).toHaveLength(1);
    // The count is made again: the revoked badge is unlocked again, the kept one is not paid twice.
    await buy(p, m, '2027-02-03T10:00:00Z');
    expect(await view(p, m, revoke)).toMatchObject({ unlocked: true, timesUnlocked: 1 });
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(4n + 100n + 4n + 50n);
    await expectVerified(laurel, p.tenantId);
  });
});

describe('streaks, in the tenant time zone', () => {
  const weekly = (p: Program, k = 4) => create(p, { code: `weeks-${k}`, name: `${k} weeks in a row`, kind: 'streak', streakUnit: 'week', target: k, revokeOnReturn: true, reward: { type: 'points', points: 500 } });

  it('Pacific/Auckland: four weeks in a row across the April DST end, Monday 00:30 local still in its own week', async () => {
    const p = await program('Pacific/Auckland');
    const a = await weekly(p);
    const m = await newMember(laurel, p);
    // NZ daylight time ends 2027-04-04 03:00 local. Mondays 00:30 local: 2027-03-22 (+13), 03-29 (+13), 04-05 (+12), 04-12 (+12).
    for (const at of ['2027-03-21T11:30:00Z', '2027-03-28T11:30:00Z', '2027-04-04T12:30:00Z']) await buy(p, m, at);
    laurel.clock.set('2027-04-05T00:00:00Z');
    expect(await view(p, m, a)).toMatchObject({ unlocked: false, current: 3n, next: { remaining: 1n, unit: 'weeks' } });
    // Sunday 2027-04-11 23:30 local (+12) is the same week as 04-05: no new week.
    await buy(p, m, '2027-04-11T11:30:00Z');
    expect(await view(p, m, a)).toMatchObject({ unlocked: false });
    await buy(p, m, '2027-04-11T12:30:00Z');
    laurel.clock.set('2027-04-12T00:00:00Z');
    expect(await view(p, m, a)).toMatchObject({ unlocked: true, current: 4n, next: null });
  });

  it('Europe/Istanbul and Pacific/Auckland: days across a year end, and a day with no event breaks the run', async () => {
    for (const [zone, days] of [
      ['Europe/Istanbul', ['2026-12-30T20:59:00Z', '2026-12-31T20:30:00Z', '2027-01-01T20:00:00Z']],
      // Auckland in summer is +13: 2026-12-31 local starts at 2026-12-30T11:00Z.
      ['Pacific/Auckland', ['2026-12-30T10:59:00Z', '2026-12-30T11:00:00Z', '2027-01-01T10:00:00Z']],
      // Istanbul's last DST end, Sunday 2015-11-08 04:00 (+03 → +02): 7 Nov 23:30, 8 Nov 23:30, 9 Nov 00:30 local are three days.
      ['Europe/Istanbul', ['2015-11-07T20:30:00Z', '2015-11-08T21:30:00Z', '2015-11-08T22:30:00Z']],
      // Auckland's DST start, Sunday 2027-09-26 02:00 (+12 → +13): 25, 26 and 27 September local.
      ['Pacific/Auckland', ['2027-09-25T11:30:00Z', '2027-09-26T10:30:00Z', '2027-09-26T11:30:00Z']],
    ] as const) {
      const p = await program(zone);
      const a = await create(p, { code: 'days', name: '3 days', kind: 'streak', streakUnit: 'day', target: 3 });
      const m = await newMember(laurel, p);
      for (const at of days) await buy(p, m, at);
      expect((await view(p, m, a))!.unlocked, zone).toBe(true);
      const gap = await newMember(laurel, p);
      await buy(p, gap, days[0]);
      await buy(p, gap, days[2]);
      expect((await view(p, gap, a))!.unlocked, zone).toBe(false);
    }
  });

  it('Europe/Istanbul weeks across the year end; a week with no event breaks the streak, and so does a return of the week\'s only purchase', async () => {
    const p = await program('Europe/Istanbul');
    const a = await weekly(p);
    const m = await newMember(laurel, p);
    // ISO weeks: 2026-12-21, 12-28 (holds 2027-01-01), 2027-01-04, 01-11.
    await buy(p, m, '2026-12-22T09:00:00Z');
    await buy(p, m, '2027-01-01T09:00:00Z');
    await buy(p, m, '2027-01-10T20:59:00Z'); // Sunday 23:59 in Istanbul (+3)
    await buy(p, m, '2027-01-10T21:01:00Z', undefined, 'monday'); // Monday 00:01: the fourth week
    expect(await view(p, m, a)).toMatchObject({ unlocked: true });
    expect(await messages(p, 'achievement.unlocked')).toHaveLength(1);
    // The return of the fourth week's only purchase breaks the run: the badge (revokeOnReturn) and its 500 points go.
    const before = (await getBalance(laurel, p.tenantId, m)).available;
    await giveBack(p, 'monday');
    laurel.clock.set('2027-01-12T00:00:00Z');
    expect(await view(p, m, a)).toMatchObject({ unlocked: false, current: 3n });
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(before - 500n - 4n);
    // A member with a week missing: 3 weeks, a gap, then one more is a run of 1.
    const gap = await newMember(laurel, p);
    for (const at of ['2026-12-22T09:00:00Z', '2027-01-01T09:00:00Z', '2027-01-05T09:00:00Z', '2027-01-19T09:00:00Z']) await buy(p, gap, at);
    laurel.clock.set('2027-01-20T00:00:00Z');
    expect(await view(p, gap, a)).toMatchObject({ unlocked: false, current: 1n });
    await expectVerified(laurel, p.tenantId);
    laurel.clock.set('2027-03-01T12:00:00Z');
  });
});

describe('repeatable streaks', () => {
  /** Wednesday 12:00 UTC of the n-th week from Monday 2026-11-30: eleven weeks across the year end. */
  const week = (n: number, hour = 12) => new Date(Date.UTC(2026, 10, 30) + (n * 7 + 2) * 86_400_000 + hour * 3_600_000).toISOString();
  const repeatable = (p: Program, revokeOnReturn: boolean) => create(p, {
    code: 'four-weeks', name: 'Four weeks again', kind: 'streak', streakUnit: 'week', target: 4, repeatable: true, revokeOnReturn, reward: { type: 'points', points: 500 },
  });
  const unlocks = async (p: Program, m: string) => (await laurel.db.selectFrom('achievement_unlocks').select(['period', 'revoked_at'])
    .where('tenant_id', '=', p.tenantId).where('member_id', '=', m).orderBy('unlock_id').execute());

  it('Europe/Istanbul across the year end: eight weeks in a row are two runs of four, the count starts again after each, a purchase sent twice pays once', async () => {
    const p = await program('Europe/Istanbul');
    const a = await repeatable(p, false);
    const m = await newMember(laurel, p);
    for (let n = 0; n < 3; n++) await buy(p, m, week(n), undefined, `ist-${n}`);
    laurel.clock.set(week(3, 0));
    expect(await view(p, m, a)).toMatchObject({ unlocked: false, current: 3n, next: { remaining: 1n, unit: 'weeks' } });
    await buy(p, m, week(3), undefined, 'ist-3');
    // The same purchase again (a retry) and a second purchase in the same week: nothing more.
    await buy(p, m, week(3), undefined, 'ist-3');
    await buy(p, m, week(3, 13));
    laurel.clock.set(week(4, 0));
    expect(await view(p, m, a)).toMatchObject({ unlocked: true, timesUnlocked: 1, current: 0n, next: { remaining: 4n, unit: 'weeks' } });
    for (let n = 4; n < 7; n++) await buy(p, m, week(n));
    laurel.clock.set(week(7, 0));
    expect(await view(p, m, a)).toMatchObject({ timesUnlocked: 1, current: 3n });
    await buy(p, m, week(7));
    laurel.clock.set(week(8, 0));
    expect(await view(p, m, a)).toMatchObject({ timesUnlocked: 2, current: 0n });
    expect((await messages(p, 'achievement.unlocked')).map((x) => x.points)).toEqual([500, 500]);
    // 9 purchases of 4 points, 2 runs of 500
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(9n * 4n + 1000n);
    await expectVerified(laurel, p.tenantId);
    laurel.clock.set('2027-03-01T12:00:00Z');
  });

  it('Pacific/Auckland days across the year end and a DST change: each two days in a row unlock, a day with no event starts the count again', async () => {
    for (const [zone, days] of [
      // Auckland summer (+13): 2026-12-30, 12-31, 2027-01-01, 01-02 local, then a gap, then 01-04.
      ['Pacific/Auckland', ['2026-12-29T11:30:00Z', '2026-12-30T11:30:00Z', '2026-12-31T11:30:00Z', '2027-01-01T11:30:00Z', '2027-01-03T11:30:00Z']],
      // Auckland's DST end, Sunday 2027-04-04 03:00 (+13 → +12): 3, 4, 5, 6 April local, then 8 April.
      ['Pacific/Auckland', ['2027-04-02T11:30:00Z', '2027-04-03T11:30:00Z', '2027-04-04T12:30:00Z', '2027-04-05T12:30:00Z', '2027-04-07T12:30:00Z']],
    ] as const) {
      const p = await program(zone);
      const a = await create(p, { code: 'two-days', name: 'Two days', kind: 'streak', streakUnit: 'day', target: 2, repeatable: true });
      const m = await newMember(laurel, p);
      for (const at of days) await buy(p, m, at);
      laurel.clock.set(new Date(new Date(days[4]).getTime() + 3_600_000));
      expect(await view(p, m, a), zone).toMatchObject({ timesUnlocked: 2, current: 1n });
    }
    laurel.clock.set('2027-03-01T12:00:00Z');
  });

  it('a return that breaks a completed run does not pay it again; with revokeOnReturn it is revoked, and the run the other weeks still make is unlocked', async () => {
    const p = await program('Europe/Istanbul');
    const kept = await repeatable(p, false);
    const m = await newMember(laurel, p);
    for (let n = 0; n < 4; n++) await buy(p, m, week(n), undefined, `keep-${n}`);
    await giveBack(p, 'keep-1');
    // Week 1 bought again: it was part of the completed run, which is not paid twice.
    await buy(p, m, week(1, 14));
    const after = await unlocks(p, m);
    expect(after).toHaveLength(1);
    expect(after[0]!.revoked_at).toBeNull();
    laurel.clock.set(week(4, 0));
    expect(await view(p, m, kept)).toMatchObject({ timesUnlocked: 1, current: 0n });
    await expectVerified(laurel, p.tenantId);

    const q = await program('Europe/Istanbul');
    const revoking = await repeatable(q, true);
    const r = await newMember(laurel, q);
    for (let n = 0; n < 11; n++) await buy(q, r, week(n), undefined, `rev-${n}`);
    expect((await unlocks(q, r)).filter((u) => u.revoked_at === null)).toHaveLength(2);
    const before = (await getBalance(laurel, q.tenantId, r)).available;
    // Weeks 0–3 and 4–7 were the runs; without week 5, weeks 0–4 and 6–10 still make two: 4–7 is revoked, 6–9 unlocked.
    await giveBack(q, 'rev-5');
    const now = await unlocks(q, r);
    expect(now.filter((u) => u.revoked_at === null).map((u) => u.period).sort()).toEqual([now[0]!.period, now[0]!.period + 6].sort());
    expect(await messages(q, 'achievement.revoked')).toHaveLength(1);
    expect((await getBalance(laurel, q.tenantId, r)).available).toBe(before - 4n);
    // Without week 1 too, weeks 0, 2–4 make no run of four: 0–3 is revoked and nothing replaces it.
    await giveBack(q, 'rev-1');
    expect((await unlocks(q, r)).filter((u) => u.revoked_at === null)).toHaveLength(1);
    expect((await getBalance(laurel, q.tenantId, r)).available).toBe(before - 4n - 4n - 500n);
    laurel.clock.set(week(11, 0));
    expect(await view(q, r, revoking)).toMatchObject({ timesUnlocked: 1, current: 1n });
    await expectVerified(laurel, q.tenantId);
    laurel.clock.set('2027-03-01T12:00:00Z');
  });
});

describe('partial returns', () => {
  it('a distinct sku or category goes when all its units are back, the count and the streak day only with the whole purchase, spend by the money refunded', async () => {
    const p = await program();
    const skus = await create(p, { code: 'skus', name: 'Skus', kind: 'counter', metric: 'distinctSkus', target: 10 });
    const cats = await create(p, { code: 'cats', name: 'Categories', kind: 'counter', metric: 'distinctCategories', target: 10 });
    const count = await create(p, { code: 'count', name: 'Count', kind: 'counter', target: 10 });
    const spend = await create(p, { code: 'spend', name: 'Spend', kind: 'counter', metric: 'spend', target: 100000 });
    const days = await create(p, { code: 'days', name: 'Days', kind: 'streak', streakUnit: 'day', target: 5 });
    const m = await newMember(laurel, p);
    laurel.clock.set('2027-02-01T18:00:00Z');
    await buy(p, m, '2027-02-01T10:00:00Z', [
      { sku: 'LATTE', category: 'coffee', quantity: 2, unitPrice: 450 },
      { sku: 'ESPRESSO', category: 'coffee', quantity: 1, unitPrice: 250 },
      { sku: 'SCONE', category: 'pastry', quantity: 1, unitPrice: 300 },
    ], 'mixed');
    const back = (lines: { sku: string; quantity: number }[]) => ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId: ext('r'), type: 'return', purchaseExternalId: 'mixed', lines });
    const seen = async () => ({
      skus: (await view(p, m, skus))!.current, cats: (await view(p, m, cats))!.current, count: (await view(p, m, count))!.current,
      spend: (await view(p, m, spend))!.current, days: (await view(p, m, days))!.current,
    });
    expect(await seen()).toEqual({ skus: 3n, cats: 2n, count: 1n, spend: 1450n, days: 1n });
    // One latte of two: every figure but spend stays.
    await back([{ sku: 'LATTE', quantity: 1 }]);
    expect(await seen()).toEqual({ skus: 3n, cats: 2n, count: 1n, spend: 1000n, days: 1n });
    // The scone: its sku and its category go (no other pastry), the purchase still counts.
    await back([{ sku: 'SCONE', quantity: 1 }]);
    expect(await seen()).toEqual({ skus: 2n, cats: 1n, count: 1n, spend: 700n, days: 1n });
    // The other latte: coffee stays (the espresso), the latte goes.
    await back([{ sku: 'LATTE', quantity: 1 }]);
    expect(await seen()).toEqual({ skus: 1n, cats: 1n, count: 1n, spend: 250n, days: 1n });
    // The espresso: the whole purchase is back.
    await back([{ sku: 'ESPRESSO', quantity: 1 }]);
    expect(await seen()).toEqual({ skus: 0n, cats: 0n, count: 0n, spend: 0n, days: 0n });
    await expectVerified(laurel, p.tenantId);
    laurel.clock.set('2027-03-01T12:00:00Z');
  });
});

describe('balance milestones', () => {
  it('0 → 50 → 99 → 100 tells 50 then 100; back to 0 then straight to 150 tells 100 once', async () => {
    const p = await program('Europe/Paris', 1);
    await create(p, { code: 'balance', name: 'Balance', kind: 'milestone', thresholds: { list: [50, 100] } });
    const m = await newMember(laurel, p);
    const one = (n: number, id: string) => buy(p, m, '2027-02-01T10:00:00Z', [{ sku: 'X', quantity: 1, unitPrice: n }], id);
    await one(50, 'a');
    await one(49, 'b');
    await one(1, 'c');
    expect((await messages(p, 'milestone.reached')).map((x) => x.threshold)).toEqual([50, 100]);
    for (const id of ['a', 'b', 'c']) await giveBack(p, id);
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(0n);
    await one(150, 'd');
    expect((await messages(p, 'milestone.reached')).map((x) => x.threshold)).toEqual([50, 100, 100]);
    await expectVerified(laurel, p.tenantId);
  });
});

describe('milestone rewards', () => {
  it('a milestone pays its reward once per crossing: 0 → 50 → 99 → 100 pays at 50 and at 100, a fall and a new rise pay again', async () => {
    const p = await program('Europe/Paris', 1);
    await create(p, { code: 'balance', name: 'Balance', kind: 'milestone', thresholds: { list: [50, 100, 1000] }, reward: { type: 'points', points: 30 } });
    const m = await newMember(laurel, p);
    const one = (n: number, id: string) => buy(p, m, '2027-02-01T10:00:00Z', [{ sku: 'X', quantity: 1, unitPrice: n }], id);
    // 50 → 80 with the reward; 80 + 19 = 99 tells nothing; + 1 = 100 → 130.
    await one(50, 'ma');
    await one(19, 'mb');
    expect((await one(1, 'mc')).ledger!.balances[0]!.available).toBe(130n);
    const told = await messages(p, 'milestone.reached');
    expect(told.map((x) => [x.threshold, x.points])).toEqual([[50, 30], [100, 30]]);
    // A purchase sent again tells and pays nothing more.
    await one(1, 'mc');
    expect(await messages(p, 'milestone.reached')).toHaveLength(2);
    for (const id of ['ma', 'mb', 'mc']) await giveBack(p, id);
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(60n);
    await one(40, 'md');
    expect((await messages(p, 'milestone.reached')).map((x) => x.threshold)).toEqual([50, 100, 100]);
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(130n);
    await expectVerified(laurel, p.tenantId);
  });

  it('points a milestone pays tell no further milestone: the level moves to where they took the balance, silently', async () => {
    const p = await program('Europe/Paris', 1);
    await create(p, { code: 'every-50', name: 'Every 50', kind: 'milestone', thresholds: { every: 50 }, reward: { type: 'points', points: 60 } });
    const m = await newMember(laurel, p);
    const one = (n: number) => buy(p, m, '2027-02-01T10:00:00Z', [{ sku: 'X', quantity: 1, unitPrice: n }]);
    // 50 tells 50 and pays 60: 110, past 100 without telling it.
    await one(50);
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(110n);
    expect((await messages(p, 'milestone.reached')).map((x) => x.threshold)).toEqual([50]);
    // 110 + 40 = 150 tells 150 (not 100): 210.
    await one(40);
    expect((await messages(p, 'milestone.reached')).map((x) => x.threshold)).toEqual([50, 150]);
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(210n);
    const reward = await createReward(laurel, p.tenantId, p.programId, { code: 'mug', name: 'Mug', value: { type: 'free_product', sku: 'MUG' }, cost: 1 });
    await create(p, { code: 'mug-at-300', name: 'A mug at 300', kind: 'milestone', thresholds: { list: [300] }, reward: { type: 'reward', rewardId: reward.reward.rewardId } });
    await one(90);
    expect((await memberInstances(laurel, p.tenantId, m, null, 10)).map((i) => i.rewardId)).toEqual([reward.reward.rewardId]);
    await expectVerified(laurel, p.tenantId);
  });
});

describe('stamp cards', () => {
  it('nine coffees fill the card, the tenth gives a free coffee redeemed through the rewards flow, and the card starts again', async () => {
    const p = await program();
    const coffee = await createReward(laurel, p.tenantId, p.programId, { code: 'free-coffee', name: 'Free coffee', value: { type: 'free_product', sku: 'LATTE' }, cost: 1 });
    const card = await create(p, {
      code: 'coffee-card', name: 'Coffee card', kind: 'counter', target: 10, repeatable: true, stampCard: true,
      filter: '"coffee" in order.categories', reward: { type: 'reward', rewardId: coffee.reward.rewardId },
    });
    const m = await newMember(laurel, p);
    for (let i = 0; i < 9; i++) await buy(p, m, `2027-02-0${1 + (i % 9)}T10:00:00Z`);
    expect(await view(p, m, card)).toMatchObject({ current: 9n, target: 10n, unlocked: false, next: { remaining: 1n } });
    await buy(p, m, '2027-02-10T10:00:00Z');
    expect(await view(p, m, card)).toMatchObject({ current: 0n, unlocked: true, timesUnlocked: 1 });
    expect((await getReward(laurel, p.tenantId, coffee.reward.rewardId)).issued).toBe(1n);
    const [instance] = await memberInstances(laurel, p.tenantId, m, null, 10);
    expect(instance).toMatchObject({ rewardId: coffee.reward.rewardId, status: 'issued', cost: 0n, value: { type: 'free_product', sku: 'LATTE' } });
    const used = await consumeInstance(laurel, p.tenantId, { code: instance!.code, orderRef: 'till-1' }, { idempotencyKey: ext('k'), actor: 'test' });
    expect(used.instance.status).toBe('consumed');
    await buy(p, m, '2027-02-11T10:00:00Z');
    expect(await view(p, m, card)).toMatchObject({ current: 1n, timesUnlocked: 1 });
    await expectVerified(laurel, p.tenantId);
  });
});

describe('recompute', () => {
  it('editing does not rewrite history; a backfill computes progress from the events, a chunk at a time, and resumes', async () => {
    const p = await program();
    const members = [await newMember(laurel, p), await newMember(laurel, p), await newMember(laurel, p)];
    for (const m of members) for (let i = 0; i < 3; i++) await buy(p, m, `2027-02-0${i + 1}T10:00:00Z`);
    const a = await create(p, { code: 'late', name: 'Late', kind: 'counter', target: 2 });
    expect(await view(p, members[0]!, a)).toMatchObject({ current: 0n, unlocked: false });
    await updateAchievement(laurel, p.tenantId, a.achievementId, { code: 'late', name: 'Late, v2', kind: 'counter', target: 3 }, { actor: 'test' });
    expect(await view(p, members[0]!, a)).toMatchObject({ current: 0n });
    const b = await requestBackfill(laurel, p.tenantId, a.achievementId, { actor: 'test' });
    expect(b.status).toBe('pending');
    const seen: number[] = [];
    expect(await runBackfills(laurel, (n) => seen.push(n), 1)).toBe(3);
    expect(seen).toEqual([1, 2, 3]);
    for (const m of members) expect(await view(p, m, a)).toMatchObject({ current: 3n, unlocked: true, target: 3n });
    const done = await laurel.db.selectFrom('achievement_backfills').selectAll().where('backfill_id', '=', b.backfillId).executeTakeFirstOrThrow();
    expect(done).toMatchObject({ status: 'done', members_done: 3n, unlocks_found: 3n });
    // A second run finds nothing to do; a second backfill changes nothing.
    expect(await runBackfills(laurel)).toBe(0);
    await requestBackfill(laurel, p.tenantId, a.achievementId, { actor: 'test' });
    await runBackfills(laurel);
    for (const m of members) expect(await view(p, m, a)).toMatchObject({ current: 3n, timesUnlocked: 1 });
  });

  it('property: progress kept on the event path equals progress recomputed from history, over random purchases, partial and whole returns', async () => {
    const p = await program('Pacific/Auckland');
    const defs = [
      { code: 'count', name: 'c', kind: 'counter', target: 3, revokeOnReturn: true, reward: { type: 'points', points: 7 } },
      { code: 'stamps', name: 's', kind: 'counter', target: 2, repeatable: true, resetEvery: 'month', revokeOnReturn: true },
      { code: 'spend', name: 'sp', kind: 'counter', metric: 'spend', target: 3000, revokeOnReturn: true },
      { code: 'cats', name: 'd', kind: 'counter', metric: 'distinctCategories', target: 2, revokeOnReturn: true },
      { code: 'skus', name: 'k', kind: 'counter', metric: 'distinctSkus', target: 3, revokeOnReturn: true },
      { code: 'weeks', name: 'w', kind: 'streak', streakUnit: 'week', target: 2, filter: 'order.total >= 500' },
      { code: 'weeks-again', name: 'wa', kind: 'streak', streakUnit: 'week', target: 2, repeatable: true, revokeOnReturn: true, reward: { type: 'points', points: 11 } },
      { code: 'days-again', name: 'da', kind: 'streak', streakUnit: 'day', target: 2, repeatable: true },
    ];
    const achievements: Achievement[] = [];
    for (const d of defs) achievements.push(await create(p, d));
    const line = fc.record({ cat: fc.constantFrom('coffee', 'tea', 'cake'), variant: fc.constantFrom('S', 'L'), quantity: fc.integer({ min: 1, max: 2 }), price: fc.integer({ min: 100, max: 1500 }) });
    const step = fc.oneof(
      fc.record({ kind: fc.constant('buy' as const), day: fc.integer({ min: 0, max: 60 }), lines: fc.array(line, { minLength: 1, maxLength: 2 }) }),
      // A return: of money (refund), of some units of one line (units), or of everything left (neither).
      fc.record({ kind: fc.constant('return' as const), which: fc.nat(), refund: fc.option(fc.integer({ min: 1, max: 2000 }), { nil: undefined }), units: fc.option(fc.nat(), { nil: undefined }) }),
    );
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
      const m = await newMember(laurel, p);
      const bought: { id: string; money: number; units: Map<string, number> }[] = [];
      let day = 0;
      for (const s of steps) {
        if (s.kind === 'buy') {
          // Events in the order they occur: days move forward.
          day += s.day % 9;
          const id = ext('pp');
          const lines = [...new Map(s.lines.map((l) => [`${l.cat.toUpperCase()}-${l.variant}`, { sku: `${l.cat.toUpperCase()}-${l.variant}`, category: l.cat, quantity: l.quantity, unitPrice: l.price }])).values()];
          await buy(p, m, new Date(Date.UTC(2027, 0, 1) + day * 86_400_000 + 3_600_000).toISOString(), lines, id);
          bought.push({ id, money: lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0), units: new Map(lines.map((l) => [l.sku, l.quantity])) });
        } else {
          const open = bought.filter((b) => [...b.units.values()].some((u) => u > 0));
          const target = open[s.which % Math.max(1, open.length)];
          if (!target) continue;
          let result;
          if (s.units !== undefined) {
            const [sku, left] = [...target.units].filter(([, u]) => u > 0)[s.units % [...target.units].filter(([, u]) => u > 0).length]!;
            const quantity = 1 + (s.units % left);
            result = await ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId: ext('r'), type: 'return', purchaseExternalId: target.id, lines: [{ sku, quantity }] });
            target.units.set(sku, left - quantity);
          } else if (s.refund !== undefined && s.refund < target.money) {
            result = await giveBack(p, target.id, s.refund);
          } else {
            const lines = [...target.units].filter(([, u]) => u > 0).map(([sku, quantity]) => ({ sku, quantity }));
            result = await ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId: ext('r'), type: 'return', purchaseExternalId: target.id, lines });
            target.units = new Map();
          }
          target.money -= Number(result.event.refundAmount ?? 0n);
        }
      }
      const tallies = async () => (await laurel.db.selectFrom('achievement_tallies').select(['achievement_id', 'period', 'key', 'value'])
        .where('tenant_id', '=', p.tenantId).where('member_id', '=', m).where('value', '<>', 0n).orderBy('achievement_id').orderBy('period').orderBy('key').execute());
      const unlocks = async () => (await laurel.db.selectFrom('achievement_unlocks').select(['achievement_id', 'period', 'cycle'])
        .where('tenant_id', '=', p.tenantId).where('member_id', '=', m).where('revoked_at', 'is', null).orderBy('achievement_id').orderBy('period').orderBy('cycle').execute());
      // Each event's contributions, element by element (an event's row packs them): what its returns take back from.
      const contributions = async () => (await sql<{ e: string; pe: string; a: string; p: number; k: string; v: string }>`
        select c.event_id as e, c.purchase_event_id as pe, u.a, u.p, u.k, u.v::text as v
        from achievement_contributions c cross join lateral unnest(c.achievement_ids, c.periods, c.keys, c.amounts) as u(a, p, k, v)
        where c.tenant_id = ${p.tenantId} and c.member_id = ${m} order by 1, 2, 3, 4, 5`.execute(laurel.db)).rows;
      const kept = await tallies();
      const keptUnlocks = await unlocks();
      const keptContributions = await contributions();
      for (const a of achievements) await requestBackfill(laurel, p.tenantId, a.achievementId, { actor: 'test' });
      await runBackfills(laurel);
      expect(await tallies()).toEqual(kept);
      expect(await contributions()).toEqual(keptContributions);
      // Counters that revoke on return hold exactly what history earns; the backfill found nothing missing.
      expect(await unlocks()).toEqual(keptUnlocks);
      await expectVerified(laurel, p.tenantId);
    }), { numRuns: 15 });
  });
});

describe.skipIf(!onPostgres)('concurrency (PostgreSQL)', () => {
  it('24 members filling two stamp cards at once get a free coffee and a free tea each, and each reward counts 24', async () => {
    const p = await program();
    const cards = [];
    for (const sku of ['COFFEE', 'TEA']) {
      const reward = await createReward(laurel, p.tenantId, p.programId, { code: `free-${sku.toLowerCase()}`, name: `Free ${sku}`, value: { type: 'free_product', sku }, cost: 1 });
      await create(p, { code: `${sku.toLowerCase()}-card`, name: `${sku} card`, kind: 'counter', target: 1, repeatable: true, stampCard: true, reward: { type: 'reward', rewardId: reward.reward.rewardId } });
      cards.push(reward.reward.rewardId);
    }
    const members = await Promise.all(Array.from({ length: 24 }, () => newMember(laurel, p)));
    await Promise.all(members.map((m) => buy(p, m, '2027-02-01T10:00:00Z')));
    for (const rewardId of cards) expect((await getReward(laurel, p.tenantId, rewardId)).issued).toBe(24n);
    for (const m of members) expect((await memberInstances(laurel, p.tenantId, m, null, 10)).map((i) => i.rewardId).sort()).toEqual([...cards].sort());
    await expectVerified(laurel, p.tenantId);
  });

  it('20 purchases of one member at once unlock a counter once and pay it once; the same purchase sent twice at once counts once', async () => {
    const p = await program();
    const a = await create(p, { code: 'rush', name: 'Rush', kind: 'counter', target: 5, reward: { type: 'points', points: 300 } });
    const card = await create(p, { code: 'card', name: 'Card', kind: 'counter', target: 4, repeatable: true });
    const m = await newMember(laurel, p);
    await Promise.all(Array.from({ length: 20 }, (_, i) => buy(p, m, '2027-02-01T10:00:00Z', undefined, `rush-${i}`)));
    expect(await view(p, m, a)).toMatchObject({ unlocked: true, timesUnlocked: 1, current: 5n });
    expect(await view(p, m, card)).toMatchObject({ timesUnlocked: 5, current: 0n });
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(20n * 4n + 300n);
    const twice = await Promise.allSettled([buy(p, m, '2027-02-02T10:00:00Z', undefined, 'twin'), buy(p, m, '2027-02-02T10:00:00Z', undefined, 'twin')]);
    expect(twice.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await view(p, m, card)).toMatchObject({ timesUnlocked: 5, current: 1n });
    await expectVerified(laurel, p.tenantId);
  });
});
