// Customer grades wired to members: RFM grading of a program in SQL, with figures from real
// events, hand-computed and asserted literally; the SQL against a naive oracle of the RFM spec on random
// populations; expression schemes over member stats; history only on change; recomputing twice
// changes nothing; rules read the grade; the daily job; and, on PostgreSQL, workers racing.
import fc from 'fast-check';
import { sql } from 'kysely';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { showScore, validateGrading, type RfmScheme } from '../src/core/grades/grading.js';
import type { RfmMember } from '../src/core/grades/rfm.js';
import { uuidv7 } from '../src/core/ids.js';
import { windowAt } from '../src/core/tiers/windows.js';
import { runJobNow } from '../src/jobs/runner.js';
import { ingestEvent } from '../src/services/events.js';
import { gradeHistory, gradeReport, putGrading, recomputeProgram } from '../src/services/grades.js';
import { adjust } from '../src/services/ledger.js';
import { createRule } from '../src/services/rules.js';
import { createProgram, createTenant, type Program } from '../src/services/tenants.js';
import { basicProgram, key, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2026-06-15T10:00:00Z'); });
afterAll(async () => { await laurel.close(); });

let serial = 0;
const ext = (prefix: string) => `${prefix}-${process.pid}-${++serial}`;

/** A purchase of one line at `at` (the clock is there too, as when a shop sends it live). */
async function buy(p: Program, memberId: string, at: string, amount: number): Promise<string> {
  laurel.clock.set(at);
  const externalId = ext('order');
  await ingestEvent(laurel, p.tenantId, {
    programId: p.programId, memberId, externalId, type: 'purchase', occurredAt: at, lines: [{ sku: 'ITEM', quantity: 1, unitPrice: amount }],
  });
  return externalId;
}

/** The whole order refunded at `at`. */
async function refund(p: Program, purchaseExternalId: string, at: string, amount: number): Promise<void> {
  laurel.clock.set(at);
  await ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId: ext('refund'), type: 'return', occurredAt: at, purchaseExternalId, refundAmount: amount });
}

async function gradesOf(p: Program, members: Record<string, string>): Promise<Record<string, string | null>> {
  const rows = await laurel.db.selectFrom('members').select(['member_id', 'grade']).where('tenant_id', '=', p.tenantId).where('program_id', '=', p.programId).execute();
  const byId = new Map(rows.map((r) => [r.member_id, r.grade]));
  return Object.fromEntries(Object.entries(members).map(([name, id]) => [name, byId.get(id) ?? null]));
}

/** Each member's history as "from→to: reason", newest first. */
async function historyOf(p: Program, memberId: string): Promise<string[]> {
  const rows = await gradeHistory(laurel, p.tenantId, memberId, { before: null, limit: 100 });
  return rows.map((r) => `${r.fromGrade}→${r.toGrade}: ${r.reason}`);
}

async function historyRows(p: Program): Promise<number> {
  const r = await laurel.db.selectFrom('grade_history').select(sql<number>`count(*)::int`.as('n')).where('tenant_id', '=', p.tenantId).executeTakeFirstOrThrow();
  return r.n;
}

async function membersNamed(p: Program, names: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of names) out[name] = await newMember(laurel, p);
  return out;
}

const RFM = {
  kind: 'rfm', windowMonths: 12, quantiles: 5, weights: { recency: 1, frequency: 1, monetary: 1 },
  grades: [{ code: 'a', minScore: '4' }, { code: 'b', minScore: '3' }, { code: 'c', minScore: '1.30' }, { code: 'd', minScore: 0 }],
};

describe('RFM grading of a program (Europe/Paris, graded on 15 June 2026 at 12:00 local)', () => {
  // The window: 12 months back from the local day after 15 June → [16 June 2025 00:00 Paris
  // (15 June 22:00Z), 15 June 2026 12:00 Paris). Seven buyers (n = 7), q = 5: rank k scores
  // floor(5k/7) + 1, so ranks 0..6 score 1, 1, 2, 3, 3, 4, 5.
  //
  //        last purchase (days)  purchases  spend    R (rank)  F (rank)  M (rank)  (R+F+M)/3  grade
  //  m1    14 June (1)           5          50 000   4 (5)     5 (6)     5 (6)     4.66       a
  //  m2    14 June (1)           3          30 000   4 (5)     3 (4)     4 (5)     3.66       b
  //  m3     5 June (10)          3          20 000   3 (4)     3 (4)     3 (3)     3.00       b
  //  m4    16 May (30)           2          20 000   3 (3)     3 (3)     3 (3)     3.00       b
  //  m5     7 March (100)        1           5 000   2 (2)     1 (0)     1 (1)     1.33       c
  //  m6    27 Nov 2025 (200)     1          10 000   1 (1)     1 (0)     2 (2)     1.33       c
  //  m7    16 June 2025 00:30 Paris (364)   1  1 000   1 (0)     1 (0)     1 (0)     1.00       d
  //  m8    15 June 2025 23:30 Paris: before the window, so no purchase in it    1, 1, 1  1.00  d
  //  m9    bought 1 May, refunded in full 2 May: purchases 1 − 1 = 0             1, 1, 1  1.00  d
  //  m10   never                                                                1, 1, 1  1.00  d
  // Ties: m1 and m2 on recency (rank 5 both), m2 and m3 on frequency, m3 and m4 on spend; each
  // run of ties takes the rank of its first. 14/3 = 4.666… shows truncated, 4.66.
  const AS_OF = '2026-06-15T10:00:00Z';
  let p: Program;
  let m: Record<string, string>;

  beforeAll(async () => {
    p = await newProgram(laurel, {}, 'Europe/Paris');
    m = await membersNamed(p, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    for (const at of ['2026-01-10', '2026-02-10', '2026-03-10', '2026-04-10', '2026-06-14']) await buy(p, m.m1!, `${at}T12:00:00Z`, 10_000);
    for (const at of ['2025-12-01', '2026-03-01', '2026-06-14']) await buy(p, m.m2!, `${at}T12:00:00Z`, 10_000);
    for (const [at, amount] of [['2025-09-01', 10_000], ['2026-01-05', 5_000], ['2026-06-05', 5_000]] as const) await buy(p, m.m3!, `${at}T12:00:00Z`, amount);
    for (const at of ['2026-02-01', '2026-05-16']) await buy(p, m.m4!, `${at}T12:00:00Z`, 10_000);
    await buy(p, m.m5!, '2026-03-07T12:00:00Z', 5_000);
    await buy(p, m.m6!, '2025-11-27T12:00:00Z', 10_000);
    await buy(p, m.m7!, '2025-06-15T22:30:00Z', 1_000);
    await buy(p, m.m8!, '2025-06-15T21:30:00Z', 90_000);
    const order = await buy(p, m.m9!, '2026-05-01T12:00:00Z', 3_000);
    await refund(p, order, '2026-05-02T12:00:00Z', 3_000);
    laurel.clock.set(AS_OF);
    await putGrading(laurel, p.tenantId, p.programId, RFM, { actor: 'test' });
  });

  it('scores by quantile rank, ties taking the lower score, and grades by the weighted score', async () => {
    expect(await recomputeProgram(laurel, p.tenantId, p.programId)).toEqual({ programId: p.programId, at: new Date(AS_OF), members: 10, changed: 10 });
    expect(await gradesOf(p, m)).toEqual({ m1: 'a', m2: 'b', m3: 'b', m4: 'b', m5: 'c', m6: 'c', m7: 'd', m8: 'd', m9: 'd', m10: 'd' });
    const reasons = Object.fromEntries(await Promise.all(Object.entries(m).map(async ([name, id]) => [name, await historyOf(p, id)])));
    expect(reasons).toEqual({
      m1: ['null→a: rfm: R4 F5 M5 score 4.66'],
      m2: ['null→b: rfm: R4 F3 M4 score 3.66'],
      m3: ['null→b: rfm: R3 F3 M3 score 3.00'],
      m4: ['null→b: rfm: R3 F3 M3 score 3.00'],
      m5: ['null→c: rfm: R2 F1 M1 score 1.33'],
      m6: ['null→c: rfm: R1 F1 M2 score 1.33'],
      m7: ['null→d: rfm: R1 F1 M1 score 1.00'],
      m8: ['null→d: rfm: R1 F1 M1 score 1.00'],
      m9: ['null→d: rfm: R1 F1 M1 score 1.00'],
      m10: ['null→d: rfm: R1 F1 M1 score 1.00'],
    });
    expect(await gradeReport(laurel, p.tenantId, p.programId)).toEqual({
      programId: p.programId, graded: true, grades: [{ grade: 'a', members: 1 }, { grade: 'b', members: 3 }, { grade: 'c', members: 2 }, { grade: 'd', members: 4 }],
    });
  });

  it('changes nothing when run again: no grade, no history row', async () => {
    const before = await historyRows(p);
    expect(await recomputeProgram(laurel, p.tenantId, p.programId)).toMatchObject({ members: 10, changed: 0 });
    expect(await historyRows(p)).toBe(before);
  });

  it('gives rule conditions the grade: member.grade == "a" pays m1 and not m2', async () => {
    await createRule(laurel, p.tenantId, p.programId, {
      name: 'Grade A bonus', trigger: 'purchase', condition: 'member.grade == "a"', effect: { type: 'fixed_points', points: 100 },
    }, { actor: 'test' });
    const paid = async (memberId: string) => (await ingestEvent(laurel, p.tenantId, {
      programId: p.programId, memberId, externalId: ext('order'), type: 'purchase', lines: [{ sku: 'ITEM', quantity: 1, unitPrice: 500 }],
    })).points;
    expect(await paid(m.m1!)).toBe(100n);
    expect(await paid(m.m2!)).toBe(0n);
  });
});

describe('the RFM window and recency on the tenant calendar (America/Los_Angeles)', () => {
  it('starts at local midnight and counts days between local dates', async () => {
    // Graded at 06:30Z on 15 June = 23:30 on 14 June in Los Angeles. One month back from the
    // local day after (15 June 00:00 PDT): the window starts 15 May 00:00 PDT = 07:00Z.
    //   x  07:30Z 15 May = 00:30 PDT 15 May: inside, 30 days (14 June − 15 May)  spend 3000
    //   y  06:30Z 15 May = 23:30 PDT 14 May: outside: no purchase                 spend 9000
    //   v  06:00Z 14 June = 23:00 PDT 13 June: 1 day                              spend 2000
    //   z  06:00Z 15 June = 23:00 PDT 14 June: 0 days                             spend 1000
    // Buyers x, v, z (n = 3, q = 3: ranks 0, 1, 2 score 1, 2, 3). Only recency weighs:
    //   x R1 (rank 0, most days), v R2, z R3; y is scored 1, 1, 1. On UTC's calendar x would be
    //   outside the window and v and z both a day nearer: the grades would differ.
    const p = await newProgram(laurel, {}, 'America/Los_Angeles');
    const m = await membersNamed(p, ['x', 'y', 'v', 'z']);
    await buy(p, m.x!, '2026-05-15T07:30:00Z', 3000);
    await buy(p, m.y!, '2026-05-15T06:30:00Z', 9000);
    await buy(p, m.v!, '2026-06-14T06:00:00Z', 2000);
    await buy(p, m.z!, '2026-06-15T06:00:00Z', 1000);
    await putGrading(laurel, p.tenantId, p.programId, {
      kind: 'rfm', windowMonths: 1, quantiles: 3, weights: { recency: 1, frequency: 0, monetary: 0 },
      grades: [{ code: 'a', minScore: '3' }, { code: 'b', minScore: '2' }, { code: 'c', minScore: '0' }],
    }, { actor: 'test' });
    await recomputeProgram(laurel, p.tenantId, p.programId, new Date('2026-06-15T06:30:00Z'));
    expect(await gradesOf(p, m)).toEqual({ x: 'c', y: 'c', v: 'b', z: 'a' });
    expect(await historyOf(p, m.x!)).toEqual(['null→c: rfm: R1 F1 M3 score 1.00']);
    expect(await historyOf(p, m.y!)).toEqual(['null→c: rfm: R1 F1 M1 score 1.00']);
    expect(await historyOf(p, m.v!)).toEqual(['null→b: rfm: R2 F1 M2 score 2.00']);
    expect(await historyOf(p, m.z!)).toEqual(['null→a: rfm: R3 F1 M1 score 3.00']);
  });
});

describe('expression grading (Europe/Paris)', () => {
  // First condition that holds, best first; 1 point per euro, so points follow purchases.
  //   a  120 000 on 1 March 2026                         → vip (spendLast12Months)
  //   b  5 000 at 00:30 Paris on 1 January 2026 (23:30Z on 31 December) and 5 000 on 5 June:
  //      purchasesThisYear 2 in Paris, last purchase 10 days ago → regular
  //   c  2 000 on 1 April 2025 (over 12 months ago)     → lapsed
  //   d  nothing                                         → no grade (null stays null: no history)
  //   e  no purchase, 600 points by an adjustment        → saver
  //   f  3 000 on 1 June refunded in full on 2 June: net 0 purchases, 0 points → no grade
  const SCHEME = {
    kind: 'expression',
    grades: [
      { code: 'vip', condition: 'stats.spendLast12Months >= 100000' },
      { code: 'saver', condition: 'stats.points >= 500 && stats.purchases == 0' },
      { code: 'regular', condition: 'stats.purchasesThisYear >= 2 && stats.daysSinceLastPurchase <= 90' },
      { code: 'lapsed', condition: 'stats.purchases > 0' },
    ],
  };
  let p: Program;
  let m: Record<string, string>;

  beforeAll(async () => {
    p = await newProgram(laurel, {}, 'Europe/Paris');
    await createRule(laurel, p.tenantId, p.programId, { name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
    m = await membersNamed(p, ['a', 'b', 'c', 'd', 'e', 'f']);
    await buy(p, m.a!, '2026-03-01T12:00:00Z', 120_000);
    await buy(p, m.b!, '2025-12-31T23:30:00Z', 5_000);
    await buy(p, m.b!, '2026-06-05T12:00:00Z', 5_000);
    await buy(p, m.c!, '2025-04-01T12:00:00Z', 2_000);
    await adjust(laurel, { tenantId: p.tenantId, memberId: m.e!, amount: 600, reason: 'goodwill', actor: 'test', idempotencyKey: key() });
    const order = await buy(p, m.f!, '2026-06-01T12:00:00Z', 3_000);
    await refund(p, order, '2026-06-02T12:00:00Z', 3_000);
    laurel.clock.set('2026-06-15T10:00:00Z');
    await putGrading(laurel, p.tenantId, p.programId, SCHEME, { actor: 'test' });
  });

  it('gives each member the first grade whose condition holds over their stats', async () => {
    expect(await recomputeProgram(laurel, p.tenantId, p.programId)).toMatchObject({ members: 6, changed: 4 });
    expect(await gradesOf(p, m)).toEqual({ a: 'vip', b: 'regular', c: 'lapsed', d: null, e: 'saver', f: null });
    expect(await historyOf(p, m.a!)).toEqual(['null→vip: expression: grades[0] vip (stats.spendLast12Months >= 100000)']);
    expect(await historyOf(p, m.b!)).toEqual(['null→regular: expression: grades[2] regular (stats.purchasesThisYear >= 2 && stats.daysSinceLastPurchase <= 90)']);
    expect(await historyOf(p, m.d!)).toEqual([]);
    expect((await gradeReport(laurel, p.tenantId, p.programId)).grades).toEqual([
      { grade: 'vip', members: 1 }, { grade: 'saver', members: 1 }, { grade: 'regular', members: 1 }, { grade: 'lapsed', members: 1 }, { grade: null, members: 2 },
    ]);
  });

  it('writes history only for the members whose grade changes, and nothing when run twice', async () => {
    laurel.clock.set('2026-06-15T10:00:00Z');
    await recomputeProgram(laurel, p.tenantId, p.programId);
    const before = await historyRows(p);
    expect(await recomputeProgram(laurel, p.tenantId, p.programId)).toMatchObject({ members: 6, changed: 0 });
    expect(await historyRows(p)).toBe(before);

    // d buys twice: regular; nobody else moves (b's last purchase is now 13 days ago, still ≤ 90)
    await buy(p, m.d!, '2026-06-16T12:00:00Z', 1_000);
    await buy(p, m.d!, '2026-06-17T12:00:00Z', 1_000);
    laurel.clock.set('2026-06-18T10:00:00Z');
    expect(await recomputeProgram(laurel, p.tenantId, p.programId)).toMatchObject({ members: 6, changed: 1 });
    expect(await historyRows(p)).toBe(before + 1);
    expect(await historyOf(p, m.d!)).toEqual(['null→regular: expression: grades[2] regular (stats.purchasesThisYear >= 2 && stats.daysSinceLastPurchase <= 90)']);

    // 4 September: b's last purchase (5 June) is 91 days old → lapsed; d's (17 June) 79 → regular still
    laurel.clock.set('2026-09-04T10:00:00Z');
    expect(await recomputeProgram(laurel, p.tenantId, p.programId)).toMatchObject({ changed: 1 });
    expect(await historyOf(p, m.b!)).toEqual([
      'regular→lapsed: expression: grades[3] lapsed (stats.purchases > 0)',
      'null→regular: expression: grades[2] regular (stats.purchasesThisYear >= 2 && stats.daysSinceLastPurchase <= 90)',
    ]);
    expect(await gradesOf(p, m)).toEqual({ a: 'vip', b: 'lapsed', c: 'lapsed', d: 'regular', e: 'saver', f: null });
  });

  it('pages a history newest first', async () => {
    const first = await gradeHistory(laurel, p.tenantId, m.b!, { before: null, limit: 1 });
    expect(first.map((r) => r.toGrade)).toEqual(['lapsed', 'regular']); // limit + 1: another page follows
    const second = await gradeHistory(laurel, p.tenantId, m.b!, { before: first[0]!.historyId, limit: 1 });
    expect(second.map((r) => r.toGrade)).toEqual(['regular']);
  });
});

describe('SQL RFM against the core', () => {
  // Populations written straight into member_activity (both sides read the same rows): random
  // windows, quantiles, weights and boundaries, rows on the window's first instant and on asOf.
  const ZONES = ['UTC', 'Europe/Paris', 'Pacific/Auckland', 'America/Los_Angeles'];
  const AS_OF = ['2026-06-15T10:00:00Z', '2026-03-29T01:30:00Z', '2026-10-25T00:30:00Z', '2026-01-01T00:30:00Z', '2026-03-31T12:00:00Z', '2026-04-05T13:59:59.999Z'];

  // few distinct values, so that ties are common: a few days back (any hour), anywhere in 15 months, or at the window's start
  const row = fc.record({
    at: fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: DAY_MS - 1 })).map(([d, ms]) => d * DAY_MS + ms),
      fc.integer({ min: 0, max: 460 * DAY_MS }),
      fc.constantFrom(-1, 0, 1).map((d) => ({ fromStart: d })),
    ),
    spend: fc.integer({ min: -1, max: 8 }).map((x) => x * 500),
    visits: fc.constantFrom(1, 1, 1, 0, -1),
  });
  const population = fc.array(fc.array(row, { maxLength: 5 }), { minLength: 1, maxLength: 25 });
  const scheme = fc.record({
    windowMonths: fc.integer({ min: 1, max: 14 }),
    quantiles: fc.integer({ min: 2, max: 10 }),
    weights: fc.record({ recency: fc.nat(5), frequency: fc.nat(5), monetary: fc.nat(5) }).filter((w) => w.recency + w.frequency + w.monetary > 0),
    cuts: fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { maxLength: 4 }),
  }).map(({ cuts, ...s }): RfmScheme => {
    const mins = [...cuts.filter((c) => c <= s.quantiles * 100).sort((a, b) => b - a), 0];
    return validateGrading({ kind: 'rfm', ...s, grades: mins.map((min, i) => ({ code: `g${i}`, minScore: showScore(min) })) }) as RfmScheme;
  });

  it('grades every member as the RFM spec says, with the same R, F, M and score (an independent oracle)', async () => {
    await fc.assert(fc.asyncProperty(scheme, population, fc.constantFrom(...ZONES), fc.constantFrom(...AS_OF), async (rfm, rows, zone, asOfText) => {
      const asOf = new Date(asOfText);
      const tenant = await createTenant(laurel, { name: 'RFM property', timeZone: zone, currency: 'EUR' });
      const p = await createProgram(laurel, tenant.tenantId, basicProgram);
      const start = windowAt({ kind: 'rolling_months', months: rfm.windowMonths }, asOf, zone).start!;
      const members = rows.map((activity) => ({
        memberId: uuidv7(),
        activity: activity.map((a) => ({
          ...a, at: new Date(typeof a.at === 'number' ? asOf.getTime() - a.at : start.getTime() + a.at.fromStart),
        })),
      }));
      await laurel.db.insertInto('members').values(members.map((x) => ({
        tenant_id: p.tenantId, member_id: x.memberId, program_id: p.programId, attributes: '{}', status: 'active' as const, enrolled_at: asOf, updated_at: asOf,
      }))).execute();
      const activity = members.flatMap((x) => x.activity.map((a) => ({
        tenant_id: p.tenantId, event_id: uuidv7(), program_id: p.programId, member_id: x.memberId, occurred_at: a.at,
        qualifying_points: 0n, spend: BigInt(a.spend), visits: a.visits,
      })));
      if (activity.length) await laurel.db.insertInto('member_activity').values(activity).execute();

      // the figures, computed here from the same rows, graded by the naive oracle below
      const localDay = (d: Date) => Date.parse(DateTime.fromJSDate(d, { zone }).toISODate()!);
      const input: RfmMember[] = members.map((x) => {
        const inWindow = x.activity.filter((a) => a.at >= start && a.at < asOf);
        const purchases = inWindow.reduce((s, a) => s + a.visits, 0);
        const last = Math.max(...inWindow.filter((a) => a.visits > 0).map((a) => a.at.getTime()));
        return purchases > 0
          ? { memberId: x.memberId, purchases: BigInt(purchases), spend: inWindow.reduce((s, a) => s + BigInt(a.spend), 0n), daysSinceLastPurchase: (localDay(asOf) - localDay(new Date(last))) / DAY_MS }
          : { memberId: x.memberId, purchases: 0n, spend: 0n, daysSinceLastPurchase: null };
      });
      const expected = rfmOracle(rfm, input);

      await putGrading(laurel, p.tenantId, p.programId, rfm, { actor: 'test' });
      expect(await recomputeProgram(laurel, p.tenantId, p.programId, asOf)).toMatchObject({ members: members.length, changed: members.length });
      const graded = await laurel.db.selectFrom('members as m').innerJoin('grade_history as h', (j) => j.onRef('h.tenant_id', '=', 'm.tenant_id').onRef('h.member_id', '=', 'm.member_id'))
        .select(['m.member_id', 'm.grade', 'h.reason']).where('m.tenant_id', '=', p.tenantId).orderBy('m.member_id').execute();
      expect(graded).toEqual(expected.map((e) => ({
        member_id: e.memberId, grade: e.grade, reason: `rfm: R${e.recency} F${e.frequency} M${e.monetary} score ${e.score}`,
      })));
    }), { numRuns: 60 });
  });
});

/**
 * RFM grading as core/grades/rfm.ts's header states it, written again naively (counting, floats
 * only where exact): the oracle of the property above, sharing no code with what it judges.
 */
function rfmOracle(scheme: RfmScheme, input: RfmMember[]) {
  const buyers = input.filter((x) => x.daysSinceLastPurchase !== null);
  const n = buyers.length;
  const q = scheme.quantiles;
  const { recency: wR, frequency: wF, monetary: wM } = scheme.weights;
  // a member's rank: how many buyers are strictly worse; its score floor(rank × q / n) + 1
  const score = (x: RfmMember, worse: (y: RfmMember) => boolean) =>
    (x.daysSinceLastPurchase === null ? 1 : Math.floor((buyers.filter(worse).length * q) / n) + 1);
  return input.map((x) => {
    const recency = score(x, (y) => y.daysSinceLastPurchase! > x.daysSinceLastPurchase!);
    const frequency = score(x, (y) => y.purchases < x.purchases);
    const monetary = score(x, (y) => y.spend < x.spend);
    const hundredths = Math.floor((100 * (wR * recency + wF * frequency + wM * monetary)) / (wR + wF + wM));
    const grade = scheme.grades.find((g) => hundredths >= Math.round(Number(g.minScore) * 100))!;
    return { memberId: x.memberId, recency, frequency, monetary, score: (hundredths / 100).toFixed(2), grade: grade.code };
  }).sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
}

describe('the grades job', () => {
  it('grades every program with a scheme, and a second run changes only what moved', async () => {
    laurel.clock.set('2026-06-20T03:00:00Z');
    await runJobNow(laurel, 'grades'); // brings every program of this file up to now
    const p = await newProgram(laurel, {}, 'Europe/Paris');
    const m = await membersNamed(p, ['buyer', 'idle']);
    await buy(p, m.buyer!, '2026-06-19T12:00:00Z', 4_000);
    laurel.clock.set('2026-06-20T03:00:00Z');
    await putGrading(laurel, p.tenantId, p.programId, RFM, { actor: 'test' });
    const run = await runJobNow(laurel, 'grades');
    expect(run.status).toBe('succeeded');
    // the buyer alone among buyers (n = 1) scores 1, 1, 1 like the idle member: both d
    expect(run.stats).toMatchObject({ changed: 2 });
    expect(run.stats.programs).toBeGreaterThanOrEqual(1);
    expect(run.stats.members).toBeGreaterThanOrEqual(2);
    expect(await gradesOf(p, m)).toEqual({ buyer: 'd', idle: 'd' });
    expect((await runJobNow(laurel, 'grades')).stats).toMatchObject({ programs: run.stats.programs, members: run.stats.members, changed: 0 });
  });
});

describe.skipIf(!onPostgres)('workers racing (PostgreSQL)', () => {
  const WORKERS = 4;

  /** A program of n members straight in SQL, member i with i % 7 purchases of (i % 5 + 1) × 1000 over the last months. */
  async function population(n: number): Promise<Program> {
    const p = await newProgram(laurel, {}, 'Europe/Paris');
    const at = laurel.clock.now();
    await sql`insert into members (tenant_id, member_id, program_id, attributes, status, enrolled_at, updated_at)
      select ${p.tenantId}, laurel_uuid_v7(), ${p.programId}, '{}', 'active', ${at}, ${at} from generate_series(1, ${n}::int)`.execute(laurel.db);
    await sql`insert into member_activity (tenant_id, event_id, program_id, member_id, occurred_at, qualifying_points, spend, visits)
      select m.tenant_id, gen_random_uuid(), m.program_id, m.member_id, ${at}::timestamptz - make_interval(days => (k * 17 + m.i % 13)::int), 0, (m.i % 5 + 1) * 1000, 1
      from (select tenant_id, program_id, member_id, row_number() over (order by member_id) as i from members where tenant_id = ${p.tenantId}) m
      cross join lateral generate_series(1, (m.i % 7)::int) k`.execute(laurel.db);
    return p;
  }

  /** The most history rows any member of the program has. */
  async function mostHistory(p: Program): Promise<number> {
    const r = await sql<{ n: number }>`select coalesce(max(n), 0)::int as n from (
      select count(*) as n from grade_history where tenant_id = ${p.tenantId} group by member_id) h`.execute(laurel.db);
    return r.rows[0]!.n;
  }

  for (const [kind, scheme, n] of [
    ['RFM', RFM, 500],
    ['expression (chunks of 2000)', { kind: 'expression', grades: [{ code: 'big', condition: 'stats.spend >= 20000' }, { code: 'some', condition: 'stats.purchases > 0' }] }, 4500],
  ] as const) {
    it(`${kind}: ${WORKERS} recomputes at once grade as one does, each change recorded once`, async () => {
      laurel.clock.set('2026-06-15T10:00:00Z');
      const raced = await population(n);
      const alone = await population(n);
      for (const p of [raced, alone]) await putGrading(laurel, p.tenantId, p.programId, scheme, { actor: 'test' });
      const runs = await Promise.all(Array.from({ length: WORKERS }, () => recomputeProgram(laurel, raced.tenantId, raced.programId)));
      const once = await recomputeProgram(laurel, alone.tenantId, alone.programId);
      expect(runs.reduce((s, r) => s + r.changed, 0)).toBe(once.changed);
      expect(await historyRows(raced)).toBe(once.changed);
      expect(await mostHistory(raced)).toBe(1);
      expect((await gradeReport(laurel, raced.tenantId, raced.programId)).grades).toEqual((await gradeReport(laurel, alone.tenantId, alone.programId)).grades);
      expect(await recomputeProgram(laurel, raced.tenantId, raced.programId)).toMatchObject({ changed: 0 });
    });
  }
});
