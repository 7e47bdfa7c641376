// Tiers end to end on the database: upgrades inside the event that crossed a threshold (with their
// bonus and, if the ladder says so, the new rate for that very event), reviews that keep, grace or
// lower by one level, windows on the tenant's calendar, placement on a new ladder, progress and
// history. Every date below is worked out by hand in the comment above it.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WALLET } from '../src/core/program.js';
import { ingestEvent, type EventResult } from '../src/services/events.js';
import { getBalance } from '../src/services/ledger.js';
import { createMember, getMember, updateMember } from '../src/services/members.js';
import { createRule } from '../src/services/rules.js';
import { createProgram, createTenant } from '../src/services/tenants.js';
import { listTierHistory, memberTier, putLadder, reviewTiers } from '../src/services/tiers.js';
import { basicProgram, expectVerified, onPostgres, openTestLaurel } from './support/laurel.js';

type TestLaurel = Awaited<ReturnType<typeof openTestLaurel>>;
let laurel: TestLaurel;
beforeAll(async () => { laurel = await openTestLaurel('2026-01-02T12:00:00Z'); });
afterAll(async () => { await laurel.close(); });

/** Points at 1 per euro, the tier ladder's multiplier on top (tier_multiplier without factors of its own). */
const RULES = [
  { name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } },
  { name: 'Tier bonus', trigger: 'purchase', effect: { type: 'tier_multiplier' } },
];

/** member 0, silver 1000 (×1.5, +100 on reaching it), gold 5000 (×2, +500) qualifying points a calendar year. */
const LADDER = {
  metric: 'points', window: { kind: 'calendar_year' },
  tiers: [
    { code: 'member', name: 'Member', threshold: 0 },
    { code: 'silver', name: 'Silver', threshold: 1000, benefits: { earnMultiplier: '1.5', upgradeBonus: 100, flags: ['free_shipping'] } },
    { code: 'gold', name: 'Gold', threshold: 5000, benefits: { earnMultiplier: '2', upgradeBonus: 500, flags: ['free_shipping', 'early_access'] } },
  ],
};

interface Setup { tenantId: string; programId: string }

async function setup(ladder: Record<string, unknown> = LADDER, timeZone = 'Europe/Paris'): Promise<Setup> {
  const tenant = await createTenant(laurel, { name: 'Tiers', timeZone, currency: 'EUR' });
  const program = await createProgram(laurel, tenant.tenantId, basicProgram);
  for (const r of RULES) await createRule(laurel, tenant.tenantId, program.programId, r, { actor: 'test' });
  await putLadder(laurel, tenant.tenantId, program.programId, ladder, { actor: 'test' });
  return { tenantId: tenant.tenantId, programId: program.programId };
}

let serial = 0;
async function member(s: Setup): Promise<string> {
  return (await createMember(laurel, s.tenantId, { programId: s.programId, externalId: `t-${process.pid}-${++serial}` })).memberId;
}

/** A purchase of `euros` at `at` (the clock is moved there first: events are not from the future). */
async function buy(s: Setup, memberId: string, euros: number, at: string): Promise<EventResult> {
  laurel.clock.set(at);
  return ingestEvent(laurel, s.tenantId, {
    programId: s.programId, memberId, type: 'purchase', externalId: `o-${process.pid}-${++serial}`, occurredAt: at,
    lines: [{ sku: 'GOODS', quantity: 1, unitPrice: euros * 100 }],
  });
}

async function review(at: string) {
  laurel.clock.set(at);
  return reviewTiers(laurel, new Date(at));
}

const tierOf = async (s: Setup, memberId: string) => (await getMember(laurel, s.tenantId, memberId)).tier;
const available = async (s: Setup, memberId: string) => (await getBalance(laurel, s.tenantId, memberId, DEFAULT_WALLET)).available;
const history = async (s: Setup, memberId: string) =>
  (await listTierHistory(laurel, s.tenantId, memberId, null, 100)).reverse().map((h) => `${h.change} ${h.from ?? '-'}→${h.to}`);

describe('upgrades', () => {
  it('happen in the event that crosses the threshold, with the bonus of every tier climbed; that event earns at the old rate', async () => {
    const s = await setup();
    const m = await member(s);
    expect(await tierOf(s, m)).toBe('member');
    // €999: 999 points, below silver
    expect((await buy(s, m, 999, '2026-02-01T10:00:00Z')).tier).toBeNull();
    // €1: 1 point, 1000 in 2026: silver at once, +100
    const crossing = await buy(s, m, 1, '2026-02-02T10:00:00Z');
    expect(crossing.points).toBe(1n);
    expect(crossing.tier).toMatchObject({ from: 'member', to: 'silver', bonus: 100n, reason: 'upgrade: metric 1000 ≥ 1000 (silver)' });
    expect(crossing.ledger!.balances.find((b) => b.wallet === DEFAULT_WALLET)!.available).toBe(1100n);
    expect(await tierOf(s, m)).toBe('silver');
    // the next event earns at silver: €100 → 100 + 50
    expect((await buy(s, m, 100, '2026-02-03T10:00:00Z')).points).toBe(150n);
    // €4000 → 4000 + 2000 = 6000 more: 7150 in the year, gold, +500
    const big = await buy(s, m, 4000, '2026-02-04T10:00:00Z');
    expect(big.tier).toMatchObject({ from: 'silver', to: 'gold', bonus: 500n });
    expect(await available(s, m)).toBe(1100n + 150n + 6000n + 500n);
    expect(await history(s, m)).toEqual(['placed -→member', 'up member→silver', 'up silver→gold']);
    expect((await listTierHistory(laurel, s.tenantId, m, null, 1))[0]!.eventId).toBe(big.event.eventId);
    await expectVerified(laurel, s.tenantId);
  });

  it('climb several tiers at once, with every bonus; with upgradeRate crossing_event the crossing event earns at the tier it reaches', async () => {
    const s = await setup({ ...LADDER, upgradeRate: 'crossing_event' });
    const m = await member(s);
    // €3000: 3000 at member rate reaches silver; at silver's ×1.5, 4500 — below gold, so it stays silver, earning 4500, +100
    const first = await buy(s, m, 3000, '2026-03-01T10:00:00Z');
    expect(first).toMatchObject({ points: 4500n, tier: { from: 'member', to: 'silver', bonus: 100n } });
    const n = await member(s);
    // €4000: 4000 reaches silver; ×1.5 = 6000 reaches gold; ×2 = 8000: gold, both bonuses
    const second = await buy(s, n, 4000, '2026-03-01T11:00:00Z');
    expect(second).toMatchObject({ points: 8000n, tier: { from: 'member', to: 'gold', bonus: 600n, reason: 'upgrade: metric 8000 ≥ 5000 (gold)' } });
    expect(await available(s, n)).toBe(8600n);
    await expectVerified(laurel, s.tenantId);
  });

  it('a return never lowers a tier at once: it is counted at the next review', async () => {
    const s = await setup();
    const m = await member(s);
    const order = await buy(s, m, 1200, '2026-04-01T10:00:00Z');
    expect(await tierOf(s, m)).toBe('silver');
    laurel.clock.set('2026-04-02T10:00:00Z');
    await ingestEvent(laurel, s.tenantId, {
      programId: s.programId, type: 'return', externalId: `r-${++serial}`, purchaseExternalId: order.event.externalId, refundAmount: 60_000,
    });
    // 1200 − 600 taken back: 600 in 2026, still silver until 1 January
    expect(await tierOf(s, m)).toBe('silver');
    expect((await memberTier(laurel, s.tenantId, m)).progress).toMatchObject({ metric: 600n, missingToKeep: 400n });
    // Paris: 2027-01-01 00:00 = 2026-12-31T23:00Z
    await review('2026-12-31T23:00:00Z');
    expect(await tierOf(s, m)).toBe('member');
    await expectVerified(laurel, s.tenantId);
  });
});

describe('windows on the tenant calendar', () => {
  it('calendar year in Auckland (UTC+13 in summer): 23:30 on 31 December counts for that year, 00:30 on 1 January for the next', async () => {
    const s = await setup(LADDER, 'Pacific/Auckland');
    const late = await member(s);
    const early = await member(s);
    await buy(s, late, 700, '2026-06-01T00:00:00Z');
    await buy(s, early, 700, '2026-06-01T00:00:00Z');
    // 2026-12-31 23:30 NZDT = 2026-12-31T10:30Z: 1000 in 2026, silver
    expect((await buy(s, late, 300, '2026-12-31T10:30:00Z')).tier).toMatchObject({ to: 'silver' });
    // 2027-01-01 00:30 NZDT = 2026-12-31T11:30Z, still 2026 in UTC: 2027 has 300, no upgrade
    expect((await buy(s, early, 300, '2026-12-31T11:30:00Z')).tier).toBeNull();
    expect((await memberTier(laurel, s.tenantId, early)).progress.window).toEqual({
      start: new Date('2026-12-31T11:00:00Z'), end: new Date('2027-12-31T11:00:00Z'),
    });
    // The review at 2027-01-01 00:00 NZDT (2026-12-31T11:00Z) judges 2026: 1000, kept
    await review('2026-12-31T12:00:00Z');
    expect(await tierOf(s, late)).toBe('silver');
    expect((await memberTier(laurel, s.tenantId, late)).reviewAt).toEqual(new Date('2027-12-31T11:00:00Z'));
  });

  it('rolling 12 months, reviewed 12 months after the tier was reached: activity older than the window no longer counts', async () => {
    const s = await setup({ ...LADDER, window: { kind: 'rolling_months', months: 12 } });
    const [keeps, loses] = [await member(s), await member(s)];
    for (const m of [keeps, loses]) {
      await buy(s, m, 600, '2026-03-10T10:00:00Z');
      // 1000 in the last 12 months on 1 May: silver, reached 2026-05-01 (Paris), reviewed 2027-05-01 00:00 Paris = 2027-04-30T22:00Z
      await buy(s, m, 400, '2026-05-01T10:00:00Z');
      expect(await tierOf(s, m)).toBe('silver');
    }
    expect((await memberTier(laurel, s.tenantId, keeps)).reviewAt).toEqual(new Date('2027-04-30T22:00:00Z'));
    // 23:30 Paris on 30 April 2027: inside the window the review judges
    await buy(s, keeps, 600, '2027-04-30T21:30:00Z');
    // window [2026-05-01, 2027-05-01) Paris: keeps has 400 + 600 (×1.5 = 900) = 1300; loses has 400 (March fell out)
    await review('2027-04-30T22:00:00Z');
    expect(await tierOf(s, keeps)).toBe('silver');
    expect(await tierOf(s, loses)).toBe('member');
    expect(await history(s, loses)).toEqual(['placed -→member', 'up member→silver', 'down silver→member']);
  });
});

describe('reviews', () => {
  it('lower a tier by one level at most, once a year', async () => {
    const s = await setup();
    const m = await member(s);
    await buy(s, m, 5000, '2026-03-01T10:00:00Z');
    expect(await tierOf(s, m)).toBe('gold');
    // 2027-01-01 Paris judges 2026 (5000): kept
    await review('2026-12-31T23:00:00Z');
    expect(await tierOf(s, m)).toBe('gold');
    await buy(s, m, 200, '2027-02-01T10:00:00Z');
    // reviews at 2028-01-01 and 2029-01-01 Paris (winter, UTC+1): 2027 had 400 (×2), 2028 nothing
    await review('2027-12-31T23:00:00Z');
    expect(await tierOf(s, m)).toBe('silver');
    await review('2028-12-31T23:00:00Z');
    expect(await tierOf(s, m)).toBe('member');
    expect((await listTierHistory(laurel, s.tenantId, m, null, 10)).map((h) => h.reason).slice(0, 2)).toEqual([
      'review: down one level (metric 0 < 1000)', 'review: down one level (metric 400 < 5000)',
    ]);
    // a review run twice, or late, changes nothing more
    await review('2028-12-31T23:30:00Z');
    expect(await history(s, m)).toEqual(['placed -→member', 'up member→gold', 'down gold→silver', 'down silver→member']);
  });

  it('with a grace: a member below their tier keeps it for graceDays, then goes down unless they requalify in the meantime', async () => {
    const s = await setup({ ...LADDER, graceDays: 30 });
    const [idle, back] = [await member(s), await member(s)];
    for (const m of [idle, back]) await buy(s, m, 5000, '2026-03-01T10:00:00Z');
    // 2027-01-01 Paris: 2026 had 0 after March? No: 5000 — kept. 2028-01-01 judges 2027: 0, grace to 2028-01-31 00:00 Paris
    await review('2026-12-31T23:00:00Z');
    await review('2027-12-31T23:00:00Z');
    for (const m of [idle, back]) {
      expect(await tierOf(s, m)).toBe('gold');
      const t = await memberTier(laurel, s.tenantId, m);
      expect(t.graceUntil).toEqual(new Date('2028-01-30T23:00:00Z'));
      expect(t.progress.securedUntil).toEqual(new Date('2028-01-30T23:00:00Z'));
    }
    // back earns 2500 × 2 = 5000 in January 2028: the grace-end review judges 2028 so far
    await buy(s, back, 2500, '2028-01-15T10:00:00Z');
    await review('2028-01-30T23:00:00Z');
    expect(await tierOf(s, idle)).toBe('silver');
    expect(await tierOf(s, back)).toBe('gold');
    expect(await history(s, idle)).toEqual(['placed -→member', 'up member→gold', 'grace gold→gold', 'down gold→silver']);
    // back's grace is over and it is next reviewed on 1 January 2029
    expect(await memberTier(laurel, s.tenantId, back)).toMatchObject({ graceUntil: null, reviewAt: new Date('2028-12-31T23:00:00Z') });
  });
});

describe('progress', () => {
  it('shows the metric in the window, the next tier, what is missing and the date the tier is secured until', async () => {
    const s = await setup({ ...LADDER, graceDays: 10 });
    const m = await member(s);
    await buy(s, m, 1200, '2026-05-01T10:00:00Z');
    const t = await memberTier(laurel, s.tenantId, m);
    expect(t.tier).toMatchObject({ code: 'silver', benefits: { earnMultiplier: '1.5', flags: ['free_shipping'] } });
    expect(t.progress).toEqual({
      tier: 'silver', metric: 1200n, nextTier: 'gold', missing: 3800n, missingToKeep: 0n,
      window: { start: new Date('2025-12-31T23:00:00Z'), end: new Date('2026-12-31T23:00:00Z') },
      // the review on 1 January 2027 can only start a 10-day grace
      securedUntil: new Date('2027-01-10T23:00:00Z'),
    });
  });
});

describe('a ladder set on a program with members', () => {
  it('places them on its first tier, and the next review lifts them to the tier their metric reaches, without a bonus', async () => {
    const tenant = await createTenant(laurel, { name: 'Late ladder', timeZone: 'Europe/Paris', currency: 'EUR' });
    const program = await createProgram(laurel, tenant.tenantId, basicProgram);
    await createRule(laurel, tenant.tenantId, program.programId, RULES[0]!, { actor: 'test' });
    const s = { tenantId: tenant.tenantId, programId: program.programId };
    const [rich, poor] = [await member(s), await member(s)];
    await buy(s, rich, 6000, '2026-06-01T10:00:00Z');
    await buy(s, poor, 10, '2026-06-01T10:00:00Z');
    expect(await tierOf(s, rich)).toBeNull();
    laurel.clock.set('2026-06-02T10:00:00Z');
    const saved = await putLadder(laurel, s.tenantId, s.programId, LADDER, { actor: 'test' });
    expect(saved.placed).toBe(2);
    expect(await tierOf(s, rich)).toBe('member');
    const stats = await review('2026-06-02T10:05:00Z');
    expect(stats.placed).toBeGreaterThanOrEqual(2);
    expect(await tierOf(s, rich)).toBe('gold');
    expect(await tierOf(s, poor)).toBe('member');
    expect(await available(s, rich)).toBe(6000n);
    expect(await history(s, rich)).toEqual(['placed -→member', 'placed member→gold']);
    // setting the same ladder again moves nobody
    expect((await putLadder(laurel, s.tenantId, s.programId, LADDER, { actor: 'test' })).placed).toBe(0);
  });

  it('an admin may set a tier on the ladder (recorded), not one off it', async () => {
    const s = await setup();
    const m = await member(s);
    await updateMember(laurel, s.tenantId, m, { tier: 'gold' });
    expect(await history(s, m)).toEqual(['placed -→member', 'set member→gold']);
    await expect(updateMember(laurel, s.tenantId, m, { tier: 'platinum' })).rejects.toMatchObject({ code: 'validation', field: 'tier' });
    await expect(updateMember(laurel, s.tenantId, m, { tier: null })).rejects.toMatchObject({ code: 'validation', field: 'tier' });
    expect(await tierOf(s, m)).toBe('gold');
  });
});

describe('jobs over tiers', () => {
  it('a review cut short is finished by the next run, and running it again changes nothing', async () => {
    const s = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const m = await member(s);
      ids.push(m);
      await buy(s, m, i % 2 === 0 ? 5000 : 1000, '2026-02-01T10:00:00Z');
    }
    await review('2026-12-31T23:00:00Z');
    // 2027: nothing bought; at 2028-01-01 everybody goes down one level. The first run dies after its first chunk of 3
    // (other tests' programs are due too, so which chunk that is depends on the order of programs).
    const at = new Date('2027-12-31T23:00:00Z');
    laurel.clock.set(at);
    await expect(reviewTiers(laurel, at, (done) => { if (done >= 3) throw new Error('killed'); }, 3)).rejects.toThrow('killed');
    const down = async () => Promise.all(ids.map((m) => tierOf(s, m)));
    await reviewTiers(laurel, at, () => {}, 3);
    expect(await down()).toEqual(ids.map((_, i) => (i % 2 === 0 ? 'silver' : 'member')));
    await reviewTiers(laurel, at);
    expect(await down()).toEqual(ids.map((_, i) => (i % 2 === 0 ? 'silver' : 'member')));
    for (const m of ids) expect((await history(s, m)).filter((h) => h.startsWith('down'))).toHaveLength(1);
    await expectVerified(laurel, s.tenantId);
  });

  it.skipIf(!onPostgres)('two workers reviewing at once have the effect of one', async () => {
    const s = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const m = await member(s);
      ids.push(m);
      await buy(s, m, 5000, '2026-02-01T10:00:00Z');
    }
    await review('2026-12-31T23:00:00Z');
    const at = new Date('2027-12-31T23:00:00Z');
    laurel.clock.set(at);
    await Promise.all([reviewTiers(laurel, at, () => {}, 7), reviewTiers(laurel, at, () => {}, 7)]);
    for (const m of ids) {
      expect(await tierOf(s, m)).toBe('silver');
      expect(await history(s, m)).toEqual(['placed -→member', 'up member→gold', 'down gold→silver']);
    }
  });
});

describe('properties', () => {
  it('purchases alone: the tier is the highest the year reaches, every bonus is paid once, and the ledger adds up', async () => {
    // The oracle is LADDER's data, not the core's functions: silver from 1,000 (+100), gold from 5,000 (+500).
    const tierAt = (metric: bigint) => (metric >= 5000n ? 'gold' : metric >= 1000n ? 'silver' : 'member');
    const bonusTo = (tier: string) => (tier === 'gold' ? 600n : tier === 'silver' ? 100n : 0n);
    const s = await setup();
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }), async (euros) => {
      const m = await member(s);
      let metric = 0n;
      let earned = 0n;
      let tier = 'member';
      for (const [i, e] of euros.entries()) {
        const r = await buy(s, m, e, `2026-07-01T10:${String(i).padStart(2, '0')}:00Z`);
        // the rate is the tier's before the event (next_event)
        const factor = tier === 'gold' ? 4n : tier === 'silver' ? 3n : 2n;
        const points = (BigInt(e) * factor) / 2n;
        expect(r.points).toBe(points);
        metric += points;
        earned += points;
        tier = tierAt(metric);
      }
      expect(await tierOf(s, m)).toBe(tier);
      expect(await available(s, m)).toBe(earned + bonusTo(tier));
    }), { numRuns: onPostgres ? 15 : 10 });
    await expectVerified(laurel, s.tenantId);
  });
});
