// Issue 5's acceptance: a program with a 12-month rolling expiry and three tiers runs for two
// simulated years, the scheduled jobs catching up at every step as a worker would, and every
// balance, lot, tier and grade is what the hand calculation in the comments says.
//
// Program (Europe/Paris): 1 point per euro, times the tier's multiplier; points expire 12 months
// after they are earned; tiers on qualifying points per calendar year: bronze 0, silver 1000
// (×1.5, +100 on reaching it), gold 3000 (×2, +300); no grace. Grades by expression over the last
// 12 months: a (spend ≥ €1500), b (a purchase), c (everybody else).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WALLET } from '../src/core/program.js';
import { installSchedules, runDueJobs } from '../src/jobs/runner.js';
import { ingestEvent } from '../src/services/events.js';
import { putGrading } from '../src/services/grades.js';
import { getBalance, redeem } from '../src/services/ledger.js';
import { createMember, getMember } from '../src/services/members.js';
import { createRule } from '../src/services/rules.js';
import { createProgram, createTenant } from '../src/services/tenants.js';
import { putLadder } from '../src/services/tiers.js';
import { basicProgram, expectVerified, lotsOf, openTestLaurel } from './support/laurel.js';

type TestLaurel = Awaited<ReturnType<typeof openTestLaurel>>;
let laurel: TestLaurel;
beforeAll(async () => { laurel = await openTestLaurel('2026-01-01T08:00:00Z'); });
afterAll(async () => { await laurel.close(); });

let tenantId: string;
let programId: string;
const who: Record<string, string> = {};
let serial = 0;

/** Moves the clock to `at` and lets the worker run whatever has come due since the last step. */
async function at(when: string): Promise<void> {
  laurel.clock.set(when);
  const outcomes = await runDueJobs(laurel, { worker: 'sim' });
  for (const o of outcomes) expect(o.status, `${o.job} at ${when}: ${'error' in o ? o.error : ''}`).toBe('succeeded');
}

async function buy(name: string, euros: number, when: string): Promise<string> {
  await at(when);
  const externalId = `order-${++serial}`;
  await ingestEvent(laurel, tenantId, {
    programId, memberId: who[name]!, type: 'purchase', externalId, occurredAt: when,
    lines: [{ sku: 'GOODS', quantity: 1, unitPrice: euros * 100 }],
  });
  return externalId;
}

const available = async (name: string) => (await getBalance(laurel, tenantId, who[name]!, DEFAULT_WALLET)).available;
const tier = async (name: string) => (await getMember(laurel, tenantId, who[name]!)).tier;
const grade = async (name: string) => (await getMember(laurel, tenantId, who[name]!)).grade;
const lots = async (name: string) => (await lotsOf(laurel, tenantId, who[name]!)).map((l) => `${l.amount}/${l.remaining} until ${l.expiresAt}`);

describe('two years of a program', () => {
  it('every balance, lot, tier and grade is what the hand calculation says, at each step', async () => {
    const tenant = await createTenant(laurel, { name: 'Two years', timeZone: 'Europe/Paris', currency: 'EUR' });
    tenantId = tenant.tenantId;
    programId = (await createProgram(laurel, tenantId, { ...basicProgram, expiry: { kind: 'rolling', months: 12 } })).programId;
    await createRule(laurel, tenantId, programId, { name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'sim' });
    await createRule(laurel, tenantId, programId, { name: 'Tier bonus', trigger: 'purchase', effect: { type: 'tier_multiplier' } }, { actor: 'sim' });
    await putLadder(laurel, tenantId, programId, {
      metric: 'points', window: { kind: 'calendar_year' },
      tiers: [
        { code: 'bronze', name: 'Bronze', threshold: 0 },
        { code: 'silver', name: 'Silver', threshold: 1000, benefits: { earnMultiplier: '1.5', upgradeBonus: 100 } },
        { code: 'gold', name: 'Gold', threshold: 3000, benefits: { earnMultiplier: '2', upgradeBonus: 300 } },
      ],
    }, { actor: 'sim' });
    await putGrading(laurel, tenantId, programId, {
      kind: 'expression',
      grades: [
        { code: 'a', condition: 'stats.spendLast12Months >= 150000' },
        { code: 'b', condition: 'stats.purchasesLast12Months >= 1' },
        { code: 'c', condition: 'true' },
      ],
    }, { actor: 'sim' });
    for (const name of ['ann', 'ben', 'cat']) {
      who[name] = (await createMember(laurel, tenantId, { programId, externalId: name })).memberId;
    }
    await installSchedules(laurel);

    // --- 2026 ---
    // Ann: €600 on 10 Feb (600, bronze), €500 on 15 Apr (1100 in 2026: silver, +100),
    // €1000 on 1 Sep at ×1.5 (1500; 2600), €400 on 20 Nov at ×1.5 (600; 3200: gold, +300).
    await buy('ann', 600, '2026-02-10T10:00:00Z');
    await buy('ann', 500, '2026-04-15T09:00:00Z');
    expect(await tier('ann')).toBe('silver');
    await buy('ann', 1000, '2026-09-01T09:00:00Z');
    await buy('ann', 400, '2026-11-20T10:00:00Z');
    expect(await tier('ann')).toBe('gold');
    expect(await available('ann')).toBe(600n + 500n + 100n + 1500n + 600n + 300n);

    // Ben: €1200 on 1 Mar (silver, +100); €200 of it refunded on 1 May: 200 points back (1100 left),
    // 1000 qualifying in 2026; no instant downgrade.
    const bens = await buy('ben', 1200, '2026-03-01T10:00:00Z');
    await at('2026-05-01T09:00:00Z');
    await ingestEvent(laurel, tenantId, { programId, type: 'return', externalId: 'ben-return', purchaseExternalId: bens, refundAmount: 20_000 });
    expect(await tier('ben')).toBe('silver');
    expect(await available('ben')).toBe(1100n);

    // Cat: €300 at 23:30 on 31 December in Paris (22:30Z): 2026's.
    await buy('cat', 300, '2026-12-31T22:30:00Z');

    // --- 1 January 2027, 00:00 Paris = 2026-12-31T23:00Z; the hourly review runs at 23:05Z ---
    // 2026 judged: Ann 3200 ≥ 3000 keeps gold, Ben 1200 − 200 = 1000 keeps silver, Cat 300 stays bronze.
    // Grades (daily at 03:00Z, over the 12 months to 1 January 2027): Ann spent €2500 (a), Ben €1000
    // net of the refund (b), Cat €300 (b).
    await at('2027-01-01T03:30:00Z');
    expect([await tier('ann'), await tier('ben'), await tier('cat')]).toEqual(['gold', 'silver', 'bronze']);
    expect([await grade('ann'), await grade('ben'), await grade('cat')]).toEqual(['a', 'b', 'b']);

    // --- 2027 ---
    // Cat: €800 on 10 Jan: 800 at bronze; 2027 has 800, no upgrade.
    await buy('cat', 800, '2027-01-10T10:00:00Z');
    expect(await tier('cat')).toBe('bronze');
    // 10 Feb: Ann's first 600 expire (12 months after 2026-02-10T10:00Z): 3600 − 600 = 3000.
    await at('2027-02-10T10:00:01Z');
    expect(await available('ann')).toBe(3000n);
    // 1 Mar: Ben's lots expire: the purchase's (1000 left after the refund) and the bonus 100: 0.
    await at('2027-03-01T10:00:01Z');
    expect(await available('ben')).toBe(0n);
    // Ann redeems 1000 on 1 Mar, soonest-expiring first: the 500 and the 100 of 15 Apr, then 400 of the 1500.
    await redeem(laurel, { tenantId, memberId: who.ann!, amount: 1000n, idempotencyKey: 'ann-redeem' });
    expect(await available('ann')).toBe(2000n);
    // €1000 on 1 Jun at gold's ×2: 2000; 2027 has 2000.
    await buy('ann', 1000, '2027-06-01T09:00:00Z');
    expect(await available('ann')).toBe(4000n);
    // 1 Sep: the 1500 lot's last 1100 expire (2900); 20 Nov: the 600 and the bonus 300 (2000).
    await at('2027-09-01T09:00:01Z');
    expect(await available('ann')).toBe(2900n);
    await at('2027-11-20T10:00:01Z');
    expect(await available('ann')).toBe(2000n);
    // 31 Dec 22:30Z (23:30 Paris): Cat's €300 of a year ago expire: 1100 − 300 = 800.
    await at('2027-12-31T22:30:01Z');
    expect(await available('cat')).toBe(800n);

    // --- 1 January 2028 (2027-12-31T23:00Z) ---
    // 2027 judged: Ann 2000 < 3000 goes down one level to silver; Ben 0 goes to bronze; Cat 800 stays bronze.
    // Grades over the 12 months to 1 January 2028: Ann €1000 (b), Ben nothing (c), Cat €800 on 10 Jan 2027 (b).
    await at('2028-01-01T03:30:00Z');
    expect([await tier('ann'), await tier('ben'), await tier('cat')]).toEqual(['silver', 'bronze', 'bronze']);
    expect([await grade('ann'), await grade('ben'), await grade('cat')]).toEqual(['b', 'c', 'b']);

    expect(await lots('ann')).toEqual([
      '600/0 until 2027-02-10T10:00:00.000Z', '500/0 until 2027-04-15T09:00:00.000Z', '100/0 until 2027-04-15T09:00:00.000Z',
      '1500/0 until 2027-09-01T09:00:00.000Z', '600/0 until 2027-11-20T10:00:00.000Z', '300/0 until 2027-11-20T10:00:00.000Z',
      '2000/2000 until 2028-06-01T09:00:00.000Z',
    ]);
    expect(await lots('ben')).toEqual(['1200/0 until 2027-03-01T10:00:00.000Z', '100/0 until 2027-03-01T10:00:00.000Z']);
    expect(await lots('cat')).toEqual(['300/0 until 2027-12-31T22:30:00.000Z', '800/800 until 2028-01-10T10:00:00.000Z']);
    expect([await available('ann'), await available('ben'), await available('cat')]).toEqual([2000n, 0n, 800n]);
    await expectVerified(laurel, tenantId);
  });
});
