// Referral races, on PostgreSQL: twenty referees of one referrer qualifying at once against the
// referrer's caps, the same qualifying purchase sent many times at once, and a referee buying while
// their referrer buys (two wallets locked in joining order, never in a circle). Nobody is paid past
// a cap, nothing twice, and `verify` passes. PGlite serialises transactions: skipped there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/errors.js';
import { ingestEvent } from '../src/services/events.js';
import { getBalance } from '../src/services/ledger.js';
import { createMember } from '../src/services/members.js';
import { listReferrals, memberReferral, putReferralSettings } from '../src/services/referrals.js';
import { createRule } from '../src/services/rules.js';
import type { Program } from '../src/services/tenants.js';
import { expectVerified, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

const CONNECTIONS = 30;
let laurel: Awaited<ReturnType<typeof openTestLaurel>>;

const times = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));
const codeOf = (e: unknown): string => (e instanceof DomainError ? e.code : `raw error ${(e as { code?: string }).code ?? ''}: ${(e as Error).message}`);

let serial = 0;
async function setUp(caps: Record<string, unknown>, referees: number) {
  const p = await newProgram(laurel, { returnWindowDays: 14 });
  // A budgeted rule: its budget row is locked by every purchase, after the wallets.
  await createRule(laurel, p.tenantId, p.programId, {
    name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { budget: 1_000_000 },
  }, { actor: 'test' });
  await putReferralSettings(laurel, p.tenantId, p.programId, {
    enabled: true, linkBaseUrl: 'https://shop.example/join', condition: 'order.total >= 5000', referrer: { points: 500 }, referee: { points: 100 }, caps,
  }, { actor: 'test' });
  const referrer = (await createMember(laurel, p.tenantId, { programId: p.programId, externalId: `r-${++serial}` })).memberId;
  const code = (await memberReferral(laurel, p.tenantId, referrer)).code!;
  const friends: string[] = [];
  for (let i = 0; i < referees; i++) friends.push((await createMember(laurel, p.tenantId, { programId: p.programId, externalId: `f-${serial}-${i}`, referralCode: code })).memberId);
  return { p, referrer, friends };
}

const buy = (p: Program, memberId: string, externalId: string) =>
  ingestEvent(laurel, p.tenantId, { programId: p.programId, memberId, type: 'purchase', externalId, lines: [{ sku: 'X', quantity: 1, unitPrice: 6000 }] });

describe.skipIf(!onPostgres)('referrals under races (PostgreSQL)', () => {
  beforeAll(async () => { laurel = await openTestLaurel('2026-06-01T10:00:00Z', {}, CONNECTIONS); });
  afterAll(async () => { await laurel.close(); });

  it('a referrer one referral short of the lifetime cap, with 20 referees qualifying at once, is paid exactly up to the cap', async () => {
    const { p, referrer, friends } = await setUp({ lifetime: 3 }, 22);
    // Two paid already: one left under the cap.
    await buy(p, friends[20]!, 'early-1');
    await buy(p, friends[21]!, 'early-2');
    const outcomes = await Promise.allSettled(friends.slice(0, 20).map((f, i) => buy(p, f, `race-${i}`)));
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => codeOf((o as PromiseRejectedResult).reason))).toEqual([]);
    const all = await listReferrals(laurel, p.tenantId, { referrerId: referrer, before: null, limit: 100 });
    expect(all.filter((r) => r.state === 'qualified')).toHaveLength(3);
    expect(all.filter((r) => r.state === 'rejected' && r.reason === 'referrer_cap_reached')).toHaveLength(19);
    expect((await getBalance(laurel, p.tenantId, referrer)).pending).toBe(1500n);
    await expectVerified(laurel, p.tenantId);
  });

  it('a per-month cap of 5 with 20 referees qualifying at once pays 5', async () => {
    const { p, referrer, friends } = await setUp({ perPeriod: { count: 5, period: 'month' } }, 20);
    await Promise.all(friends.map((f, i) => buy(p, f, `race-${i}`)));
    expect((await getBalance(laurel, p.tenantId, referrer)).pending).toBe(2500n);
    await expectVerified(laurel, p.tenantId);
  });

  it('the same qualifying purchase sent 10 times at once pays once', async () => {
    const { p, referrer, friends } = await setUp({}, 1);
    const outcomes = await Promise.allSettled(times(10, () => buy(p, friends[0]!, 'twice')));
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => codeOf((o as PromiseRejectedResult).reason))).toEqual([]);
    expect((await getBalance(laurel, p.tenantId, referrer)).pending).toBe(500n);
    expect((await getBalance(laurel, p.tenantId, friends[0]!)).pending).toBe(160n);
    const earns = await laurel.db.selectFrom('journal_entries').select('entry_id').where('tenant_id', '=', p.tenantId).where('ref', 'like', 'referral:%').execute();
    expect(earns).toHaveLength(2);
    await expectVerified(laurel, p.tenantId);
  });

  it('referees and their referrer buying at once, under a budgeted rule, neither deadlock nor fail', async () => {
    const { p, referrer, friends } = await setUp({}, 10);
    const calls = [...friends.map((f, i) => () => buy(p, f, `f-${i}`)), ...times(10, (i) => () => buy(p, referrer, `r-${i}`))];
    const outcomes = await Promise.allSettled(calls.map((c) => c()));
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => codeOf((o as PromiseRejectedResult).reason))).toEqual([]);
    expect((await getBalance(laurel, p.tenantId, referrer)).pending).toBe(10n * 500n + 10n * 60n);
    await expectVerified(laurel, p.tenantId);
  });
});
