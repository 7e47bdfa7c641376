// Earning rules end to end, through the services, on PGlite or PostgreSQL: every amount below is
// computed by hand in the comments. A program earns only by its rules; an event is one
// transaction (rules, awards, budgets, journal, event row); returns re-evaluate what is left of
// the order with the versions and facts of the purchase. Every scenario ends with `verify`, and
// checks that the rule awards and the ledger agree.
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../src/core/rules/budget.js';
import type { PurchaseLine } from '../src/core/events/purchase.js';
import type { ProgramInput } from '../src/core/program.js';
import { settleDue } from '../src/db/settlement.js';
import { openLaurel } from '../src/services/context.js';
import { enrolMember, ingestEvent, listMemberEvents, type EventResult, type IngestInput } from '../src/services/events.js';
import { getBalance } from '../src/services/ledger.js';
import { createMember, type MemberInput } from '../src/services/members.js';
import {
  createCampaign, createRule, dryRun, getCampaign, getRule, quote, ruleVersions, setEnabled, updateCampaign, updateRule, type SavedRule,
} from '../src/services/rules.js';
import type { Program } from '../src/services/tenants.js';
import { basketArbitrary, returnPlan } from './support/event-arbitraries.js';
import { expectVerified, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;

beforeAll(async () => { laurel = await openTestLaurel('2026-01-15T10:00:00Z'); });
afterAll(async () => { await laurel?.close(); });

let serial = 0;
const ext = (prefix: string) => `${prefix}-${process.pid}-${++serial}`;

type Line = { sku: string; category?: string; quantity: number; unitPrice: number; discount?: number };

const rule = (p: Program, definition: Record<string, unknown>): Promise<SavedRule> =>
  createRule(laurel, p.tenantId, p.programId, definition, { actor: 'test' });

async function member(p: Program, input: Partial<MemberInput> = {}): Promise<string> {
  return (await createMember(laurel, p.tenantId, { programId: p.programId, externalId: ext('member'), ...input })).memberId;
}

const purchase = (p: Program, memberId: string, externalId: string, lines: Line[], extra: Partial<IngestInput> = {}): Promise<EventResult> =>
  ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId, type: 'purchase', memberId, lines, ...extra });

const giveBack = (p: Program, order: string, lines: { sku: string; quantity: number }[], externalId = ext('return')): Promise<EventResult> =>
  ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId, type: 'return', purchaseExternalId: order, lines });

async function held(p: Program, memberId: string, wallet = 'points') {
  const b = await getBalance(laurel, p.tenantId, memberId, wallet);
  return { available: b.available, pending: b.pending, lifetimeEarned: b.lifetimeEarned };
}

/** What each wallet got from each event, as the event's journal entries say. */
const amounts = (r: EventResult) => r.event.entries.map((e) => [e.wallet, e.amount]);

/** Per rule, what the explanation says it gave: [name, points, uncapped, limitedBy]. */
const given = (r: EventResult) => r.event.explanation.map((a) => [a.name, a.points, a.uncapped, a.limitedBy]);

async function count(table: 'events' | 'rule_awards' | 'journal_entries' | 'idempotency_keys' | 'lots', tenantId: string): Promise<number> {
  const row = await laurel.db.selectFrom(table).select(sql<number>`count(*)::int`.as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
  return row.n;
}

/**
 * The rule awards and the ledger agree: per wallet, Σ awards of the member (returns are negative
 * awards) = what the wallet earned net of reversals; and a budget used = Σ awards of its rule.
 */
async function expectAwardsMatchLedger(p: Program, memberIds: string[], wallets = ['points']): Promise<void> {
  for (const m of memberIds) {
    for (const wallet of wallets) {
      const row = await laurel.db.selectFrom('rule_awards').select(sql<string>`coalesce(sum(points), 0)::text`.as('s'))
        .where('tenant_id', '=', p.tenantId).where('member_id', '=', m).where('wallet', '=', wallet).executeTakeFirstOrThrow();
      expect(BigInt(row.s), `awards of ${m} in ${wallet}`).toBe((await getBalance(laurel, p.tenantId, m, wallet)).lifetimeEarned);
    }
  }
  const budgets = await sql<{ rule_id: string; budget_used: string; awarded: string }>`
    select r.rule_id, (select sum(s.used) from budget_shards s where s.tenant_id = r.tenant_id and s.scope = 'rule:' || r.rule_id)::text as budget_used,
      coalesce((select sum(points) from rule_awards a
      where a.tenant_id = r.tenant_id and a.rule_id = r.rule_id), 0)::text as awarded
    from rules r join rule_versions v on v.tenant_id = r.tenant_id and v.rule_id = r.rule_id and v.version = r.version
    where r.tenant_id = ${p.tenantId} and v.definition -> 'limits' ->> 'budget' is not null`.execute(laurel.db);
  for (const b of budgets.rows) expect(b.budget_used, `budget used of rule ${b.rule_id}`).toBe(b.awarded);
}

async function settled(at: string): Promise<void> {
  laurel.clock.set(at);
  await settleDue(laurel.db, laurel.clock.now());
}

// ---- a) the acceptance scenario -------------------------------------------------------------

describe('the acceptance scenario: a beauty brand in Paris, a Gold member, a bonus campaign capped at 2,000 a month', () => {
  it('earns, caps, renews the cap next month, and takes back exactly on partial and full returns', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel, { returnWindowDays: 14 }, 'Europe/Paris');
    const t = p.tenantId;
    const bonuses = await createCampaign(laurel, t, p.programId, { name: 'Bonuses', perMember: [{ period: 'month', points: 2000 }] });
    const base = await rule(p, { name: '1 point per $1', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    const gold = await rule(p, {
      name: 'Double points for Gold', trigger: 'purchase', effect: { type: 'tier_multiplier', tiers: { gold: 2 } }, campaignId: bonuses.campaignId,
    });
    const first = await rule(p, {
      name: '500 bonus on the first purchase', trigger: 'purchase', condition: 'member.stats.purchases == 0',
      effect: { type: 'fixed_points', points: 500 }, limits: { minSpend: 5000 }, campaignId: bonuses.campaignId,
    });
    const skincare = await rule(p, {
      name: '3x on skincare on weekends', trigger: 'purchase', condition: 'time.weekend',
      effect: { type: 'multiplier', factor: 3, categories: ['skincare'] }, campaignId: bonuses.campaignId,
    });
    const m = await member(p, { tier: 'gold' });

    // P1, Saturday 17 January 2026, 11:00 in Paris. SERUM 2 × 25.50 = 5100 (skincare), TOWEL 19.99 − 2.00 = 1799: 6899 paid.
    //   base: floor(6899 / 100) = 68, spread over the lines by value: 68 × 5100 / 6899 = 50.27 → 50, 68 × 1799 / 6899 = 17.73 → 17,
    //         the point left goes to the larger remainder (TOWEL): [50, 18]
    //   gold: (2 − 1) × 68 = 68; first purchase (6899 ≥ minSpend 5000): 500; skincare at the weekend: (3 − 1) × 50 = 100
    //   bonuses 68 + 500 + 100 = 668 ≤ 2000: nothing capped. Total 68 + 668 = 736.
    laurel.clock.set('2026-01-17T10:00:00Z');
    const p1Lines: Line[] = [
      { sku: 'SERUM', category: 'skincare', quantity: 2, unitPrice: 2550 }, { sku: 'TOWEL', category: 'home', quantity: 1, unitPrice: 1999, discount: 200 },
    ];
    const p1 = await purchase(p, m, 'P1', p1Lines);
    expect(p1.points).toBe(736n);
    expect(p1.event.explanation).toEqual([
      {
        ruleId: base.ruleId, version: 1, name: '1 point per $1', campaignId: null, effect: 'points_per_amount', wallet: 'points',
        points: 68n, uncapped: 68n, limitedBy: [], detail: { amount: 6899n, rate: '1 per 100', rounding: 'order, down' },
      },
      {
        ruleId: gold.ruleId, version: 1, name: 'Double points for Gold', campaignId: bonuses.campaignId, effect: 'tier_multiplier', wallet: 'points',
        points: 68n, uncapped: 68n, limitedBy: [], detail: { tier: 'gold', factor: '2', base: 68n },
      },
      {
        ruleId: first.ruleId, version: 1, name: '500 bonus on the first purchase', campaignId: bonuses.campaignId, effect: 'fixed_points', wallet: 'points',
        points: 500n, uncapped: 500n, limitedBy: [], detail: { points: 500n },
      },
      {
        ruleId: skincare.ruleId, version: 1, name: '3x on skincare on weekends', campaignId: bonuses.campaignId, effect: 'multiplier', wallet: 'points',
        points: 100n, uncapped: 100n, limitedBy: [], detail: { factor: '3', base: 50n, categories: 'skincare' },
      },
    ]);
    expect(p1.event).toMatchObject({ total: 6899n, points: 736n, occurredAt: new Date('2026-01-17T10:00:00Z') });
    expect(amounts(p1)).toEqual([['points', 736n]]);
    expect(p1.event.ledgerEntryId).toBe(p1.event.entries[0]!.entryId);
    // 14 days of return window: pending until 31 January
    expect(await held(p, m)).toEqual({ available: 0n, pending: 736n, lifetimeEarned: 736n });
    await expectVerified(laurel, t);

    // P2, Tuesday 20 January: one SERUM, 2550 → base 25, gold 25; no weekend, no longer a first purchase. 50.
    laurel.clock.set('2026-01-20T10:00:00Z');
    const p2 = await purchase(p, m, 'P2', [{ sku: 'SERUM', category: 'skincare', quantity: 1, unitPrice: 2550 }]);
    expect(given(p2)).toEqual([['1 point per $1', 25n, 25n, []], ['Double points for Gold', 25n, 25n, []]]);
    expect(p2.points).toBe(50n);
    await expectVerified(laurel, t);

    // P3, Saturday 24 January: SERUM-50 5 × 100.00 = 50000 → base 500. Bonuses so far this month: 668 + 25 = 693.
    //   gold 500 → 1193; skincare (3 − 1) × 500 = 1000 but only 2000 − 1193 = 807 are left: trimmed mid-order. 500 + 500 + 807 = 1807.
    laurel.clock.set('2026-01-24T10:00:00Z');
    const p3 = await purchase(p, m, 'P3', [{ sku: 'SERUM-50', category: 'skincare', quantity: 5, unitPrice: 10000 }]);
    expect(given(p3)).toEqual([
      ['1 point per $1', 500n, 500n, []], ['Double points for Gold', 500n, 500n, []], ['3x on skincare on weekends', 807n, 1000n, ['campaign_cap']],
    ]);
    expect(p3.points).toBe(1807n);
    await expectVerified(laurel, t);

    // P4, Monday 26 January: MUG 10.00 → base 10; the campaign has given its 2000 this month: gold gets 0 of 10.
    laurel.clock.set('2026-01-26T10:00:00Z');
    const p4 = await purchase(p, m, 'P4', [{ sku: 'MUG', category: 'merch', quantity: 1, unitPrice: 1000 }]);
    expect(given(p4)).toEqual([['1 point per $1', 10n, 10n, []], ['Double points for Gold', 0n, 10n, ['campaign_cap']]]);
    expect(p4.points).toBe(10n);
    expect(await held(p, m)).toEqual({ available: 0n, pending: 736n + 50n + 1807n + 10n, lifetimeEarned: 2603n });
    await expectVerified(laurel, t);

    // P5, Wednesday 4 February: a fresh month, a fresh cap. MUG → 10 + 10 = 20.
    //   P1 (31 January) and P2 (3 February) have left their return window: 736 + 50 = 786 available.
    await settled('2026-02-04T10:00:00Z');
    const p5 = await purchase(p, m, 'P5', [{ sku: 'MUG', category: 'merch', quantity: 1, unitPrice: 1000 }]);
    expect(given(p5)).toEqual([['1 point per $1', 10n, 10n, []], ['Double points for Gold', 10n, 10n, []]]);
    expect(await held(p, m)).toEqual({ available: 786n, pending: 1807n + 10n + 20n, lifetimeEarned: 2623n });
    await expectVerified(laurel, t);

    // Return 1 of P1: one SERUM back. Refund 2550; what is left: SERUM 2550 + TOWEL 1799 = 4349 paid, below minSpend 5000.
    //   Evaluated again with P1's versions and facts (a Saturday, a first purchase): base floor(4349 / 100) = 43 over [2550, 1799]
    //   = [25.2 → 25, 17.8 → 17, +1 → 18]; gold 43; skincare 2 × 25 = 50; first purchase: 4349 < 5000, no longer qualifies.
    //   Taken back: base 68 − 43 = 25, gold 68 − 43 = 25, first purchase 500, skincare 100 − 50 = 50: 600.
    const r1 = await giveBack(p, 'P1', [{ sku: 'SERUM', quantity: 1 }], 'R1');
    expect(r1.points).toBe(-600n);
    expect(r1.event).toMatchObject({ type: 'return', refundAmount: 2550n, purchaseExternalId: 'P1', purchaseEventId: p1.event.eventId });
    expect(given(r1)).toEqual([
      ['1 point per $1', -25n, -25n, []], ['Double points for Gold', -25n, -25n, []],
      ['500 bonus on the first purchase', -500n, -500n, []], ['3x on skincare on weekends', -50n, -50n, []],
    ]);
    expect(r1.event.explanation.map((a) => [a.ruleId, a.version, a.detail])).toEqual(
      [base, gold, first, skincare].map((r) => [r.ruleId, 1, { takenBackFrom: 'P1' }]));
    expect(amounts(r1)).toEqual([['points', -600n]]);
    // P1's points had matured: they come out of what is available
    expect(await held(p, m)).toEqual({ available: 186n, pending: 1837n, lifetimeEarned: 2023n });
    await expectVerified(laurel, t);

    // Return 2 of P1: the rest (SERUM, TOWEL). Nothing is left: everything P1 still holds goes, 43 + 43 + 50 = 136. P1 nets to 0.
    const r2 = await giveBack(p, 'P1', [{ sku: 'SERUM', quantity: 1 }, { sku: 'TOWEL', quantity: 1 }], 'R2');
    expect(given(r2)).toEqual([['1 point per $1', -43n, -43n, []], ['Double points for Gold', -43n, -43n, []], ['3x on skincare on weekends', -50n, -50n, []]]);
    expect(r2.points).toBe(-136n);
    expect(r2.event.refundAmount).toBe(4349n);
    expect(p1.points + r1.points + r2.points).toBe(0n);
    expect(await held(p, m)).toEqual({ available: 50n, pending: 1837n, lifetimeEarned: 1887n });
    await expectVerified(laurel, t);

    // The same lines a second time: refused (409), and nothing is taken twice.
    const before = { events: await count('events', t), awards: await count('rule_awards', t), entries: await count('journal_entries', t) };
    await expect(giveBack(p, 'P1', [{ sku: 'SERUM', quantity: 1 }, { sku: 'TOWEL', quantity: 1 }], 'R3'))
      .rejects.toMatchObject({ code: 'conflict', field: 'lines[0].quantity' });
    await expect(giveBack(p, 'P1', [{ sku: 'TOWEL', quantity: 1 }], 'R4')).rejects.toMatchObject({ code: 'conflict', field: 'lines[0].quantity' });
    expect({ events: await count('events', t), awards: await count('rule_awards', t), entries: await count('journal_entries', t) }).toEqual(before);
    // R2 resent is the same answer, not a second return
    expect(await giveBack(p, 'P1', [{ sku: 'SERUM', quantity: 1 }, { sku: 'TOWEL', quantity: 1 }], 'R2')).toEqual(r2);
    expect(await held(p, m)).toEqual({ available: 50n, pending: 1837n, lifetimeEarned: 1887n });
    await expectVerified(laurel, t);

    // The returns gave January's campaign cap back what they took from it: 575 + 93 = 668, so January has 2000 − 1332 = 668 left
    // (P5's 10 bonus points are February's: they do not count against January).
    // A January purchase reported late (Saturday 31 January, sent on 4 February): FACE 3 × 100.00 → base 300, gold 300 (368 left),
    // skincare 600 trimmed to 368. 968.
    const late = await purchase(p, m, 'P6', [{ sku: 'FACE', category: 'skincare', quantity: 3, unitPrice: 10000 }], { occurredAt: '2026-01-31T10:00:00Z' });
    expect(given(late)).toEqual([
      ['1 point per $1', 300n, 300n, []], ['Double points for Gold', 300n, 300n, []], ['3x on skincare on weekends', 368n, 600n, ['campaign_cap']],
    ]);
    expect(await getCampaign(laurel, t, bonuses.campaignId)).toMatchObject({ budget: null, budgetUsed: 0n });
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, t);

    // After the return windows, everything still held is available.
    await settled('2026-03-01T10:00:00Z');
    const total = 50n + 1807n + 10n + 20n + 968n;
    expect(await held(p, m)).toEqual({ available: total, pending: 0n, lifetimeEarned: total });
    await expectVerified(laurel, t);
  });
});

// ---- b) versions ----------------------------------------------------------------------------

describe('rule versions', () => {
  it('a return takes back by the version its purchase used; new purchases use the new one; both versions are listed', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    const r = await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    // v1: floor(6899 / 100) = 68
    const lines: Line[] = [{ sku: 'A', quantity: 2, unitPrice: 2550 }, { sku: 'B', quantity: 1, unitPrice: 1999, discount: 200 }];
    const old = await purchase(p, m, 'V1', lines);
    expect(old.points).toBe(68n);
    laurel.clock.advance(60_000);
    const v2 = await updateRule(laurel, p.tenantId, r.ruleId, {
      name: 'Base, doubled', trigger: 'purchase', effect: { type: 'points_per_amount', points: 2, per: 100 },
    }, { actor: 'test' });
    expect(v2).toMatchObject({ ruleId: r.ruleId, version: 2, enabled: true, name: 'Base, doubled' });
    // Returning A × 1 (2550): what is left, 4349, earns floor(4349 / 100) = 43 by v1 (86 by v2): 68 − 43 = 25 back.
    const back = await giveBack(p, 'V1', [{ sku: 'A', quantity: 1 }]);
    expect(back.points).toBe(-25n);
    expect(back.event.explanation).toMatchObject([{ ruleId: r.ruleId, version: 1, name: 'Base', points: -25n }]);
    // v2: floor(6899 × 2 / 100) = 137
    const now = await purchase(p, m, 'V2', lines);
    expect(now.points).toBe(137n);
    expect(now.event.explanation).toMatchObject([{ ruleId: r.ruleId, version: 2, name: 'Base, doubled', points: 137n, detail: { rate: '2 per 100' } }]);
    // the rest of V1 back: 43, by v1 still
    expect((await giveBack(p, 'V1', [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 1 }])).points).toBe(-43n);
    const versions = await ruleVersions(laurel, p.tenantId, r.ruleId);
    expect(versions.map((v) => [v.version, v.name, v.effect])).toEqual([
      [1, 'Base', { type: 'points_per_amount', points: 1, per: 100 }],
      [2, 'Base, doubled', { type: 'points_per_amount', points: 2, per: 100 }],
    ]);
    expect(versions.map((v) => v.savedBy)).toEqual(['test', 'test']);
    expect(await getRule(laurel, p.tenantId, r.ruleId, 1)).toMatchObject({ version: 1, name: 'Base' });
    expect(await getRule(laurel, p.tenantId, r.ruleId)).toMatchObject({ version: 2, name: 'Base, doubled' });
    await expect(getRule(laurel, p.tenantId, r.ruleId, 3)).rejects.toMatchObject({ code: 'not_found', field: 'version' });
    expect(await held(p, m)).toMatchObject({ available: 137n, lifetimeEarned: 137n });
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });
});

describe('rules as another server sees them', () => {
  // An event reads its program's enabled rules (ids and versions) and their campaigns with the
  // program, and keeps each rule version it has parsed: a change saved through any process is what
  // the next event of every process uses.
  it.skipIf(!onPostgres)('a new version, a campaign window moved, a rule turned off: each applies to the next event of another Laurel', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const { rows: [here] } = await sql<{ db: string }>`select current_database() as db`.execute(laurel.db);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${here!.db}`;
    const other = await openLaurel({ databaseUrl: url.toString(), poolSize: 2 });
    try {
      const p = await newProgram(laurel);
      const m = await member(p);
      const c = await createCampaign(laurel, p.tenantId, p.programId, { name: 'January' });
      const base = await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
      await rule(p, { name: 'Bonus', trigger: 'purchase', effect: { type: 'fixed_points', points: 7 }, campaignId: c.campaignId });
      const one: Line[] = [{ sku: 'X', quantity: 1, unitPrice: 1000 }];
      expect(given(await purchase(p, m, 'S1', one))).toEqual([['Base', 10n, 10n, []], ['Bonus', 7n, 7n, []]]);
      await updateRule(other, p.tenantId, base.ruleId, { name: 'Base, tripled', trigger: 'purchase', effect: { type: 'points_per_amount', points: 3, per: 100 } }, { actor: 'test' });
      expect(given(await purchase(p, m, 'S2', one))).toEqual([['Base, tripled', 30n, 30n, []], ['Bonus', 7n, 7n, []]]);
      await updateCampaign(other, p.tenantId, c.campaignId, { name: 'January', validTo: '2026-01-15T00:00:00Z' });
      expect(given(await purchase(p, m, 'S3', one))).toEqual([['Base, tripled', 30n, 30n, []]]);
      await setEnabled(other, p.tenantId, base.ruleId, false);
      expect(await purchase(p, m, 'S4', one)).toMatchObject({ points: 0n, event: { explanation: [] } });
      expect(await held(p, m)).toMatchObject({ available: 84n });
      await expectAwardsMatchLedger(p, [m]);
      await expectVerified(laurel, p.tenantId);
    } finally {
      await other.close();
    }
  });
});

// ---- c) enable/disable, quotes, dry runs ------------------------------------------------------

describe('enabling, quoting and dry-running', () => {
  it('a disabled rule gives nothing to new events, yet its past awards are still taken back by returns', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    const r = await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    const lines: Line[] = [{ sku: 'A', quantity: 1, unitPrice: 1000 }, { sku: 'B', quantity: 1, unitPrice: 500 }];
    expect((await purchase(p, m, 'E1', lines)).points).toBe(15n);
    expect(await setEnabled(laurel, p.tenantId, r.ruleId, false)).toMatchObject({ enabled: false, version: 1 });
    const off = await purchase(p, m, 'E2', lines);
    expect(off).toMatchObject({ points: 0n, ledger: null, event: { explanation: [], entries: [], ledgerEntryId: null } });
    // E1's 15 points: B back leaves 1000 → 10, 5 taken back by the disabled rule
    expect((await giveBack(p, 'E1', [{ sku: 'B', quantity: 1 }])).points).toBe(-5n);
    expect(await setEnabled(laurel, p.tenantId, r.ruleId, true)).toMatchObject({ enabled: true, version: 1 });
    expect(await setEnabled(laurel, p.tenantId, r.ruleId, true)).toMatchObject({ enabled: true });
    expect((await purchase(p, m, 'E3', lines)).points).toBe(15n);
    expect(await held(p, m)).toMatchObject({ available: 25n });
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });

  it('a quote answers what the event will earn, awards and all, and writes nothing', async () => {
    laurel.clock.set('2026-01-17T10:00:00Z');
    const p = await newProgram(laurel);
    const t = p.tenantId;
    const campaign = await createCampaign(laurel, t, p.programId, { name: 'Promo', budget: 10_000, perMember: [{ period: 'day', points: 30 }] });
    await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    await rule(p, { name: 'Gold', trigger: 'purchase', effect: { type: 'tier_multiplier', tiers: { gold: '1.5' } }, campaignId: campaign.campaignId });
    await rule(p, { name: 'Weekend', trigger: 'purchase', condition: 'time.weekend', effect: { type: 'fixed_points', points: 20 }, campaignId: campaign.campaignId });
    await rule(p, { name: 'Lucky', trigger: 'purchase', effect: { type: 'surprise', probability: '0.5', points: 7 } });
    const m = await member(p, { tier: 'gold' });
    const lines: Line[] = [{ sku: 'A', category: 'x', quantity: 3, unitPrice: 1234 }];
    for (const externalId of ['Q1', 'Q2', 'Q3']) {
      const tables = ['events', 'rule_awards', 'journal_entries', 'idempotency_keys', 'lots'] as const;
      const before = [...await Promise.all(tables.map((x) => count(x, t))), (await getCampaign(laurel, t, campaign.campaignId)).budgetUsed];
      const q = await quote(laurel, t, { programId: p.programId, memberId: m, externalId, lines });
      expect([...await Promise.all(tables.map((x) => count(x, t))), (await getCampaign(laurel, t, campaign.campaignId)).budgetUsed]).toEqual(before);
      const e = await purchase(p, m, externalId, lines);
      // 3702 → base 37; gold 1.5: floor(37 × 0.5) = 18; weekend 20, but the campaign's day cap of 30 is shared
      expect(e.event.explanation).toEqual(q.awards);
      expect(e.points).toBe(q.points);
      expect(q.wallets).toEqual(e.points === 0n ? [] : [{ wallet: 'points', amount: e.points }]);
    }
    // Q1: gold 18 + weekend 12 (30 − 18); Q2 and Q3: the day's 30 are used
    const events = await listMemberEvents(laurel, t, { memberId: m, limit: 10 });
    expect(events.reverse().map((e) => e.explanation.filter((a) => a.campaignId !== null).map((a) => [a.name, a.points]))).toEqual([
      [['Gold', 18n], ['Weekend', 12n]], [['Gold', 0n], ['Weekend', 0n]], [['Gold', 0n], ['Weekend', 0n]],
    ]);
    // a newcomer (no member) has no tier: gold gives nothing
    const anonymous = await quote(laurel, t, { programId: p.programId, externalId: 'Q1', lines });
    expect(anonymous.awards.find((a) => a.name === 'Gold')).toMatchObject({ points: 0n, detail: { tier: '', factor: null } });
    expect(anonymous.awards.find((a) => a.name === 'Base')?.points).toBe(37n);
    await expect(quote(laurel, t, { programId: p.programId, type: 'return', purchaseExternalId: 'Q1', refundAmount: 100 })).rejects.toMatchObject({ code: 'validation', field: 'type' });
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, t);
  });

  it('a dry run of a draft replays past events and compares with what the rule really gave', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    const r = await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    const totals = [1000, 2550, 999];
    for (const [i, unitPrice] of totals.entries()) {
      laurel.clock.advance(60_000);
      await purchase(p, m, `D${i}`, [{ sku: 'A', quantity: 1, unitPrice }]);
    }
    await ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId: 'review-1', type: 'review', memberId: m });
    const tables = ['events', 'rule_awards', 'journal_entries'] as const;
    const before = await Promise.all(tables.map((x) => count(x, p.tenantId)));
    // the draft: 2 per 100, only from €10 → 20 (1000), 51 (2550), nothing (999); actual 10, 25, 9
    const run = await dryRun(laurel, p.tenantId, r.ruleId, {
      definition: { name: 'Double from 10', trigger: 'purchase', condition: 'order.total >= 1000', effect: { type: 'points_per_amount', points: 2, per: 100 } },
    });
    expect(run.events.map((e) => [e.externalId, e.points, e.actual])).toEqual([['D2', 0n, 9n], ['D1', 51n, 25n], ['D0', 20n, 10n]]);
    expect(run.summary).toEqual({ events: 3, fired: 2, points: 71n, actual: 44n, uncapped: 71n, limited: 0 });
    expect(run.events[1]!.detail).toMatchObject({ amount: 2550n, rate: '2 per 100' });
    // the rule itself, as it stands, gives what it gave
    const same = await dryRun(laurel, p.tenantId, r.ruleId, { limit: 2 });
    expect(same.events.map((e) => [e.externalId, e.points, e.actual])).toEqual([['D2', 9n, 9n], ['D1', 25n, 25n]]);
    await expect(dryRun(laurel, p.tenantId, r.ruleId, { definition: { name: 'Bad', trigger: 'purchase', condition: 'order.total', effect: { type: 'fixed_points', points: 1 } } }))
      .rejects.toMatchObject({ code: 'validation', field: 'condition' });
    expect(await Promise.all(tables.map((x) => count(x, p.tenantId)))).toEqual(before);
    expect(await getRule(laurel, p.tenantId, r.ruleId)).toMatchObject({ version: 1, name: 'Base' });
    await expectVerified(laurel, p.tenantId);
  });
});

describe('dry runs simulate caps and budgets', () => {
  it("a draft's day cap trims the events of a day in the order they occurred, counting the rule's awards on events not replayed", async () => {
    laurel.clock.set('2026-02-02T09:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    const r = await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    for (const [i, unitPrice] of [1000, 2000, 1500].entries()) {
      laurel.clock.advance(60_000);
      await purchase(p, m, `C${i}`, [{ sku: 'A', quantity: 1, unitPrice }]);
    }
    const tables = ['events', 'rule_awards', 'journal_entries'] as const;
    const before = await Promise.all(tables.map((x) => count(x, p.tenantId)));
    const capped = { name: 'Base capped', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { perMember: [{ period: 'day', points: 25 }] } };
    // 10, 20 and 15 that day: the cap of 25 leaves 10, 15 and nothing
    const run = await dryRun(laurel, p.tenantId, r.ruleId, { definition: capped });
    expect(run.events.map((e) => [e.externalId, e.points, e.uncapped, e.limitedBy, e.actual])).toEqual([
      ['C2', 0n, 15n, ['rule_cap'], 15n], ['C1', 15n, 20n, ['rule_cap'], 20n], ['C0', 10n, 10n, [], 10n],
    ]);
    expect(run.summary).toEqual({ events: 3, fired: 2, points: 25n, actual: 45n, uncapped: 45n, limited: 2 });
    // Replaying the two newest only: C0's 10, really given that day, count against the cap.
    const newest = await dryRun(laurel, p.tenantId, r.ruleId, { definition: capped, limit: 2 });
    expect(newest.events.map((e) => [e.externalId, e.points, e.limitedBy])).toEqual([['C2', 0n, ['rule_cap']], ['C1', 15n, ['rule_cap']]]);
    // times: once a day
    const once = await dryRun(laurel, p.tenantId, r.ruleId, { definition: { ...capped, limits: { perMember: [{ period: 'day', times: 1 }] } } });
    expect(once.events.map((e) => [e.externalId, e.points, e.limitedBy])).toEqual([['C2', 0n, ['rule_cap']], ['C1', 0n, ['rule_cap']], ['C0', 10n, []]]);
    expect(await Promise.all(tables.map((x) => count(x, p.tenantId)))).toEqual(before);
    await expectVerified(laurel, p.tenantId);
  });

  it("a budget is shared by every member and starts from what the rule used outside the replay; nothing is written", async () => {
    laurel.clock.set('2026-02-03T09:00:00Z');
    const p = await newProgram(laurel);
    const [m, n] = [await member(p), await member(p)];
    const r = await rule(p, { name: 'Budgeted', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { budget: 100 } });
    for (const [i, [who, unitPrice]] of ([[m, 1000], [n, 2000], [m, 1500]] as const).entries()) {
      laurel.clock.advance(60_000);
      await purchase(p, who, `B${i}`, [{ sku: 'A', quantity: 1, unitPrice }]);
    }
    expect((await getRule(laurel, p.tenantId, r.ruleId)).budgetUsed).toBe(45n);
    const definition = (budget: number) => ({ name: 'Budgeted', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { budget } });
    const all = await dryRun(laurel, p.tenantId, r.ruleId, { definition: definition(25) });
    expect(all.events.map((e) => [e.externalId, e.points, e.limitedBy])).toEqual([['B2', 0n, ['rule_budget']], ['B1', 15n, ['rule_budget']], ['B0', 10n, []]]);
    // The two newest: B0's 10 stay used, so a budget of 30 leaves 20 for them.
    const newest = await dryRun(laurel, p.tenantId, r.ruleId, { definition: definition(30), limit: 2 });
    expect(newest.events.map((e) => [e.externalId, e.points, e.limitedBy])).toEqual([['B2', 0n, ['rule_budget']], ['B1', 20n, []]]);
    expect(newest.summary).toMatchObject({ points: 20n, uncapped: 35n, limited: 1 });
    // The rule as it stands: its budget of 100 held them all.
    expect((await dryRun(laurel, p.tenantId, r.ruleId, {})).summary).toMatchObject({ points: 45n, actual: 45n, limited: 0 });
    expect((await getRule(laurel, p.tenantId, r.ruleId)).budgetUsed).toBe(45n);
    await expectVerified(laurel, p.tenantId);
  });

  it("a campaign's cap counts what the campaign's other rules gave", async () => {
    laurel.clock.set('2026-02-04T09:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    const c = await createCampaign(laurel, p.tenantId, p.programId, { name: 'Promo', perMember: [{ period: 'month', points: 50 }] });
    await rule(p, { name: 'Visit', trigger: 'purchase', effect: { type: 'fixed_points', points: 30 }, campaignId: c.campaignId, priority: 10 });
    const r = await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    await purchase(p, m, 'P0', [{ sku: 'A', quantity: 1, unitPrice: 4000 }]);
    // Base joins the campaign in the draft: Visit's 30 leave it 20 of the month's 50.
    const run = await dryRun(laurel, p.tenantId, r.ruleId, {
      definition: { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, campaignId: c.campaignId },
    });
    expect(run.events.map((e) => [e.externalId, e.points, e.uncapped, e.limitedBy, e.actual])).toEqual([['P0', 20n, 40n, ['campaign_cap'], 40n]]);
  });
});

// ---- d) signup -------------------------------------------------------------------------------

describe('the welcome bonus', () => {
  it('is paid once on enrolment, retries included; a client cannot send a signup event', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const t = p.tenantId;
    // no signup rule yet: enrolment pays nothing and records no event
    const early = (await enrolMember(laurel, t, { programId: p.programId, externalId: ext('early') })).memberId;
    expect(await listMemberEvents(laurel, t, { memberId: early, limit: 10 })).toEqual([]);
    const welcome = await rule(p, { name: 'Welcome', trigger: 'signup', effect: { type: 'fixed_points', points: 100 } });
    await expect(rule(p, { name: 'Bad', trigger: 'signup', effect: { type: 'points_per_amount', points: 1, per: 100 } }))
      .rejects.toMatchObject({ code: 'validation', field: 'trigger' });
    const input: MemberInput = { programId: p.programId, externalId: ext('new'), email: 'welcome@example.com' };
    const idem = ext('enrol');
    const a = await enrolMember(laurel, t, input, idem);
    const again = await enrolMember(laurel, t, input, idem);
    expect(again.memberId).toBe(a.memberId);
    const events = await listMemberEvents(laurel, t, { memberId: a.memberId, limit: 10 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'signup', externalId: `signup:${a.memberId}`, points: 100n, kind: 'action' });
    expect(events[0]!.explanation).toMatchObject([{ ruleId: welcome.ruleId, points: 100n, effect: 'fixed_points' }]);
    expect(await held(p, a.memberId)).toMatchObject({ available: 100n, lifetimeEarned: 100n });
    // the same person enrolled again without the key: refused, and nothing paid
    await expect(enrolMember(laurel, t, input)).rejects.toMatchObject({ code: 'conflict' });
    expect(await held(p, a.memberId)).toMatchObject({ available: 100n });
    await expect(ingestEvent(laurel, t, { programId: p.programId, externalId: ext('fake'), type: 'signup', memberId: a.memberId }))
      .rejects.toMatchObject({ code: 'validation', field: 'type' });
    await expect(ingestEvent(laurel, t, { programId: p.programId, externalId: `signup:${early}`, type: 'signup', memberId: early }))
      .rejects.toMatchObject({ code: 'validation', field: 'type' });
    expect(await held(p, early)).toMatchObject({ available: 0n });
    await expectAwardsMatchLedger(p, [a.memberId, early]);
    await expectVerified(laurel, t);
  });
});

// ---- e) store credit ---------------------------------------------------------------------------

const creditProgram: Partial<ProgramInput> = { wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'credit', kind: 'redeemable' }] };

describe('percent back as store credit', () => {
  it('puts an event into two wallets; returns take back from both in proportion', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel, creditProgram);
    const m = await member(p);
    await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    await rule(p, { name: '10% back', trigger: 'purchase', effect: { type: 'percent_back', percent: 10, wallet: 'credit' } });
    await expect(rule(p, { name: 'Nowhere', trigger: 'purchase', effect: { type: 'percent_back', percent: 5, wallet: 'cash' } }))
      .rejects.toMatchObject({ code: 'validation', field: 'effect.wallet' });
    // 6899 paid: 68 points, floor(689.9) = 689 credit
    const lines: Line[] = [{ sku: 'A', quantity: 2, unitPrice: 2550 }, { sku: 'B', quantity: 1, unitPrice: 1999, discount: 200 }];
    const bought = await purchase(p, m, 'C1', lines);
    expect(amounts(bought)).toEqual([['points', 68n], ['credit', 689n]]);
    expect(bought.points).toBe(68n);
    expect(bought.event.explanation.map((a) => [a.name, a.wallet, a.points])).toEqual([['Base', 'points', 68n], ['10% back', 'credit', 689n]]);
    expect(bought.ledger!.entries.map((e) => e.amount)).toEqual([68n, 689n]);
    expect(await held(p, m, 'credit')).toMatchObject({ available: 689n });
    // A × 1 back (2550): 4349 left → 43 points (25 back), floor(434.9) = 434 credit (255 back)
    const partial = await giveBack(p, 'C1', [{ sku: 'A', quantity: 1 }]);
    expect(amounts(partial)).toEqual([['points', -25n], ['credit', -255n]]);
    expect(partial.points).toBe(-25n);
    expect(partial.event.entries.map((e) => e.entryId)).toEqual(partial.ledger!.entries.map((e) => e.entryId));
    const rest = await giveBack(p, 'C1', [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 1 }]);
    expect(amounts(rest)).toEqual([['points', -43n], ['credit', -434n]]);
    expect(await held(p, m)).toMatchObject({ available: 0n, pending: 0n, lifetimeEarned: 0n });
    expect(await held(p, m, 'credit')).toMatchObject({ available: 0n, pending: 0n, lifetimeEarned: 0n });
    await expectAwardsMatchLedger(p, [m], ['points', 'credit']);
    await expectVerified(laurel, p.tenantId);
  });
});

// ---- f) budgets --------------------------------------------------------------------------------

describe('a rule budget', () => {
  it('gives out exactly its 1,000 points, trimming the last event; returns give budget back', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    const other = await member(p);
    const r = await rule(p, { name: 'Launch', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { budget: 1000 } });
    const bag: Line[] = [{ sku: 'BAG', quantity: 3, unitPrice: 10000 }]; // 30000 → 300
    const results: EventResult[] = [];
    for (let i = 1; i <= 5; i++) results.push(await purchase(p, i % 2 ? m : other, `B${i}`, bag));
    // 300, 300, 300, then 100 of 300, then nothing
    expect(results.map(given)).toEqual([
      [['Launch', 300n, 300n, []]], [['Launch', 300n, 300n, []]], [['Launch', 300n, 300n, []]],
      [['Launch', 100n, 300n, ['rule_budget']]], [['Launch', 0n, 300n, ['rule_budget']]],
    ]);
    expect(results[4]).toMatchObject({ points: 0n, ledger: null, event: { entries: [] } });
    expect((await getRule(laurel, p.tenantId, r.ruleId)).budgetUsed).toBe(1000n);
    // B2 (300) with one bag back: 20000 left would earn 200, so 100 goes back, to the member and to the budget
    expect((await giveBack(p, 'B2', [{ sku: 'BAG', quantity: 1 }])).points).toBe(-100n);
    expect((await getRule(laurel, p.tenantId, r.ruleId)).budgetUsed).toBe(900n);
    // B4 got 100 of 300: with one bag back, 200 would still be earned — it keeps its 100, nothing back
    const b4 = await giveBack(p, 'B4', [{ sku: 'BAG', quantity: 1 }]);
    expect(b4).toMatchObject({ points: 0n, ledger: null, event: { explanation: [], entries: [] } });
    expect((await getRule(laurel, p.tenantId, r.ruleId)).budgetUsed).toBe(900n);
    // the freed 100 goes to the next event
    expect(given(await purchase(p, m, 'B6', bag))).toEqual([['Launch', 100n, 300n, ['rule_budget']]]);
    expect((await getRule(laurel, p.tenantId, r.ruleId)).budgetUsed).toBe(1000n);
    // the rest of B4 back: its 100 go back
    expect((await giveBack(p, 'B4', [{ sku: 'BAG', quantity: 2 }])).points).toBe(-100n);
    expect((await getRule(laurel, p.tenantId, r.ruleId)).budgetUsed).toBe(900n);
    await expectAwardsMatchLedger(p, [m, other]);
    await expectVerified(laurel, p.tenantId);
  });

  it("is kept in 16 shards: an event takes from its member's shard alone, or, when that holds too little, from all of them, untrimmed", async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    const own = shardOf(m);
    const r = await rule(p, { name: 'Launch', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { budget: 1600 } });
    const shards = async () => (await laurel.db.selectFrom('budget_shards').select(['shard', 'used', 'room'])
      .where('tenant_id', '=', p.tenantId).where('scope', '=', `rule:${r.ruleId}`).orderBy('shard').execute())
      .map((s) => ({ shard: s.shard, used: Number(s.used), room: Number(s.room) }));
    expect((await shards()).map((s) => [s.used, s.room])).toEqual(Array.from({ length: 16 }, () => [0, 100]));
    // 300 points: more than the member's shard holds, all of it given; the 1,300 left spread again (4 shards of 82, 12 of 81)
    expect(given(await purchase(p, m, 'S1', [{ sku: 'BAG', quantity: 1, unitPrice: 30_000 }]))).toEqual([['Launch', 300n, 300n, []]]);
    const spread = await shards();
    expect(spread.map((s) => s.used)).toEqual(spread.map((s) => (s.shard === own ? 300 : 0)));
    expect(spread.map((s) => s.room)).toEqual(spread.map((s) => (s.shard < 4 ? 82 : 81)));
    // 50 points fit the member's shard: it alone gives them
    expect(given(await purchase(p, m, 'S2', [{ sku: 'CUP', quantity: 1, unitPrice: 5_000 }]))).toEqual([['Launch', 50n, 50n, []]]);
    expect(await shards()).toEqual(spread.map((s) => (s.shard === own ? { ...s, used: 350, room: s.room - 50 } : s)));
    expect((await getRule(laurel, p.tenantId, r.ruleId)).budgetUsed).toBe(350n);
    // a return gives back to the budget: all the shards, spread again over the 1,300 left
    expect((await giveBack(p, 'S2', [{ sku: 'CUP', quantity: 1 }])).points).toBe(-50n);
    expect((await shards()).map((s) => s.room).reduce((a, b) => a + b, 0)).toBe(1300);
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });

  it('of a campaign is shared by its rules; a lowered budget stops it giving', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    const c = await createCampaign(laurel, p.tenantId, p.programId, { name: 'Launch', budget: 250 });
    await rule(p, { name: 'A', trigger: 'purchase', effect: { type: 'fixed_points', points: 60 }, campaignId: c.campaignId, priority: 2 });
    await rule(p, { name: 'B', trigger: 'purchase', effect: { type: 'fixed_points', points: 40 }, campaignId: c.campaignId, priority: 1 });
    const one: Line[] = [{ sku: 'X', quantity: 1, unitPrice: 100 }];
    // 100, 100, then 50 left: A (higher priority) takes it, B gets 0
    const got = [];
    for (let i = 0; i < 3; i++) got.push(given(await purchase(p, m, `CB${i}`, one)));
    expect(got).toEqual([
      [['A', 60n, 60n, []], ['B', 40n, 40n, []]], [['A', 60n, 60n, []], ['B', 40n, 40n, []]],
      [['A', 50n, 60n, ['campaign_budget']], ['B', 0n, 40n, ['campaign_budget']]],
    ]);
    expect((await getCampaign(laurel, p.tenantId, c.campaignId)).budgetUsed).toBe(250n);
    expect((await giveBack(p, 'CB0', [{ sku: 'X', quantity: 1 }])).points).toBe(-100n);
    expect((await getCampaign(laurel, p.tenantId, c.campaignId)).budgetUsed).toBe(150n);
    // lowered below what is used: it gives nothing more
    await updateCampaign(laurel, p.tenantId, c.campaignId, { name: 'Launch', budget: 100 });
    expect(given(await purchase(p, m, 'CB3', one))).toEqual([['A', 0n, 60n, ['campaign_budget']], ['B', 0n, 40n, ['campaign_budget']]]);
    expect(await getCampaign(laurel, p.tenantId, c.campaignId)).toMatchObject({ budget: 100n, budgetUsed: 150n });
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });
});

// ---- g) per-member caps ------------------------------------------------------------------------

describe('per-member caps', () => {
  it('times: a birthday bonus once a year', async () => {
    laurel.clock.set('2026-01-05T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p, { birthday: '1990-01-20' });
    const noBirthday = await member(p);
    await rule(p, {
      name: 'Birthday', trigger: 'purchase', condition: 'member.birthdayThisMonth', effect: { type: 'fixed_points', points: 250 },
      limits: { perMember: [{ period: 'year', times: 1 }] },
    });
    const one: Line[] = [{ sku: 'X', quantity: 1, unitPrice: 100 }];
    expect(given(await purchase(p, m, 'BD1', one))).toEqual([['Birthday', 250n, 250n, []]]);
    laurel.clock.set('2026-01-25T10:00:00Z');
    expect(given(await purchase(p, m, 'BD2', one))).toEqual([['Birthday', 0n, 250n, ['rule_cap']]]);
    laurel.clock.set('2026-02-20T10:00:00Z');
    expect(given(await purchase(p, m, 'BD3', one))).toEqual([]);
    expect(given(await purchase(p, noBirthday, 'BD4', one))).toEqual([]);
    // a new year (in Paris: 1 January 00:30 is still 31 December 23:30 UTC)
    laurel.clock.set('2026-12-31T23:30:00Z');
    expect(given(await purchase(p, m, 'BD5', one))).toEqual([['Birthday', 250n, 250n, []]]);
    expect(await held(p, m)).toMatchObject({ available: 500n });
    await expectAwardsMatchLedger(p, [m, noBirthday]);
    await expectVerified(laurel, p.tenantId);
  });

  it('times and points per month on a custom action; the month is the tenant’s', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    await rule(p, {
      name: 'Review', trigger: 'review', effect: { type: 'fixed_points', points: 50 }, limits: { perMember: [{ period: 'month', times: 2, points: 80 }] },
    });
    const review = (id: string) => ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId: id, type: 'review', memberId: m });
    // 50; then 30 (80 − 50); then nothing (twice already)
    expect([given(await review('RV1')), given(await review('RV2')), given(await review('RV3'))]).toEqual([
      [['Review', 50n, 50n, []]], [['Review', 30n, 50n, ['rule_cap']]], [['Review', 0n, 50n, ['rule_cap']]],
    ]);
    // 31 January 23:30 UTC is 1 February 00:30 in Paris: a new month
    laurel.clock.set('2026-01-31T23:30:00Z');
    expect(given(await review('RV4'))).toEqual([['Review', 50n, 50n, []]]);
    expect((await review('RV5')).event.kind).toBe('action');
    expect(await held(p, m)).toMatchObject({ available: 160n });
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });
});

describe('caps and returns', () => {
  it('times: a fully returned order frees its time; a partial return that leaves the award does not', async () => {
    laurel.clock.set('2026-03-02T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    await rule(p, { name: 'Monthly visit', trigger: 'purchase', effect: { type: 'fixed_points', points: 100 }, limits: { perMember: [{ period: 'month', times: 1 }] } });
    const two: Line[] = [{ sku: 'A', quantity: 1, unitPrice: 1000 }, { sku: 'B', quantity: 1, unitPrice: 1000 }];
    expect(given(await purchase(p, m, 'T1', two))).toEqual([['Monthly visit', 100n, 100n, []]]);
    // B back: the order still earns the visit bonus, which it keeps; this month's time stays used
    expect((await giveBack(p, 'T1', [{ sku: 'B', quantity: 1 }])).points).toBe(0n);
    expect(given(await purchase(p, m, 'T2', two))).toEqual([['Monthly visit', 0n, 100n, ['rule_cap']]]);
    // A back too: T1 is fully returned, its 100 come back, and its time is free again
    expect((await giveBack(p, 'T1', [{ sku: 'A', quantity: 1 }])).points).toBe(-100n);
    expect(given(await purchase(p, m, 'T3', two))).toEqual([['Monthly visit', 100n, 100n, []]]);
    expect(given(await purchase(p, m, 'T4', two))).toEqual([['Monthly visit', 0n, 100n, ['rule_cap']]]);
    expect(await held(p, m)).toMatchObject({ available: 100n });
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });

  it('times: a partial return that takes an award back whole (its condition no longer holds) frees the time too; points caps follow the points', async () => {
    laurel.clock.set('2026-03-03T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    await rule(p, {
      name: 'Big basket', trigger: 'purchase', condition: 'order.total >= 1500', effect: { type: 'fixed_points', points: 50 },
      limits: { perMember: [{ period: 'month', times: 1, points: 80 }] },
    });
    const two: Line[] = [{ sku: 'A', quantity: 1, unitPrice: 1000 }, { sku: 'B', quantity: 1, unitPrice: 1000 }];
    expect(given(await purchase(p, m, 'U1', two))).toEqual([['Big basket', 50n, 50n, []]]);
    expect(given(await purchase(p, m, 'U2', two))).toEqual([['Big basket', 0n, 50n, ['rule_cap']]]);
    expect((await giveBack(p, 'U1', [{ sku: 'B', quantity: 1 }])).points).toBe(-50n);
    expect(given(await purchase(p, m, 'U3', two))).toEqual([['Big basket', 50n, 50n, []]]);
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });
});

// ---- when a rule applies ------------------------------------------------------------------------

describe('when a rule applies', () => {
  it('exclusive stacking: the higher-priority rule that applies stops the ones after it', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    await rule(p, {
      name: 'Big basket', trigger: 'purchase', condition: 'order.total >= 5000', effect: { type: 'fixed_points', points: 100 }, stacking: 'exclusive', priority: 10,
    });
    await rule(p, { name: 'Lower', trigger: 'purchase', effect: { type: 'fixed_points', points: 1 }, priority: -1 });
    expect(given(await purchase(p, m, 'X1', [{ sku: 'A', quantity: 1, unitPrice: 6000 }]))).toEqual([['Big basket', 100n, 100n, []]]);
    expect(given(await purchase(p, m, 'X2', [{ sku: 'A', quantity: 1, unitPrice: 4000 }]))).toEqual([['Base', 40n, 40n, []], ['Lower', 1n, 1n, []]]);
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });

  it('an exclusive bonus that a partial return drops below its condition is replaced by what the rest earns through the rules it kept out', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    await rule(p, {
      name: 'Big basket', trigger: 'purchase', condition: 'order.total >= 5000', effect: { type: 'fixed_points', points: 100 }, stacking: 'exclusive', priority: 10,
    });
    await rule(p, { name: 'Lower', trigger: 'purchase', effect: { type: 'fixed_points', points: 1 }, priority: -1 });
    const lines: Line[] = [{ sku: 'A', quantity: 1, unitPrice: 4000 }, { sku: 'B', quantity: 1, unitPrice: 2000 }];
    expect(given(await purchase(p, m, 'Y1', lines))).toEqual([['Big basket', 100n, 100n, []]]);
    // B back: 4000 left, the big basket no longer applies; the base (40) and Lower (1) earn on what is left
    // instead of nothing, so 59 of the 100 go back, not all of them
    const back = await giveBack(p, 'Y1', [{ sku: 'B', quantity: 1 }]);
    expect(back.points).toBe(-59n);
    expect(given(back)).toEqual([['Big basket', -100n, -100n, []], ['Base', 40n, 40n, []], ['Lower', 1n, 1n, []]]);
    expect(back.event.explanation[1]!.detail).toEqual({ earnsInsteadOn: 'Y1' });
    expect(await held(p, m)).toMatchObject({ available: 41n });
    // A back: nothing is left, the replacements give back what they were given
    expect((await giveBack(p, 'Y1', [{ sku: 'A', quantity: 1 }])).points).toBe(-41n);
    expect(await held(p, m)).toMatchObject({ available: 0n, lifetimeEarned: 0n });
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });

  it('a replacement never gives more than the exclusive rule gave: a weak exclusive bonus returned leaves at most its own points', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    await rule(p, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } });
    await rule(p, { name: 'Mug offer', trigger: 'purchase', condition: "order.lines.exists(l, l.sku == 'MUG')", effect: { type: 'fixed_points', points: 10 }, stacking: 'exclusive', priority: 10 });
    const lines: Line[] = [{ sku: 'MUG', quantity: 1, unitPrice: 500 }, { sku: 'COAT', quantity: 1, unitPrice: 20000 }];
    expect((await purchase(p, m, 'Z1', lines)).points).toBe(10n);
    // The mug back: the coat alone would earn 200 through the base, but the order only ever gave 10
    const back = await giveBack(p, 'Z1', [{ sku: 'MUG', quantity: 1 }]);
    expect(back.points).toBe(0n);
    expect(given(back)).toEqual([['Mug offer', -10n, -10n, []], ['Base', 10n, 10n, []]]);
    expect((await giveBack(p, 'Z1', [{ sku: 'COAT', quantity: 1 }])).points).toBe(-10n);
    expect(await held(p, m)).toMatchObject({ available: 0n });
    await expectAwardsMatchLedger(p, [m]);
    await expectVerified(laurel, p.tenantId);
  });

  it('validity windows, channels and locations (the window in the tenant’s zone)', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const m = await member(p);
    await rule(p, {
      name: 'February', trigger: 'purchase', effect: { type: 'fixed_points', points: 10 },
      limits: { validFrom: '2026-02-01T00:00:00+01:00', validTo: '2026-03-01T00:00:00+01:00' },
    });
    await rule(p, { name: 'App', trigger: 'purchase', effect: { type: 'fixed_points', points: 20 }, limits: { channels: ['app'], locations: ['paris-01', 'lyon-02'] } });
    const one: Line[] = [{ sku: 'A', quantity: 1, unitPrice: 100 }];
    const names = async (id: string, extra: Partial<IngestInput>) => (await purchase(p, m, id, one, extra)).event.explanation.map((a) => a.name);
    expect(await names('W1', { occurredAt: '2026-01-31T22:30:00Z' })).toEqual([]);
    expect(await names('W2', { occurredAt: '2026-01-31T23:30:00Z' })).toEqual(['February']);
    expect(await names('W3', { occurredAt: '2026-02-28T22:59:59Z' })).toEqual(['February']);
    expect(await names('W4', { occurredAt: '2026-02-28T23:00:00Z' })).toEqual([]);
    expect(await names('W5', { channel: 'app', location: 'lyon-02' })).toEqual(['App']);
    expect(await names('W6', { channel: 'app' })).toEqual([]);
    expect(await names('W7', { channel: 'store', location: 'lyon-02' })).toEqual([]);
    await expect(rule(p, { name: 'Bad', trigger: 'purchase', effect: { type: 'fixed_points', points: 1 }, limits: { validFrom: '2026-02-01', validTo: null } }))
      .rejects.toMatchObject({ code: 'validation', field: 'limits.validFrom' });
    await expect(rule(p, { name: 'Bad', trigger: 'review', effect: { type: 'fixed_points', points: 1 }, limits: { minSpend: 100 } }))
      .rejects.toMatchObject({ code: 'validation', field: 'limits.minSpend' });
    await expectVerified(laurel, p.tenantId);
  });

  it('conditions read event attributes and member attributes; a missing attribute is false, not an error', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel);
    const fan = await member(p, { attributes: { segment: 'vip', visits: 12 }, grade: 'a' });
    const plain = await member(p);
    await rule(p, { name: 'Good review', trigger: 'review', condition: 'event.attributes.rating >= 4', effect: { type: 'fixed_points', points: 50 } });
    await rule(p, {
      name: 'VIP review', trigger: 'review', condition: 'member.attributes.segment == "vip" && member.attributes.visits > 10 && member.grade == "a"',
      effect: { type: 'fixed_points', points: 5 },
    });
    const review = (m: string, id: string, attributes?: Record<string, unknown>) =>
      ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId: id, type: 'review', memberId: m, ...(attributes ? { attributes } : {}) });
    expect(given(await review(fan, 'A1', { rating: 5 }))).toEqual([['Good review', 50n, 50n, []], ['VIP review', 5n, 5n, []]]);
    expect(given(await review(fan, 'A2', { rating: 3 }))).toEqual([['VIP review', 5n, 5n, []]]);
    expect(given(await review(plain, 'A3'))).toEqual([]);
    expect(given(await review(plain, 'A4', { rating: 'five' }))).toEqual([]);
    expect(given(await review(plain, 'A5', { rating: 4.5 }))).toEqual([['Good review', 50n, 50n, []]]);
    await expectAwardsMatchLedger(p, [fan, plain]);
    await expectVerified(laurel, p.tenantId);
  });
});

// ---- h) any rules, any basket, any returns -----------------------------------------------------

const CATEGORIES = ['skincare', 'home', 'merch'] as const;
const CONDITIONS = [
  null, null, 'time.weekend', 'member.tier == "gold"', 'order.total >= 2000', '"skincare" in order.categories',
  'member.stats.purchases == 0', 'order.quantity > 2',
];

const caps = fc.option(fc.array(fc.record({
  period: fc.constantFrom('day', 'month', 'lifetime'),
  points: fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined }),
  times: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
}).filter((c) => c.points !== undefined || c.times !== undefined), { maxLength: 1 }), { nil: undefined });

const filter = fc.option(fc.subarray([...CATEGORIES], { minLength: 1 }), { nil: undefined }).map((c) => (c ? { categories: c } : {}));

const effectArbitrary = fc.oneof(
  fc.record({
    type: fc.constant('points_per_amount'), points: fc.integer({ min: 1, max: 5 }), per: fc.integer({ min: 1, max: 500 }),
    rounding: fc.constantFrom('order', 'line'), mode: fc.constantFrom('down', 'half_up', 'up'),
  }).chain((e) => filter.map((f) => ({ ...e, ...f }))),
  fc.record({ type: fc.constant('fixed_points'), points: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ type: fc.constant('multiplier'), factor: fc.constantFrom(1, '1.5', 2, 3) }).chain((e) => filter.map((f) => ({ ...e, ...f }))),
  fc.record({ type: fc.constant('tier_multiplier'), tiers: fc.constant({ gold: 2, silver: '1.25' }) }),
  fc.record({ type: fc.constant('percent_back'), percent: fc.constantFrom(1, '2.5', 10, 50), wallet: fc.constant('credit'), mode: fc.constantFrom('down', 'up') })
    .chain((e) => filter.map((f) => ({ ...e, ...f }))),
  fc.record({ type: fc.constant('surprise'), probability: fc.constantFrom('0.3', '0.7', 1), points: fc.integer({ min: 1, max: 100 }) }),
);

/** 1 to 5 random purchase rules: effects, conditions, limits, stacking, priorities, some in a shared campaign. */
const localRuleSet = fc.array(fc.record({
  effect: effectArbitrary,
  condition: fc.constantFrom(...CONDITIONS),
  minSpend: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }),
  budget: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
  perMember: caps,
  stacking: fc.constantFrom('cumulative', 'cumulative', 'exclusive'),
  priority: fc.integer({ min: -2, max: 2 }),
  inCampaign: fc.boolean(),
}), { minLength: 1, maxLength: 5 });

const campaignArbitrary = fc.record({
  budget: fc.option(fc.integer({ min: 0, max: 1500 }), { nil: undefined }),
  perMember: caps,
});

const RULE_RUNS = Number(process.env.LAUREL_RULE_PROPERTY_RUNS ?? (onPostgres ? 60 : 25));

describe('any rule set, basket and sequence of returns', () => {
  it('leaves the member with exactly 0 points and 0 credit after the last return, never taking back more than is left', async () => {
    await fc.assert(fc.asyncProperty(
      basketArbitrary.chain((lines) => fc.record({
        lines: fc.constant(lines),
        categories: fc.array(fc.constantFrom<string | null>(...CATEGORIES, null), { minLength: lines.length, maxLength: lines.length }),
        paidPct: fc.integer({ min: 0, max: 100 }),
        rules: localRuleSet,
        campaign: campaignArbitrary,
        tier: fc.constantFrom(undefined, 'gold', 'silver'),
        at: fc.constantFrom('2026-01-17T10:00:00Z', '2026-01-20T10:00:00Z'),
        earlier: fc.integer({ min: 0, max: 2 }),
        plan: returnPlan(lines),
      })),
      async ({ lines, categories, paidPct, rules, campaign, tier, at, earlier, plan }) => {
        laurel.clock.set(at);
        const p = await newProgram(laurel, { ...creditProgram, returnWindowDays: 0, negativeBalance: 'debt' });
        const t = p.tenantId;
        const c = await createCampaign(laurel, t, p.programId, { name: 'Campaign', ...campaign });
        for (const [i, r] of rules.entries()) {
          await rule(p, {
            name: `rule ${i}`, trigger: 'purchase', condition: r.condition, effect: r.effect, stacking: r.stacking, priority: r.priority,
            limits: { minSpend: r.minSpend, budget: r.budget, perMember: r.perMember }, campaignId: r.inCampaign ? c.campaignId : null,
          });
        }
        const m = await member(p, tier ? { tier } : {});
        const someone = await member(p, { tier: 'gold' });
        const basket: Line[] = lines.map((l: PurchaseLine, i) => ({
          sku: l.sku, ...(categories[i] ? { category: categories[i]! } : {}),
          quantity: Number(l.quantity), unitPrice: Number(l.unitPrice), discount: Number(l.discount),
        }));
        // someone else's purchases use budgets up first
        for (let i = 0; i < earlier; i++) await purchase(p, someone, `earlier-${i}`, basket);
        const balances = async () => ({ points: await held(p, m), credit: await held(p, m, 'credit') });
        const goods = lines.reduce((s, l) => s + l.quantity * l.unitPrice - l.discount, 0n);
        const paidWithPoints = (goods * BigInt(paidPct)) / 100n;
        const bought = await purchase(p, m, 'order', basket, { paidWithPoints });
        const total = goods - paidWithPoints;
        expect(bought.event.total).toBe(total);
        const earned = new Map(bought.event.entries.map((e) => [e.wallet, e.amount]));
        for (const a of bought.event.explanation) expect(a.points).toBeLessThanOrEqual(a.uncapped);
        const left = new Map(earned);
        const paid = new Set(bought.event.explanation.filter((a) => a.points > 0n).map((a) => a.ruleId));
        let refunded = 0n;
        let n = 0;
        for (const step of plan) {
          const refundAmount = 'refundPct' in step ? ((total - refunded) * BigInt(step.refundPct)) / 100n : null;
          if (refundAmount === 0n) continue;
          const r = await ingestEvent(laurel, t, {
            programId: p.programId, externalId: `return-${++n}`, type: 'return', purchaseExternalId: 'order',
            ...('lines' in step ? { lines: step.lines } : { refundAmount: refundAmount! }),
          });
          refunded += r.event.refundAmount!;
          for (const e of r.event.entries) {
            expect(e.amount).toBeLessThan(0n);
            expect(-e.amount, `${e.wallet} taken back`).toBeLessThanOrEqual(left.get(e.wallet) ?? 0n);
            left.set(e.wallet, left.get(e.wallet)! + e.amount);
          }
          // A return takes back; the only award it gives is to a rule an exclusive rule kept out of the
          // purchase, earning on what is left instead, and never more in a wallet than it takes there.
          for (const a of r.event.explanation) {
            expect(a.points).not.toBe(0n);
            if (a.points > 0n) expect(paid.has(a.ruleId), `${a.name} paid at purchase and gains on a return`).toBe(false);
          }
          for (const wallet of new Set(r.event.explanation.map((a) => a.wallet))) {
            expect(r.event.explanation.filter((a) => a.wallet === wallet).reduce((s, a) => s + a.points, 0n)).toBeLessThanOrEqual(0n);
          }
        }
        expect(refunded).toBe(total);
        expect([...left.values()].every((v) => v === 0n)).toBe(true);
        expect(await balances()).toEqual({
          points: { available: 0n, pending: 0n, lifetimeEarned: 0n }, credit: { available: 0n, pending: 0n, lifetimeEarned: 0n },
        });
        // what the order's rules gave, rule by rule, is all back
        const net = await sql<{ n: number }>`select count(*)::int as n from (select rule_id from rule_awards a
          where a.tenant_id = ${t} and (a.event_id = ${bought.event.eventId} or a.event_id in
            (select event_id from events where tenant_id = ${t} and purchase_event_id = ${bought.event.eventId}))
          group by rule_id having sum(points) <> 0) x`.execute(laurel.db);
        expect(net.rows[0]!.n).toBe(0);
        await expectAwardsMatchLedger(p, [m, someone], ['points', 'credit']);
        await expectVerified(laurel, t);
      },
    ), { numRuns: RULE_RUNS, ...(process.env.LAUREL_PROPERTY_SEED ? { seed: Number(process.env.LAUREL_PROPERTY_SEED) } : {}) });
  });
});
