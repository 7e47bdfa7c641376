// The holdout (control group) earns nothing on any path that pays points by itself: the event's
// rules (tested in analytics.test.ts), the welcome and birthday bonuses, a tier's climb and its
// upgrade bonus, the review job, a referral's rewards and an achievement's reward. What control
// members do is recorded all the same: their events, spend, referrals and unlocks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inControlGroup } from '../src/core/analytics/holdout.js';
import { runJobNow } from '../src/jobs/runner.js';
import { createAchievement, memberAchievements, milestonesAfterAdjustment } from '../src/services/achievements.js';
import { updateAnalyticsSettings } from '../src/services/analytics.js';
import { enrolMember, ingestEvent } from '../src/services/events.js';
import { adjust, getBalance } from '../src/services/ledger.js';
import { createMember, getMember, updateMember } from '../src/services/members.js';
import { listReferrals, memberReferral, putReferralSettings } from '../src/services/referrals.js';
import { createRule } from '../src/services/rules.js';
import type { Program } from '../src/services/tenants.js';
import { listTierHistory, putLadder, reviewTiers } from '../src/services/tiers.js';
import { expectVerified, newProgram, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2026-05-10T10:00:00Z'); });
afterAll(async () => { await laurel.close(); });

const SALT = 'holdout-paths';
const SHARE = 5000;
let serial = 0;
/** A fresh external id in the control group (control) or out of it. */
function customer(control: boolean): string {
  for (;;) {
    const id = `cust-${++serial}`;
    if (inControlGroup(SALT, { externalId: id, memberId: '' }, SHARE) === control) return id;
  }
}

async function program(): Promise<Program> {
  laurel.clock.set('2026-05-10T10:00:00Z');
  const p = await newProgram(laurel);
  await createRule(laurel, p.tenantId, p.programId, { name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
  await updateAnalyticsSettings(laurel, p.tenantId, p.programId, { controlShareBp: SHARE, holdoutSalt: SALT }, 'test');
  return p;
}

const join = async (p: Program, control: boolean, extra: Record<string, unknown> = {}) =>
  (await createMember(laurel, p.tenantId, { programId: p.programId, externalId: customer(control), ...extra })).memberId;
const buy = (p: Program, memberId: string, cents: number) => ingestEvent(laurel, p.tenantId, {
  programId: p.programId, memberId, type: 'purchase', externalId: `o-${++serial}`, lines: [{ sku: 'GOODS', quantity: 1, unitPrice: cents }],
});
const points = async (p: Program, memberId: string) => (await getBalance(laurel, p.tenantId, memberId)).available;
const spendOf = async (p: Program, memberId: string) => BigInt((await laurel.db.selectFrom('member_activity').select((eb) => eb.fn.sum<string>('spend').as('s'))
  .where('tenant_id', '=', p.tenantId).where('member_id', '=', memberId).executeTakeFirstOrThrow()).s ?? 0);

describe('the holdout earns nothing, whatever pays', () => {
  it('the welcome bonus and the birthday bonus: the control member gets neither, their events are recorded', async () => {
    const p = await program();
    await createRule(laurel, p.tenantId, p.programId, { name: 'Welcome', trigger: 'signup', effect: { type: 'fixed_points', points: 100 } }, { actor: 'test' });
    await createRule(laurel, p.tenantId, p.programId, { name: 'Birthday', trigger: 'birthday', effect: { type: 'fixed_points', points: 50 } }, { actor: 'test' });
    const enrol = async (control: boolean) =>
      (await enrolMember(laurel, p.tenantId, { programId: p.programId, externalId: customer(control), birthday: '1990-05-11' })).memberId;
    const control = await enrol(true);
    const member = await enrol(false);
    expect([await points(p, control), await points(p, member)]).toEqual([0n, 100n]);
    // midnight in Paris on 11 May: both have their birthday
    laurel.clock.set('2026-05-10T22:30:00Z');
    const run = await runJobNow(laurel, 'birthdays');
    expect(run.status, run.error).toBe('succeeded');
    expect([await points(p, control), await points(p, member)]).toEqual([0n, 150n]);
    const events = await laurel.db.selectFrom('events').select(['member_id', 'type']).where('tenant_id', '=', p.tenantId).where('member_id', '=', control).orderBy('type').execute();
    expect(events.map((e) => e.type)).toEqual(['birthday', 'signup']);
    await expectVerified(laurel, p.tenantId);
  });

  it('tiers: a control member neither climbs nor gets the upgrade bonus, the review job moves them neither up nor down; their spend counts', async () => {
    const p = await program();
    await putLadder(laurel, p.tenantId, p.programId, {
      metric: 'spend', window: { kind: 'calendar_year' },
      tiers: [{ code: 'member', name: 'Member', threshold: 0 }, { code: 'silver', name: 'Silver', threshold: 5000, benefits: { upgradeBonus: 100 } }],
    }, { actor: 'test' });
    const control = await join(p, true);
    const member = await join(p, false);
    const held = await buy(p, control, 10_000);
    expect({ points: held.points, tier: held.tier }).toEqual({ points: 0n, tier: null });
    const climbed = await buy(p, member, 10_000);
    expect(climbed.tier).toMatchObject({ from: 'member', to: 'silver', bonus: 100n });
    expect([await points(p, control), await points(p, member)]).toEqual([0n, 200n]);
    expect((await getMember(laurel, p.tenantId, control)).tier).toBe('member');
    // their €100 is recorded: it is what the ROI compares
    expect(await spendOf(p, control)).toBe(10_000n);

    // an admin puts a second control member on silver: the review at the year's end keeps them there,
    // as it keeps the first on member although they spent enough for silver; a member who spent nothing goes down
    const idle = await join(p, true);
    const lapsed = await join(p, false);
    for (const m of [idle, lapsed]) await updateMember(laurel, p.tenantId, m, { tier: 'silver' });
    laurel.clock.set('2027-01-01T00:00:00Z');
    await reviewTiers(laurel, laurel.clock.now());
    const tiers = await Promise.all([control, idle, lapsed].map(async (m) => (await getMember(laurel, p.tenantId, m)).tier));
    expect(tiers).toEqual(['member', 'silver', 'member']);
    const changes = async (m: string) => (await listTierHistory(laurel, p.tenantId, m, null, 100)).map((h) => h.change).reverse();
    expect(await changes(control)).toEqual(['placed']);
    expect(await changes(lapsed)).toEqual(['placed', 'set', 'down']);
    expect([await points(p, control), await points(p, idle)]).toEqual([0n, 0n]);
    // the review moved on: a second run finds nothing due for them
    expect((await reviewTiers(laurel, laurel.clock.now())).members).toBe(0);
    await expectVerified(laurel, p.tenantId);
  });

  it('referrals: a side in the control group gets nothing, the other side is paid, and the referral qualifies', async () => {
    const p = await program();
    await putReferralSettings(laurel, p.tenantId, p.programId, {
      enabled: true, linkBaseUrl: 'https://shop.example/join', condition: 'event.type == "purchase" && order.total >= 5000', withinDays: 30,
      referrer: { points: 500 }, referee: { points: 300 },
    }, { actor: 'test' });
    const codeOf = async (m: string) => (await memberReferral(laurel, p.tenantId, m)).code!;
    // a control referrer, a member referee
    const controlReferrer = await join(p, true, { email: 'cr@example.com' });
    const referee = await join(p, false, { email: 'referee@example.com', referralCode: await codeOf(controlReferrer) });
    await buy(p, referee, 6000);
    expect([await points(p, controlReferrer), await points(p, referee)]).toEqual([0n, 60n + 300n]);
    // a member referrer, a control referee
    const referrer = await join(p, false, { email: 'r@example.com' });
    const controlReferee = await join(p, true, { email: 'cre@example.com', referralCode: await codeOf(referrer) });
    await buy(p, controlReferee, 6000);
    expect([await points(p, referrer), await points(p, controlReferee)]).toEqual([500n, 0n]);
    const referrals = await listReferrals(laurel, p.tenantId, { programId: p.programId, before: null, limit: 10 });
    expect(referrals.map((r) => [r.state, r.referrerPoints, r.refereePoints])).toEqual([['rewarded', 500n, 0n], ['rewarded', 0n, 300n]]);
    await expectVerified(laurel, p.tenantId);
  });

  it('achievements: a control member unlocks (it is tracked) but is paid no reward', async () => {
    const p = await program();
    await createAchievement(laurel, p.tenantId, p.programId, { code: 'first', name: 'First order', kind: 'counter', target: 1, reward: { type: 'points', points: 75 } }, { actor: 'test' });
    const control = await join(p, true);
    const member = await join(p, false);
    await buy(p, control, 1000);
    await buy(p, member, 1000);
    expect([await points(p, control), await points(p, member)]).toEqual([0n, 10n + 75n]);
    const unlocked = async (m: string) => (await memberAchievements(laurel, p.tenantId, m)).map((a) => a.unlocked);
    expect(await unlocked(control)).toEqual([true]);
    expect(await unlocked(member)).toEqual([true]);
    await expectVerified(laurel, p.tenantId);
  });

  it("a balance milestone reached by a manual adjustment: the control member's crossing is told, its reward not paid", async () => {
    const p = await program();
    await createAchievement(laurel, p.tenantId, p.programId, { code: 'hundred', name: '100 points', kind: 'milestone', thresholds: { list: [100] }, reward: { type: 'points', points: 30 } }, { actor: 'test' });
    const control = await join(p, true);
    const member = await join(p, false);
    for (const m of [control, member]) {
      const key = `adjust-${m}`;
      await adjust(laurel, { tenantId: p.tenantId, memberId: m, amount: 120, reason: 'goodwill', actor: 'test', idempotencyKey: key });
      await milestonesAfterAdjustment(laurel, p.tenantId, m, { key, actor: 'test' });
    }
    expect([await points(p, control), await points(p, member)]).toEqual([120n, 150n]);
    expect((await memberAchievements(laurel, p.tenantId, control)).map((a) => a.unlocked)).toEqual([true]);
    await expectVerified(laurel, p.tenantId);
  });
});
