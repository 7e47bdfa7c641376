// Referrals as a brand runs them: a member shares their code, a friend joins with it, the friend's
// first purchase of €50 or more within 30 days qualifies the referral and pays both sides 500
// points, pending until the order's 14-day return window passes; a return in that window takes
// both back, once. Fraud is refused with its reason stored. Every scenario ends with `verify`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { ingestEvent } from '../src/services/events.js';
import { getBalance } from '../src/services/ledger.js';
import { createMember, setMemberStatus } from '../src/services/members.js';
import { getReferral, listReferrals, memberReferral, putReferralSettings, referralFunnel, settleReferrals } from '../src/services/referrals.js';
import { createReward } from '../src/services/rewards.js';
import { createRule } from '../src/services/rules.js';
import { listOutbox } from '../src/db/jobs.js';
import { settleDue } from '../src/db/settlement.js';
import { verifyLedger } from '../src/db/verify.js';
import { foldEmail } from '../src/core/referrals/fraud.js';
import { decideQualification } from '../src/core/referrals/referral.js';
import { validateReferralSettings } from '../src/core/referrals/settings.js';
import { expectVerified, newProgram, openTestLaurel } from './support/laurel.js';
import type { Program } from '../src/services/tenants.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2026-03-02T10:00:00Z'); });
afterAll(async () => { await laurel.close(); });

const SETTINGS = {
  enabled: true, linkBaseUrl: 'https://shop.example/join', condition: 'event.type == "purchase" && order.total >= 5000', withinDays: 30,
  referrer: { points: 500 }, referee: { points: 500 },
};

let serial = 0;
const ext = (p: string) => `${p}-${++serial}`;

async function program(overrides: Record<string, unknown> = {}, programOverrides: Record<string, unknown> = {}): Promise<Program> {
  const p = await newProgram(laurel, { returnWindowDays: 14, ...programOverrides });
  await putReferralSettings(laurel, p.tenantId, p.programId, { ...SETTINGS, ...overrides }, { actor: 'test' });
  return p;
}

const purchase = (p: Program, memberId: string, total: number, extra: Record<string, unknown> = {}) => ingestEvent(laurel, p.tenantId, {
  programId: p.programId, memberId, type: 'purchase', externalId: ext('order'), lines: [{ sku: 'SKU', quantity: 1, unitPrice: total }], ...extra,
});

async function referrer(p: Program, email = `ada-${++serial}@example.com`) {
  const m = await createMember(laurel, p.tenantId, { programId: p.programId, email });
  return { memberId: m.memberId, code: (await memberReferral(laurel, p.tenantId, m.memberId)).code! };
}

const balance = async (p: Program, memberId: string) => {
  const b = await getBalance(laurel, p.tenantId, memberId);
  return { available: b.available, pending: b.pending };
};

describe('a referral from code to both rewards', () => {
  it('qualifies on the first purchase that meets the condition, pays both sides pending points, and is rewarded when the return window ends', async () => {
    const p = await program();
    const ada = await referrer(p);
    const again = await memberReferral(laurel, p.tenantId, ada.memberId);
    expect(again.code).toBe(ada.code);
    expect(again.link).toBe(`https://shop.example/join?ref=${ada.code}`);
    const bob = await createMember(laurel, p.tenantId, { programId: p.programId, email: 'bob@example.com', referralCode: ada.code.toLowerCase() });
    const [joined] = await listReferrals(laurel, p.tenantId, { refereeId: bob.memberId, before: null, limit: 10 });
    expect(joined).toMatchObject({ state: 'pending', referrerId: ada.memberId, reason: null });
    await purchase(p, bob.memberId, 4999);
    expect((await getReferral(laurel, p.tenantId, joined!.referralId)).state).toBe('pending');
    await purchase(p, bob.memberId, 5000);
    const qualified = await getReferral(laurel, p.tenantId, joined!.referralId);
    expect(qualified).toMatchObject({ state: 'qualified', referrerPoints: 500n, refereePoints: 500n });
    expect(await balance(p, ada.memberId)).toEqual({ available: 0n, pending: 500n });
    expect(await balance(p, bob.memberId)).toEqual({ available: 0n, pending: 500n });
    // A later purchase changes nothing: the referral qualifies once.
    await purchase(p, bob.memberId, 9000);
    expect(await balance(p, ada.memberId)).toEqual({ available: 0n, pending: 500n });
    laurel.clock.advance(15 * DAY_MS);
    expect(await settleReferrals(laurel, laurel.clock.now())).toMatchObject({ rewarded: 1 });
    await settleDue(laurel.db, laurel.clock.now(), 1000);
    expect((await getReferral(laurel, p.tenantId, joined!.referralId)).state).toBe('rewarded');
    expect(await balance(p, ada.memberId)).toEqual({ available: 500n, pending: 0n });
    const messages = (await listOutbox(laurel.db, p.tenantId)).map((m) => m.type).filter((t) => t.startsWith('referral.'));
    expect(messages).toEqual(['referral.joined', 'referral.qualified']);
    const funnel = await referralFunnel(laurel, p.tenantId, p.programId, { from: null, to: null });
    expect(funnel).toMatchObject({ codesShared: 1, joined: 1, qualified: 1, rewarded: 1, pointsPaid: 1000n, rejected: {} });
    await expectVerified(laurel, p.tenantId);
  });

  it("answers the referee's balances after both the purchase's own points and the referral's", async () => {
    const p = await program();
    await createRule(laurel, p.tenantId, p.programId, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
    const ada = await referrer(p);
    const bob = await createMember(laurel, p.tenantId, { programId: p.programId, email: `bob-${++serial}@example.com`, referralCode: ada.code });
    const order = await purchase(p, bob.memberId, 6000);
    // 60 points for the order, 500 for the referral, both pending in the return window.
    expect(await balance(p, bob.memberId)).toEqual({ available: 0n, pending: 560n });
    const answered = order.ledger!.balances.find((b) => b.memberId === bob.memberId && b.wallet === 'points');
    expect({ available: answered!.available, pending: answered!.pending }).toEqual({ available: 0n, pending: 560n });
    await expectVerified(laurel, p.tenantId);
  });

  it("attributes on a universal program's first event from attributes.referralCode, and the same event can qualify", async () => {
    const p = await program({}, { enrollmentMode: 'universal' });
    const ada = await referrer(p);
    const r = await ingestEvent(laurel, p.tenantId, {
      programId: p.programId, member: { externalId: 'new-bob' }, type: 'purchase', externalId: ext('order'),
      lines: [{ sku: 'SKU', quantity: 1, unitPrice: 6000 }], attributes: { referralCode: ada.code },
    });
    expect(r.enrolled).toBe(true);
    const [ref] = await listReferrals(laurel, p.tenantId, { referrerId: ada.memberId, before: null, limit: 10 });
    expect(ref).toMatchObject({ state: 'qualified', refereeId: r.event.memberId });
    expect(r.ledger!.balances[0]!.pending).toBe(500n);
    await expectVerified(laurel, p.tenantId);
  });

  it('gives a catalog reward instance when the settings name one, and cancels it on reversal', async () => {
    const p = await newProgram(laurel, { returnWindowDays: 14 });
    const reward = await createReward(laurel, p.tenantId, p.programId, { code: 'free_coffee', name: 'Free coffee', cost: 100, value: { type: 'free_product', sku: 'COFFEE' } });
    await putReferralSettings(laurel, p.tenantId, p.programId, { ...SETTINGS, referee: { points: 0, rewardId: reward.reward.rewardId } }, { actor: 'test' });
    const ada = await referrer(p);
    const bob = await createMember(laurel, p.tenantId, { programId: p.programId, email: 'bob@example.com', referralCode: ada.code });
    const order = await purchase(p, bob.memberId, 5000);
    const [ref] = await listReferrals(laurel, p.tenantId, { refereeId: bob.memberId, before: null, limit: 10 });
    expect(ref!.refereeInstanceId).not.toBeNull();
    const instance = await laurel.db.selectFrom('reward_instances').select(['status', 'cost']).where('instance_id', '=', ref!.refereeInstanceId!).executeTakeFirstOrThrow();
    expect(instance).toEqual({ status: 'issued', cost: 0n });
    await ingestEvent(laurel, p.tenantId, { programId: p.programId, type: 'return', externalId: ext('ret'), purchaseExternalId: order.event.externalId, refundAmount: 5000 });
    const after = await laurel.db.selectFrom('reward_instances').select(['status']).where('instance_id', '=', ref!.refereeInstanceId!).executeTakeFirstOrThrow();
    expect(after.status).toBe('cancelled');
    await expectVerified(laurel, p.tenantId);
  });
});

describe('reversal', () => {
  it('a return of the qualifying order during the hold takes both rewards back, once', async () => {
    const p = await program();
    const ada = await referrer(p);
    const bob = await createMember(laurel, p.tenantId, { programId: p.programId, email: 'bob@example.com', referralCode: ada.code });
    const order = await purchase(p, bob.memberId, 6000);
    const ret = (externalId: string, refundAmount: number) => ingestEvent(laurel, p.tenantId, {
      programId: p.programId, type: 'return', externalId, purchaseExternalId: order.event.externalId, refundAmount,
    });
    await ret(ext('ret'), 1000);
    await ret(ext('ret'), 1000);
    const [ref] = await listReferrals(laurel, p.tenantId, { refereeId: bob.memberId, before: null, limit: 10 });
    expect(ref).toMatchObject({ state: 'reversed' });
    expect(await balance(p, ada.memberId)).toEqual({ available: 0n, pending: 0n });
    expect(await balance(p, bob.memberId)).toEqual({ available: 0n, pending: 0n });
    const reversals = await laurel.db.selectFrom('journal_entries').select('kind').where('tenant_id', '=', p.tenantId).where('kind', '=', 'reverse').execute();
    expect(reversals).toHaveLength(2);
    expect((await listOutbox(laurel.db, p.tenantId, 'referral.reversed'))).toHaveLength(1);
    await expectVerified(laurel, p.tenantId);
  });

  it('a return after the hold ended keeps the referral rewarded', async () => {
    const p = await program();
    const ada = await referrer(p);
    const bob = await createMember(laurel, p.tenantId, { programId: p.programId, email: 'bob@example.com', referralCode: ada.code });
    const order = await purchase(p, bob.memberId, 6000);
    laurel.clock.advance(15 * DAY_MS);
    await settleReferrals(laurel, laurel.clock.now());
    await settleDue(laurel.db, laurel.clock.now(), 1000);
    await ingestEvent(laurel, p.tenantId, { programId: p.programId, type: 'return', externalId: ext('ret'), purchaseExternalId: order.event.externalId, refundAmount: 6000 });
    const [ref] = await listReferrals(laurel, p.tenantId, { refereeId: bob.memberId, before: null, limit: 10 });
    expect(ref!.state).toBe('rewarded');
    expect(await balance(p, ada.memberId)).toEqual({ available: 500n, pending: 0n });
    await expectVerified(laurel, p.tenantId);
  });
});

describe('fraud checks, each a stated reason', () => {
  it('self-referral by the same e-mail with plus-addressing is rejected at once', async () => {
    const p = await program();
    const ada = await referrer(p, 'ada@example.com');
    const alt = await createMember(laurel, p.tenantId, { programId: p.programId, email: 'Ada+promo@Example.com', referralCode: ada.code });
    const [ref] = await listReferrals(laurel, p.tenantId, { refereeId: alt.memberId, before: null, limit: 10 });
    expect(ref).toMatchObject({ state: 'rejected', reason: 'self_referral', detail: 'referrer and referee share a email' });
    await purchase(p, alt.memberId, 9000);
    expect(await balance(p, ada.memberId)).toEqual({ available: 0n, pending: 0n });
    expect((await listOutbox(laurel.db, p.tenantId)).map((m) => m.type).filter((t) => t.startsWith('referral.'))).toEqual(['referral.joined', 'referral.rejected']);
  });

  it('self-referral by a shared device id (kept hashed) is rejected when the referee would qualify', async () => {
    const p = await program();
    const ada = await referrer(p);
    await purchase(p, ada.memberId, 100, { attributes: { deviceId: 'device-42' } });
    const bob = await createMember(laurel, p.tenantId, { programId: p.programId, email: 'bob@example.com', referralCode: ada.code });
    await purchase(p, bob.memberId, 6000, { attributes: { deviceId: 'device-42' } });
    const [ref] = await listReferrals(laurel, p.tenantId, { refereeId: bob.memberId, before: null, limit: 10 });
    expect(ref).toMatchObject({ state: 'rejected', reason: 'self_referral', detail: 'referrer and referee share a device id' });
    const stored = await laurel.db.selectFrom('referral_signals').select('hash').where('tenant_id', '=', p.tenantId).execute();
    expect(stored.every((s) => s.hash !== 'device-42' && /^[0-9a-f]{64}$/.test(s.hash))).toBe(true);
    expect(await balance(p, bob.memberId)).toEqual({ available: 0n, pending: 0n });
    await expectVerified(laurel, p.tenantId);
  });

  it('self-referral by the same phone, and by a shared payment fingerprint', async () => {
    const p = await program();
    const ada = await createMember(laurel, p.tenantId, { programId: p.programId, phone: '+33612345678' });
    const code = (await memberReferral(laurel, p.tenantId, ada.memberId)).code!;
    const twin = await createMember(laurel, p.tenantId, { programId: p.programId, externalId: 'twin', phone: '+33 6 12 34 56 79', referralCode: code });
    expect((await listReferrals(laurel, p.tenantId, { refereeId: twin.memberId, before: null, limit: 1 }))[0]!.state).toBe('pending');
    const same = await createMember(laurel, p.tenantId, { programId: p.programId, externalId: 'same' , email: 'x@example.com', referralCode: code });
    await purchase(p, ada.memberId, 100, { attributes: { paymentFingerprint: 'card-fp-1' } });
    await purchase(p, same.memberId, 7000, { attributes: { paymentFingerprint: 'card-fp-1' } });
    expect((await listReferrals(laurel, p.tenantId, { refereeId: same.memberId, before: null, limit: 1 }))[0]).toMatchObject({ reason: 'self_referral', detail: 'referrer and referee share a payment fingerprint' });
  });

  it('a referee who was already a member is rejected (already_member)', async () => {
    const p = await program({}, { enrollmentMode: 'universal' });
    const ada = await referrer(p);
    const old = await createMember(laurel, p.tenantId, { programId: p.programId, externalId: 'old-customer' });
    await ingestEvent(laurel, p.tenantId, {
      programId: p.programId, member: { externalId: 'old-customer' }, type: 'purchase', externalId: ext('order'),
      lines: [{ sku: 'SKU', quantity: 1, unitPrice: 6000 }], attributes: { referralCode: ada.code },
    });
    const [ref] = await listReferrals(laurel, p.tenantId, { refereeId: old.memberId, before: null, limit: 1 });
    expect(ref).toMatchObject({ state: 'rejected', reason: 'already_member' });
    expect(await balance(p, ada.memberId)).toEqual({ available: 0n, pending: 0n });
  });

  it('a suspended referrer is refused (referrer_suspended); a referrer over a cap is refused (referrer_cap_reached)', async () => {
    const p = await program({ caps: { perPeriod: { count: 1, period: 'month' }, lifetime: null } });
    const ada = await referrer(p);
    const join = async () => (await createMember(laurel, p.tenantId, { programId: p.programId, externalId: ext('friend'), referralCode: ada.code })).memberId;
    const [b1, b2, b3] = [await join(), await join(), await join()];
    await purchase(p, b1, 6000);
    await purchase(p, b2, 6000);
    expect((await listReferrals(laurel, p.tenantId, { refereeId: b2, before: null, limit: 1 }))[0]).toMatchObject({ state: 'rejected', reason: 'referrer_cap_reached' });
    await setMemberStatus(laurel, p.tenantId, ada.memberId, 'suspended');
    await purchase(p, b3, 6000);
    expect((await listReferrals(laurel, p.tenantId, { refereeId: b3, before: null, limit: 1 }))[0]).toMatchObject({ state: 'rejected', reason: 'referrer_suspended' });
    expect(await balance(p, ada.memberId)).toEqual({ available: 0n, pending: 500n });
    const funnel = await referralFunnel(laurel, p.tenantId, p.programId, { from: null, to: null });
    expect(funnel.rejected).toEqual({ referrer_cap_reached: 1, referrer_suspended: 1 });
    await expectVerified(laurel, p.tenantId);
  });

  it('a referee who does not qualify within the window is rejected (window_passed): on their next event, or by the job', async () => {
    const p = await program({ withinDays: 7 });
    const ada = await referrer(p);
    const b1 = await createMember(laurel, p.tenantId, { programId: p.programId, externalId: ext('f'), referralCode: ada.code });
    const b2 = await createMember(laurel, p.tenantId, { programId: p.programId, externalId: ext('f'), referralCode: ada.code });
    laurel.clock.advance(8 * DAY_MS);
    await purchase(p, b1.memberId, 6000);
    expect((await listReferrals(laurel, p.tenantId, { refereeId: b1.memberId, before: null, limit: 1 }))[0]).toMatchObject({ state: 'rejected', reason: 'window_passed' });
    expect(await settleReferrals(laurel, laurel.clock.now())).toMatchObject({ expired: 1 });
    expect((await listReferrals(laurel, p.tenantId, { refereeId: b2.memberId, before: null, limit: 1 }))[0]).toMatchObject({ state: 'rejected', reason: 'window_passed' });
    expect(await listOutbox(laurel.db, p.tenantId, 'referral.rejected')).toHaveLength(2);
  });
});

describe('attribution', () => {
  it('is immutable, chains are allowed, and an unknown code refuses the enrolment naming referralCode', async () => {
    const p = await program();
    const ada = await referrer(p);
    const bob = await createMember(laurel, p.tenantId, { programId: p.programId, email: 'bob@example.com', referralCode: ada.code });
    const bobCode = (await memberReferral(laurel, p.tenantId, bob.memberId)).code!;
    const cy = await createMember(laurel, p.tenantId, { programId: p.programId, email: 'cy@example.com', referralCode: bobCode });
    await purchase(p, cy.memberId, 6000);
    await purchase(p, bob.memberId, 6000);
    expect(await balance(p, bob.memberId)).toEqual({ available: 0n, pending: 1000n });
    expect((await memberReferral(laurel, p.tenantId, cy.memberId)).referredBy).toMatchObject({ referrerId: bob.memberId, state: 'qualified' });
    await expect(createMember(laurel, p.tenantId, { programId: p.programId, email: 'dan@example.com', referralCode: 'ZZZZZZZZZZZZZZZZ' }))
      .rejects.toMatchObject({ code: 'not_found', field: 'referralCode' });
    await expect(createMember(laurel, p.tenantId, { programId: p.programId, email: 'dan@example.com', referralCode: 'nope' }))
      .rejects.toMatchObject({ code: 'validation', field: 'referralCode' });
    await expectVerified(laurel, p.tenantId);
  });
});

describe('verify', () => {
  it('finds a referral whose points the journal does not show (referrals_follow_journal)', async () => {
    const p = await program();
    const ada = await referrer(p);
    const bob = await createMember(laurel, p.tenantId, { programId: p.programId, email: 'bob@example.com', referralCode: ada.code });
    await purchase(p, bob.memberId, 6000);
    await expectVerified(laurel, p.tenantId);
    await laurel.db.updateTable('referrals').set({ referrer_points: 501n }).where('tenant_id', '=', p.tenantId).execute();
    const report = await verifyLedger(laurel.db, laurel.clock.now(), p.tenantId);
    const check = report.checks.find((c) => c.name === 'referrals_follow_journal')!;
    expect(check.failures).toMatchObject([{ side: 'referrer', points: 501, entry_amount: 500 }]);
    await laurel.db.updateTable('referrals').set({ referrer_points: 500n }).where('tenant_id', '=', p.tenantId).execute();
    await expectVerified(laurel, p.tenantId);
  });
});

describe('the core', () => {
  it('folds plus-addressing and case in e-mails', () => {
    expect(foldEmail('Ada+Shop@Example.COM')).toBe('ada@example.com');
    expect(foldEmail('ada@example.com')).toBe(foldEmail('ADA+x+y@example.com'));
  });

  it('decides fraud before the window, the window before the condition, the referrer and caps last', () => {
    const settings = validateReferralSettings({ ...SETTINGS, caps: { lifetime: 2 } });
    const base = { settings, now: new Date(), occurredAt: new Date(), expiresAt: null, referrerStatus: 'active' as const, sameAs: null, conditionMet: true, paidInPeriod: 0, paidEver: 0 };
    expect(decideQualification(base)).toEqual({ kind: 'qualify' });
    expect(decideQualification({ ...base, conditionMet: false })).toEqual({ kind: 'wait' });
    expect(decideQualification({ ...base, sameAs: 'device id', conditionMet: false })).toMatchObject({ kind: 'reject', reason: 'self_referral' });
    expect(decideQualification({ ...base, paidEver: 2 })).toMatchObject({ kind: 'reject', reason: 'referrer_cap_reached' });
    expect(decideQualification({ ...base, referrerStatus: 'suspended', paidEver: 2 })).toMatchObject({ reason: 'referrer_suspended' });
    expect(decideQualification({ ...base, expiresAt: new Date(0) })).toMatchObject({ reason: 'window_passed' });
  });

  it('refuses bad settings naming the field', () => {
    const bad = (patch: Record<string, unknown>) => { try { validateReferralSettings({ ...SETTINGS, ...patch }); return null; } catch (e) { return (e as { field: string }).field; } };
    expect(bad({ condition: 'order.total >=' })).toBe('condition');
    expect(bad({ condition: 'order.total' })).toBe('condition');
    expect(bad({ condition: 'member.stats.purchases == 0' })).toBe('condition');
    expect(bad({ withinDays: 0 })).toBe('withinDays');
    expect(bad({ linkBaseUrl: 'javascript:alert(1)' })).toBe('linkBaseUrl');
    expect(bad({ referrer: { points: -1 } })).toBe('referrer.points');
    expect(bad({ caps: { perPeriod: { count: 1, period: 'fortnight' } } })).toBe('caps.perPeriod.period');
    expect(bad({ caps: { lifetime: -3 } })).toBe('caps.lifetime');
    expect(bad({ extra: 1 })).toBe('extra');
  });
});
