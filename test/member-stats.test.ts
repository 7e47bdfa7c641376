// member.stats from running counters (migration 0113): each purchase event adds itself to its
// member's month in the tenant's zone, and the stats sum those months. Here they are held to what a
// scan of the member's purchase events says — the way they were counted before — for purchases
// sent in any order across year and month ends (late ones included), with returns between, in a
// zone whose year starts on the day before UTC's; and a rule reading them earns as they say.
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberStats } from '../src/db/rules.js';
import { ingestEvent } from '../src/services/events.js';
import { createRule } from '../src/services/rules.js';
import { expectVerified, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2027-03-01T00:00:00Z'); });
afterAll(async () => { await laurel?.close(); });

const ZONE = 'Pacific/Auckland';

/** The stats as a scan of the member's purchase events counts them (their definition before 0113). */
async function scanned(tenantId: string, memberId: string, at: Date) {
  const { rows: [r] } = await sql<{ purchases: string; year_count: string; month_count: string; spend: string; year_spend: string }>`
    with b as (select date_trunc('year', ${at}::timestamptz at time zone ${ZONE}) at time zone ${ZONE} as y,
                      date_trunc('month', ${at}::timestamptz at time zone ${ZONE}) at time zone ${ZONE} as m)
    select count(*)::text as purchases, count(*) filter (where occurred_at >= b.y)::text as year_count,
           count(*) filter (where occurred_at >= b.m)::text as month_count, coalesce(sum(total), 0)::text as spend,
           coalesce(sum(total) filter (where occurred_at >= b.y), 0)::text as year_spend
    from events cross join b where tenant_id = ${tenantId} and member_id = ${memberId} and type = 'purchase'`.execute(laurel.db);
  return {
    purchases: BigInt(r!.purchases), purchasesThisYear: BigInt(r!.year_count), purchasesThisMonth: BigInt(r!.month_count),
    spend: BigInt(r!.spend), spendThisYear: BigInt(r!.year_spend),
  };
}

// Instants around Auckland's 2026 year end (11:00 UTC on 31 December) and its month ends, in any order.
const BASE = Date.parse('2026-11-30T08:00:00Z');
const instant = fc.integer({ min: 0, max: 24 * 50 }).map((h) => new Date(BASE + h * 3_600_000));
const step = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('purchase' as const), at: instant, price: fc.integer({ min: 100, max: 50_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('return' as const), of: fc.nat() }) },
);

describe('member.stats from running counters', () => {
  it('equal a scan of the member\'s purchase events, whatever order and months the purchases came in, returns between', async () => {
    const p = await newProgram(laurel, {}, ZONE);
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), fc.array(instant, { minLength: 3, maxLength: 3 }), async (steps, ats) => {
      const m = await newMember(laurel, p);
      const bought: string[] = [];
      for (const [i, s] of steps.entries()) {
        if (s.kind === 'purchase') {
          const externalId = `${m}-p${i}`;
          await ingestEvent(laurel, p.tenantId, {
            programId: p.programId, memberId: m, externalId, type: 'purchase', occurredAt: s.at.toISOString(),
            lines: [{ sku: 'X', quantity: 1, unitPrice: s.price }],
          });
          bought.push(externalId);
        } else if (bought.length > 0) {
          const purchase = bought.splice(s.of % bought.length, 1)[0]!;
          await ingestEvent(laurel, p.tenantId, { programId: p.programId, externalId: `${purchase}-r`, type: 'return', purchaseExternalId: purchase, lines: [{ sku: 'X', quantity: 1 }] });
        }
      }
      for (const at of [...ats, ...steps.flatMap((s) => (s.kind === 'purchase' ? [s.at] : []))]) {
        expect(await memberStats(laurel.db, p.tenantId, m, at), at.toISOString()).toEqual(await scanned(p.tenantId, m, at));
      }
    }), { numRuns: onPostgres ? 25 : 10 });
    await expectVerified(laurel, p.tenantId);
  });

  it('a rule for the year\'s third purchase counts in the tenant\'s year: Auckland\'s new year comes 13 hours before UTC\'s', async () => {
    const p = await newProgram(laurel, {}, ZONE);
    await createRule(laurel, p.tenantId, p.programId, {
      name: 'Third this year', trigger: 'purchase', condition: 'member.stats.purchasesThisYear == 2', effect: { type: 'fixed_points', points: 300 },
    }, { actor: 'test' });
    const m = await newMember(laurel, p);
    const buy = (externalId: string, at: string) => ingestEvent(laurel, p.tenantId, {
      programId: p.programId, memberId: m, externalId, type: 'purchase', occurredAt: at, lines: [{ sku: 'X', quantity: 1, unitPrice: 1000 }],
    });
    // 2026 in Auckland: two purchases, the second at 10:59 UTC on 31 December (23:59 there)
    await buy('a', '2026-06-01T00:00:00Z');
    await buy('b', '2026-12-31T10:59:00Z');
    // 11:00 UTC on 31 December is 2027 in Auckland: its first purchase of the year, not the third
    expect((await buy('c', '2026-12-31T11:00:00Z')).points).toBe(0n);
    expect((await buy('d', '2027-01-05T00:00:00Z')).points).toBe(0n);
    // the third of 2027
    expect((await buy('e', '2027-02-01T00:00:00Z')).points).toBe(300n);
    // a late 2026 purchase counts in its own month and year: 2027's three stay three
    await buy('f', '2026-12-01T00:00:00Z');
    expect(await memberStats(laurel.db, p.tenantId, m, new Date('2027-02-02T00:00:00Z'))).toMatchObject({ purchases: 6n, purchasesThisYear: 3n, purchasesThisMonth: 1n });
    await expectVerified(laurel, p.tenantId);
  });
});
