// Rule limits under races, on PostgreSQL: many events on separate connections against one budget,
// one campaign budget shared by two rules, one member's monthly cap, and one event sent many times
// at once. Budgets and caps are never exceeded, nothing is given twice, and `verify` passes.
// PGlite has one connection and serialises transactions: there these tests are skipped.
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/errors.js';
import { ingestEvent, type EventResult } from '../src/services/events.js';
import { getBalance } from '../src/services/ledger.js';
import { createCampaign, createRule, getCampaign, getRule, updateRule } from '../src/services/rules.js';
import type { Program } from '../src/services/tenants.js';
import { expectVerified, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

/** Connections of this file: with the other concurrency file beside it, 30 each stays under the server's 100. */
const CONNECTIONS = 30;
let laurel: Awaited<ReturnType<typeof openTestLaurel>>;

const times = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));

/** Runs every call at once and sorts the outcomes; an error that is not a DomainError would be a 500. */
async function race<T>(calls: (() => Promise<T>)[]): Promise<{ ok: T[]; failed: unknown[] }> {
  const outcomes = await Promise.allSettled(calls.map((c) => c()));
  return {
    ok: outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])),
    failed: outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : [])),
  };
}

const codeOf = (e: unknown): string => (e instanceof DomainError ? e.code : `raw error ${(e as { code?: string }).code ?? ''}: ${(e as Error).message}`);

// 10000 minor units at 1 point per 100: 100 points an event
const LINES = [{ sku: 'BAG', quantity: 1, unitPrice: 10_000 }];

const purchase = (p: Program, memberId: string, externalId: string) =>
  ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId, type: 'purchase', memberId, lines: LINES });

/** A point per euro paid, under a budget */
const budgetedRule = (p: Program, budget: number, name = 'Launch') => createRule(laurel, p.tenantId, p.programId, {
  name, trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { budget },
}, { actor: 'test' });

async function awarded(p: Program, where: { ruleId?: string; campaignId?: string } = {}): Promise<{ rows: number; points: bigint }> {
  let q = laurel.db.selectFrom('rule_awards').select([sql<number>`count(*)::int`.as('n'), sql<string>`coalesce(sum(points), 0)::text`.as('s')])
    .where('tenant_id', '=', p.tenantId);
  if (where.ruleId) q = q.where('rule_id', '=', where.ruleId);
  if (where.campaignId) q = q.where('campaign_id', '=', where.campaignId);
  const row = await q.executeTakeFirstOrThrow();
  return { rows: row.n, points: BigInt(row.s) };
}

async function earnedInJournal(p: Program): Promise<bigint> {
  const row = await laurel.db.selectFrom('journal_entries').select(sql<string>`coalesce(sum(amount), 0)::text`.as('s'))
    .where('tenant_id', '=', p.tenantId).where('kind', '=', 'earn').executeTakeFirstOrThrow();
  return BigInt(row.s);
}

describe.skipIf(!onPostgres)('rule limits under concurrency on PostgreSQL (separate connections)', () => {
  beforeAll(async () => {
    laurel = await openTestLaurel('2026-01-15T10:00:00Z', {}, CONNECTIONS);
    // Open the connections up front, so the races start together instead of queueing on connects.
    await Promise.all(times(CONNECTIONS, () => sql`select pg_sleep(0.05)`.execute(laurel.db)));
  });
  afterAll(async () => { await laurel?.close(); });
  beforeEach(() => { laurel.clock.set('2026-01-15T10:00:00Z'); });

  it('50 members buy at once against a rule budget of 1,000 (100 each): exactly 10 earn, 1,000 in all', async () => {
    const p = await newProgram(laurel);
    const rule = await budgetedRule(p, 1000);
    const members = await Promise.all(times(50, () => newMember(laurel, p)));
    const { ok, failed } = await race(members.map((m, i) => () => purchase(p, m, `order-${i}`)));
    expect(failed.map(codeOf)).toEqual([]);
    expect(ok).toHaveLength(50);
    const earning = ok.filter((r) => r.points > 0n);
    expect(earning).toHaveLength(10);
    expect(earning.every((r) => r.points === 100n)).toBe(true);
    // the others were told why: the budget
    for (const r of ok.filter((x) => x.points === 0n)) {
      expect(r.event.explanation).toMatchObject([{ ruleId: rule.ruleId, points: 0n, uncapped: 100n, limitedBy: ['rule_budget'] }]);
      expect(r.event.entries).toEqual([]);
    }
    expect(ok.reduce((s, r) => s + r.points, 0n)).toBe(1000n);
    expect((await getRule(laurel, p.tenantId, rule.ruleId)).budgetUsed).toBe(1000n);
    expect(await awarded(p, { ruleId: rule.ruleId })).toEqual({ rows: 10, points: 1000n });
    expect(await earnedInJournal(p)).toBe(1000n);
    await expectVerified(laurel, p.tenantId);
  });

  it("64 members buy at once against a budget of 5,000 in 16 shards: the shards' rooms run out unevenly, and exactly 50 earn", async () => {
    const p = await newProgram(laurel);
    const rule = await budgetedRule(p, 5000);
    const members = await Promise.all(times(64, () => newMember(laurel, p)));
    const { ok, failed } = await race(members.map((m, i) => () => purchase(p, m, `order-${i}`)));
    expect(failed.map(codeOf)).toEqual([]);
    // as if one after another: 50 take 100 each (from their shard, or from all once theirs ran short), 14 get nothing
    expect(ok.filter((r) => r.points > 0n).map((r) => r.points)).toEqual(times(50, () => 100n));
    expect(ok.filter((r) => r.points === 0n).map((r) => r.event.explanation[0]!.limitedBy)).toEqual(times(14, () => ['rule_budget']));
    expect((await getRule(laurel, p.tenantId, rule.ruleId)).budgetUsed).toBe(5000n);
    expect(await awarded(p, { ruleId: rule.ruleId })).toEqual({ rows: 50, points: 5000n });
    await expectVerified(laurel, p.tenantId);
  });

  it('a budget lowered while 40 purchases race: its shards end holding the new budget, and nothing is given beyond what it leaves', async () => {
    const p = await newProgram(laurel);
    const definition = { name: 'Launch', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { budget: 10_000 } };
    const rule = await createRule(laurel, p.tenantId, p.programId, definition, { actor: 'test' });
    const members = await Promise.all(times(40, () => newMember(laurel, p)));
    const { failed } = await race<unknown>([
      ...members.map((m, i) => () => purchase(p, m, `order-${i}`)),
      () => updateRule(laurel, p.tenantId, rule.ruleId, { ...definition, limits: { budget: 1000 } }, { actor: 'test' }),
    ]);
    expect(failed.map(codeOf)).toEqual([]);
    const used = (await getRule(laurel, p.tenantId, rule.ruleId)).budgetUsed;
    expect((await awarded(p, { ruleId: rule.ruleId })).points).toBe(used);
    const shards = await laurel.db.selectFrom('budget_shards').select(['budget', 'room'])
      .where('tenant_id', '=', p.tenantId).where('scope', '=', `rule:${rule.ruleId}`).execute();
    expect(shards.map((s) => Number(s.budget))).toEqual(times(16, () => 1000));
    const left = used >= 1000n ? 0n : 1000n - used;
    expect(shards.reduce((sum, s) => sum + BigInt(s.room), 0n)).toBe(left);
    // the events that ran after the edit saw the new budget: a late one earns what it leaves
    expect((await purchase(p, await newMember(laurel, p), 'late')).points).toBe(left < 100n ? left : 100n);
    await expectVerified(laurel, p.tenantId);
  });

  it('a campaign budget of 1,000 shared by two rules (60 + 40 an event): exactly 10 events earn', async () => {
    const p = await newProgram(laurel);
    const c = await createCampaign(laurel, p.tenantId, p.programId, { name: 'Launch', budget: 1000 });
    await createRule(laurel, p.tenantId, p.programId, { name: 'A', trigger: 'purchase', effect: { type: 'fixed_points', points: 60 }, campaignId: c.campaignId, priority: 1 }, { actor: 'test' });
    await createRule(laurel, p.tenantId, p.programId, { name: 'B', trigger: 'purchase', effect: { type: 'fixed_points', points: 40 }, campaignId: c.campaignId }, { actor: 'test' });
    const members = await Promise.all(times(50, () => newMember(laurel, p)));
    const { ok, failed } = await race(members.map((m, i) => () => purchase(p, m, `order-${i}`)));
    expect(failed.map(codeOf)).toEqual([]);
    expect(ok.filter((r) => r.points > 0n).map((r) => r.points)).toEqual(times(10, () => 100n));
    expect(ok.reduce((s, r) => s + r.points, 0n)).toBe(1000n);
    expect((await getCampaign(laurel, p.tenantId, c.campaignId)).budgetUsed).toBe(1000n);
    expect(await awarded(p, { campaignId: c.campaignId })).toEqual({ rows: 20, points: 1000n });
    expect(await earnedInJournal(p)).toBe(1000n);
    await expectVerified(laurel, p.tenantId);
  });

  it('one member, 20 purchases at once, a monthly cap of 500 (100 each): exactly 500', async () => {
    const p = await newProgram(laurel);
    const rule = await createRule(laurel, p.tenantId, p.programId, {
      name: 'Capped', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { perMember: [{ period: 'month', points: 500 }] },
    }, { actor: 'test' });
    const m = await newMember(laurel, p);
    const { ok, failed } = await race(times(20, (i) => () => purchase(p, m, `order-${i}`)));
    expect(failed.map(codeOf)).toEqual([]);
    expect(ok.filter((r) => r.points > 0n).map((r) => r.points)).toEqual(times(5, () => 100n));
    for (const r of ok.filter((x) => x.points === 0n)) {
      expect(r.event.explanation).toMatchObject([{ ruleId: rule.ruleId, points: 0n, uncapped: 100n, limitedBy: ['rule_cap'] }]);
    }
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 500n, lifetimeEarned: 500n });
    expect(await awarded(p, { ruleId: rule.ruleId })).toEqual({ rows: 5, points: 500n });
    await expectVerified(laurel, p.tenantId);
  });

  it('one member, 20 purchases at once, a campaign cap of 500 a month over two rules: exactly 500', async () => {
    const p = await newProgram(laurel);
    const c = await createCampaign(laurel, p.tenantId, p.programId, { name: 'Monthly', perMember: [{ period: 'month', points: 500 }] });
    await createRule(laurel, p.tenantId, p.programId, { name: 'A', trigger: 'purchase', effect: { type: 'fixed_points', points: 70 }, campaignId: c.campaignId, priority: 1 }, { actor: 'test' });
    await createRule(laurel, p.tenantId, p.programId, { name: 'B', trigger: 'purchase', effect: { type: 'fixed_points', points: 30 }, campaignId: c.campaignId }, { actor: 'test' });
    const m = await newMember(laurel, p);
    const { ok, failed } = await race(times(20, (i) => () => purchase(p, m, `order-${i}`)));
    expect(failed.map(codeOf)).toEqual([]);
    expect(ok.reduce((s, r) => s + r.points, 0n)).toBe(500n);
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 500n });
    expect((await awarded(p, { campaignId: c.campaignId })).points).toBe(500n);
    await expectVerified(laurel, p.tenantId);
  });

  it('the same event sent 10 times at once is applied once, and every sender gets the same answer', async () => {
    const p = await newProgram(laurel);
    const rule = await budgetedRule(p, 1000, 'Budgeted');
    const m = await newMember(laurel, p);
    const { ok, failed } = await race(times(10, () => () => purchase(p, m, 'order-twin')));
    expect(failed.map(codeOf)).toEqual([]);
    expect(ok).toHaveLength(10);
    for (const r of ok) expect(r).toEqual(ok[0]);
    expect((ok[0] as EventResult).points).toBe(100n);
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 100n });
    expect((await getRule(laurel, p.tenantId, rule.ruleId)).budgetUsed).toBe(100n);
    expect(await awarded(p)).toEqual({ rows: 1, points: 100n });
    const events = await laurel.db.selectFrom('events').select(sql<number>`count(*)::int`.as('n')).where('tenant_id', '=', p.tenantId).executeTakeFirstOrThrow();
    expect(events.n).toBe(1);
    await expectVerified(laurel, p.tenantId);
  });

  it('10 first events at once of one new member in a universal program with a welcome bonus: one member, one welcome', async () => {
    const p = await newProgram(laurel, { enrollmentMode: 'universal' });
    await createRule(laurel, p.tenantId, p.programId, { name: 'Welcome', trigger: 'signup', effect: { type: 'fixed_points', points: 100 } }, { actor: 'test' });
    await createRule(laurel, p.tenantId, p.programId, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
    const { ok, failed } = await race(times(10, (i) => () => ingestEvent(laurel, p.tenantId, {
      programId: p.programId, externalId: `first-${i}`, type: 'purchase', member: { email: 'rush@example.com' }, lines: LINES,
    })));
    expect(failed.map(codeOf)).toEqual([]);
    const members = new Set(ok.map((r) => r.event.memberId));
    expect(members.size).toBe(1);
    const [m] = [...members] as [string];
    // 10 × 100 for the purchases, 100 once for the welcome
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 1100n, lifetimeEarned: 1100n });
    const signups = await laurel.db.selectFrom('events').select(sql<number>`count(*)::int`.as('n'))
      .where('tenant_id', '=', p.tenantId).where('type', '=', 'signup').executeTakeFirstOrThrow();
    expect(signups.n).toBe(1);
    await expectVerified(laurel, p.tenantId);
  });

  it('returns racing purchases give budget back: the budget is never over-spent and ends where the awards say', async () => {
    const p = await newProgram(laurel);
    const rule = await budgetedRule(p, 1000);
    const members = await Promise.all(times(30, () => newMember(laurel, p)));
    // 10 purchases take the whole budget; then their returns race 20 new purchases
    for (const [i, m] of members.slice(0, 10).entries()) expect((await purchase(p, m, `first-${i}`)).points).toBe(100n);
    const { ok, failed } = await race([
      ...times(10, (i) => () => ingestEvent(laurel, p.tenantId, {
        programId: p.programId, externalId: `return-${i}`, type: 'return', purchaseExternalId: `first-${i}`, refundAmount: 10_000,
      })),
      ...members.slice(10).map((m, i) => () => purchase(p, m, `second-${i}`)),
    ]);
    expect(failed.map(codeOf)).toEqual([]);
    const points = ok.map((r) => r.points);
    // every return took its 100 back, and gave them back to the budget: the new purchases earned exactly that
    expect(points.filter((x) => x < 0n)).toEqual(times(10, () => -100n));
    const secondEarned = points.filter((x) => x > 0n).reduce((a, b) => a + b, 0n);
    const used = (await getRule(laurel, p.tenantId, rule.ruleId)).budgetUsed;
    expect(used).toBe(secondEarned);
    expect(used).toBeLessThanOrEqual(1000n);
    expect((await awarded(p, { ruleId: rule.ruleId })).points).toBe(used);
    // and what the race left of the budget is still there to earn
    const late = await newMember(laurel, p);
    expect((await purchase(p, late, 'late')).points).toBe(1000n - used < 100n ? 1000n - used : 100n);
    expect((await getRule(laurel, p.tenantId, rule.ruleId)).budgetUsed).toBe(used + (1000n - used < 100n ? 1000n - used : 100n));
    await expectVerified(laurel, p.tenantId);
  });
});
