// The birthdays job: a birthday event on the day itself in the tenant's zone, through the
// program's rules, once per member and year, whoever runs it and however often; 29 February on
// 28 February in common years; a run cut short is finished by the next without sending twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EarningStrategy } from '../src/core/rules/strategies.js';
import { runJobNow } from '../src/jobs/runner.js';
import { getBalance } from '../src/services/ledger.js';
import { createMember, setMemberStatus } from '../src/services/members.js';
import { createRule } from '../src/services/rules.js';
import type { Program } from '../src/services/tenants.js';
import { expectVerified, newProgram, openTestLaurel } from './support/laurel.js';

/** A birthday bonus that fails from its `failFrom`-th award on (a crash in the middle of a run). */
let awards = 0;
let failFrom = Infinity;
const fragileBonus: EarningStrategy<{ points: bigint }> = {
  type: 'fragile_bonus',
  description: 'fixed points, until the test breaks it',
  phase: 'base',
  parse: (params) => ({ points: BigInt(params.points as number) }),
  wallet: () => null,
  award({ params }) {
    if (++awards >= failFrom) throw new Error('the bonus calculation crashed');
    return { points: params.points, detail: {} };
  },
};

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2026-12-06T10:00:00Z', { strategies: [fragileBonus] }); });
afterAll(async () => { await laurel.close(); });

async function programIn(timeZone: string, effect: Record<string, unknown> = { type: 'fixed_points', points: 500 }): Promise<Program> {
  const p = await newProgram(laurel, {}, timeZone);
  await createRule(laurel, p.tenantId, p.programId, { name: 'Birthday bonus', trigger: 'birthday', effect }, { actor: 'test' });
  return p;
}

let serial = 0;
const born = async (p: Program, birthday: string | null) =>
  (await createMember(laurel, p.tenantId, { programId: p.programId, externalId: `b-${++serial}`, birthday })).memberId;

const points = async (p: Program, memberId: string) => (await getBalance(laurel, p.tenantId, memberId)).available;
const birthdayEvents = async (p: Program) => (await laurel.db.selectFrom('events').select(['member_id', 'external_id'])
  .where('tenant_id', '=', p.tenantId).where('type', '=', 'birthday').orderBy('external_id').execute()).map((e) => e.external_id);
const at = (iso: string) => laurel.clock.set(new Date(iso));
const run = async () => {
  const outcome = await runJobNow(laurel, 'birthdays');
  expect(outcome.status, outcome.error).toBe('succeeded');
  return outcome.stats;
};

describe('the birthdays job', () => {
  it('sends the birthday event at local midnight in Auckland, not before, once however often it runs; Paris gets its own at its own midnight', async () => {
    const auckland = await programIn('Pacific/Auckland');
    const paris = await programIn('Europe/Paris');
    const ada = await born(auckland, '1990-12-07');
    const bea = await born(auckland, '1985-12-06');
    const cy = await born(auckland, '2000-12-07');
    await setMemberStatus(laurel, auckland.tenantId, cy, 'suspended');
    await born(auckland, null);
    const noe = await born(paris, '1990-12-07');
    const quiet = await newProgram(laurel, {}, 'Pacific/Auckland'); // no birthday rule: no event at all
    await born(quiet, '1990-12-07');

    // 23:59 on 6 December in Auckland (UTC+13): Bea's day, not Ada's yet
    at('2026-12-06T10:59:00Z');
    await run();
    expect(await birthdayEvents(auckland)).toEqual([`birthday:${bea}:2026`]);
    // 00:00 on 7 December in Auckland; still noon on the 6th in Paris
    at('2026-12-06T11:00:00Z');
    await run();
    await run();
    at('2026-12-06T11:10:00Z');
    expect(await run()).toMatchObject({ sent: 0 });
    expect(await birthdayEvents(auckland)).toEqual([`birthday:${ada}:2026`, `birthday:${bea}:2026`].sort());
    expect([await points(auckland, ada), await points(auckland, bea), await points(auckland, cy)]).toEqual([500n, 500n, 0n]);
    expect(await birthdayEvents(paris)).toEqual([]);
    expect(await birthdayEvents(quiet)).toEqual([]);
    // midnight in Paris
    at('2026-12-06T23:00:00Z');
    expect(await run()).toMatchObject({ sent: 1 });
    expect(await points(paris, noe)).toBe(500n);
    // a year on, again once
    at('2027-12-06T11:30:00Z');
    await run();
    await run();
    expect(await points(auckland, ada)).toBe(1000n);
    await expectVerified(laurel);
  });

  it('keeps a 29 February birthday on 28 February in a common year, and on the 29th in a leap year', async () => {
    const p = await programIn('Pacific/Auckland');
    const leapling = await born(p, '2000-02-29');
    // 27 February 2027, 23:30 in Auckland: not yet
    at('2027-02-27T10:30:00Z');
    await run();
    expect(await birthdayEvents(p)).toEqual([]);
    // 28 February 2027, 00:10 in Auckland
    at('2027-02-27T11:10:00Z');
    await run();
    // 1 March: nothing more this year
    at('2027-02-28T11:10:00Z');
    await run();
    expect(await birthdayEvents(p)).toEqual([`birthday:${leapling}:2027`]);
    // 2028 is a leap year: nothing on the 28th, the event on the 29th
    at('2028-02-27T11:10:00Z');
    await run();
    expect(await birthdayEvents(p)).toEqual([`birthday:${leapling}:2027`]);
    at('2028-02-28T11:10:00Z');
    await run();
    expect(await birthdayEvents(p)).toEqual([`birthday:${leapling}:2027`, `birthday:${leapling}:2028`]);
    expect(await points(p, leapling)).toBe(1000n);
    await expectVerified(laurel, p.tenantId);
  });

  it('a run cut short by a crash is finished by the next one, and nobody gets two', async () => {
    const p = await programIn('Pacific/Auckland', { type: 'fragile_bonus', points: 300 });
    const members = [await born(p, '1991-03-15'), await born(p, '1992-03-15'), await born(p, '1993-03-15')];
    at('2027-03-15T02:00:00Z');
    awards = 0;
    failFrom = 2;
    const crashed = await runJobNow(laurel, 'birthdays');
    expect(crashed.status).toBe('failed');
    expect(await birthdayEvents(p)).toHaveLength(1);
    failFrom = Infinity;
    expect(await run()).toMatchObject({ sent: 2 });
    expect(await run()).toMatchObject({ sent: 0 });
    expect(await birthdayEvents(p)).toEqual(members.map((m) => `birthday:${m}:2027`).sort());
    for (const m of members) expect(await points(p, m)).toBe(300n);
    await expectVerified(laurel, p.tenantId);
  });
});
