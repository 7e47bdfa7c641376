// Rewards end to end on the database: every reward type redeemed, validated, consumed once,
// cancelled back onto the same lots; every limit refusing with its reason; expiry by the
// program's policy; checkout reservations; the member view; and `verify` after each.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/errors.js';
import { ALPHABET, newCode } from '../src/core/rewards/codes.js';
import { listOutbox } from '../src/db/jobs.js';
import { runJobNow } from '../src/jobs/runner.js';
import { ingestEvent } from '../src/services/events.js';
import { createHold, earn, getBalance } from '../src/services/ledger.js';
import { createMember, updateMember } from '../src/services/members.js';
import {
  cancelInstance, consumeInstance, createReward, donations, freshCode, getReward, importPartnerCodes, redeemReward, rewardsForMember,
  updateReward, validateInstance,
} from '../src/services/rewards.js';
import { createRule, quote } from '../src/services/rules.js';
import { createProgram, createTenant, getProgram, updateProgramSettings, type Program } from '../src/services/tenants.js';
import { putLadder } from '../src/services/tiers.js';
import { basketArbitrary, returnPlan } from './support/event-arbitraries.js';
import { basicProgram, expectVerified, key, lotsOf, onPostgres, openTestLaurel } from './support/laurel.js';

type TestLaurel = Awaited<ReturnType<typeof openTestLaurel>>;
let laurel: TestLaurel;
beforeAll(async () => { laurel = await openTestLaurel('2026-03-02T10:00:00Z', {}, onPostgres ? 60 : 20); });
afterAll(async () => { await laurel.close(); });

async function program(overrides: Partial<Parameters<typeof createProgram>[2]> = {}): Promise<Program> {
  const tenant = await createTenant(laurel, { name: 'Rewards', timeZone: 'Europe/Paris', currency: 'EUR' });
  return createProgram(laurel, tenant.tenantId, {
    ...basicProgram, wallets: [...basicProgram.wallets, { code: 'credit', kind: 'redeemable' }], expiry: { kind: 'rolling', months: 12 }, ...overrides,
  });
}

let serial = 0;
async function member(p: Program, points = 0): Promise<string> {
  const m = (await createMember(laurel, p.tenantId, { programId: p.programId, externalId: `m-${++serial}` })).memberId;
  if (points > 0) await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: points, idempotencyKey: key() });
  return m;
}

const reward = async (p: Program, definition: Record<string, unknown>) => (await createReward(laurel, p.tenantId, p.programId, { name: 'A reward', cost: 100, ...definition })).reward;
const redeem = (p: Program, rewardId: string, memberId: string, extra: { channel?: string; holdSeconds?: number } = {}, idempotencyKey = key()) =>
  redeemReward(laurel, p.tenantId, { rewardId, memberId, ...extra }, { idempotencyKey, actor: 'test' });
const available = async (p: Program, m: string, wallet = 'points') => (await getBalance(laurel, p.tenantId, m, wallet)).available;

async function refusal(attempt: Promise<unknown>): Promise<{ code: string; message: string; field?: string }> {
  try {
    await attempt;
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return { code: (e as DomainError).code, message: (e as DomainError).message, field: (e as DomainError).field };
  }
  throw new Error('accepted');
}

describe('every reward type', () => {
  it('fixed discount: redeeming spends the cost and issues an instance with a code, validated and consumed once', async () => {
    const p = await program();
    const m = await member(p, 500);
    const r = await reward(p, { code: 'five-off', value: { type: 'fixed_discount', amount: 500 }, cost: 200 });
    const { instance, ledger } = await redeem(p, r.rewardId, m);
    expect(instance).toMatchObject({ status: 'issued', cost: 200n, value: { type: 'fixed_discount', amount: 500n } });
    expect(instance.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{16}$/);
    expect(ledger[0]!.balances[0]!.available).toBe(300n);
    expect(instance.expiresAt).toEqual(new Date(laurel.clock.now().getTime() + 30 * 86_400_000));
    // typed by a person: lower case, dashes, an O for a 0 and an I for a 1
    const typed = instance.code.toLowerCase().replace(/(.{4})(?!$)/g, '$1-').replace(/0/g, 'o').replace(/1/g, 'i');
    expect(await validateInstance(laurel, p.tenantId, typed)).toMatchObject({ usable: true, reason: null, reward: { reward: { code: 'five-off' }, issued: 1n } });
    const used = await consumeInstance(laurel, p.tenantId, { code: typed, orderRef: 'order-1' }, { idempotencyKey: key(), actor: 'pos' });
    expect(used.instance).toMatchObject({ status: 'consumed', consumedRef: 'order-1' });
    expect(await refusal(consumeInstance(laurel, p.tenantId, { code: instance.code, orderRef: 'order-2' }, { idempotencyKey: key(), actor: 'pos' })))
      .toMatchObject({ code: 'conflict', field: 'code', message: 'the reward cannot be used: already used (order-1)' });
    expect(await validateInstance(laurel, p.tenantId, instance.code)).toMatchObject({ usable: false, reason: 'already used (order-1)' });
    expect((await listOutbox(laurel.db, p.tenantId)).map((o) => o.type)).toEqual(['reward.issued', 'reward.consumed']);
    await expectVerified(laurel, p.tenantId);
  });

  it('percent discount with a cap, free product, free shipping: what they give is kept on the instance', async () => {
    const p = await program();
    const m = await member(p, 1000);
    const pct = await reward(p, { code: 'pct', value: { type: 'percent_discount', percent: '12.5', cap: 2000 } });
    const free = await reward(p, { code: 'latte', value: { type: 'free_product', sku: 'LATTE-L' } });
    const ship = await reward(p, { code: 'ship', value: { type: 'free_shipping' } });
    expect((await redeem(p, pct.rewardId, m)).instance.value).toEqual({ type: 'percent_discount', percent: '12.5', cap: 2000n });
    expect((await redeem(p, free.rewardId, m)).instance.value).toEqual({ type: 'free_product', sku: 'LATTE-L' });
    expect((await redeem(p, ship.rewardId, m)).instance.value).toEqual({ type: 'free_shipping' });
    expect(await available(p, m)).toBe(700n);
  });

  it('store credit: the points become money in the credit wallet at once, and the instance is used', async () => {
    const p = await program();
    const m = await member(p, 1000);
    const r = await reward(p, { code: 'gift', value: { type: 'store_credit', amount: 1000, wallet: 'credit' }, cost: 800 });
    const { instance } = await redeem(p, r.rewardId, m);
    expect(instance.status).toBe('consumed');
    expect([await available(p, m), await available(p, m, 'credit')]).toEqual([200n, 1000n]);
    expect(await refusal(cancelInstance(laurel, p.tenantId, instance.instanceId, { idempotencyKey: key(), actor: 'pos' }))).toMatchObject({ code: 'conflict' });
    expect(await refusal(reward(p, { code: 'bad', value: { type: 'store_credit', amount: 5, wallet: 'cash' } }))).toMatchObject({ field: 'value.wallet' });
    await expectVerified(laurel, p.tenantId);
  });

  it('experience: its stock is its capacity; a cancellation frees a seat', async () => {
    const p = await program();
    const r = await reward(p, { code: 'class', value: { type: 'experience', startsAt: '2026-04-01T18:00:00+02:00', location: 'Paris' }, stock: 2 });
    const [a, b, c] = [await member(p, 100), await member(p, 100), await member(p, 100)];
    const first = await redeem(p, r.rewardId, a);
    await redeem(p, r.rewardId, b);
    expect(await refusal(redeem(p, r.rewardId, c))).toMatchObject({ code: 'conflict', message: expect.stringContaining('stock: out of stock') });
    await cancelInstance(laurel, p.tenantId, first.instance.instanceId, { idempotencyKey: key(), actor: 'pos' });
    expect((await redeem(p, r.rewardId, c)).instance.status).toBe('issued');
    expect((await getReward(laurel, p.tenantId, r.rewardId)).issued).toBe(2n);
    expect(await refusal(reward(p, { code: 'nocap', value: { type: 'experience', startsAt: '2026-04-01T18:00:00Z' } }))).toMatchObject({ field: 'stock' });
  });

  it('donation: the points become a donation, used at once and reported', async () => {
    const p = await program();
    const m = await member(p, 1000);
    const r = await reward(p, { code: 'trees', value: { type: 'donation', amount: 500, charity: 'Plant a tree' }, cost: 400 });
    await redeem(p, r.rewardId, m);
    await redeem(p, r.rewardId, m);
    expect(await donations(laurel, p.tenantId, p.programId, { from: null, to: null })).toEqual([
      { rewardId: r.rewardId, charity: 'Plant a tree', donations: 2n, amount: 1000n, points: 800n },
    ]);
  });

  it("partner voucher: each redemption carries one of the partner's imported codes; none left is out of stock", async () => {
    const p = await program();
    const m = await member(p, 1000);
    const r = await reward(p, { code: 'cinema', value: { type: 'partner_voucher', partner: 'CineMax' } });
    expect(await importPartnerCodes(laurel, p.tenantId, r.rewardId, ['CMX-1', 'CMX-2', 'CMX-1'])).toEqual({ imported: 2, free: 2n });
    const got = [(await redeem(p, r.rewardId, m)).instance.partnerCode, (await redeem(p, r.rewardId, m)).instance.partnerCode];
    expect(got.sort()).toEqual(['CMX-1', 'CMX-2']);
    expect(await refusal(redeem(p, r.rewardId, m))).toMatchObject({ code: 'conflict', message: expect.stringContaining('stock') });
    expect(await available(p, m)).toBe(800n);
  });

  it('partner voucher: a cancelled instance keeps its partner code, which never returns to the pool; the reward.cancelled message names it to void', async () => {
    const p = await program();
    const m = await member(p, 1000);
    const r = await reward(p, { code: 'spa', value: { type: 'partner_voucher', partner: 'SpaCo' } });
    await importPartnerCodes(laurel, p.tenantId, r.rewardId, ['SPA-1', 'SPA-2']);
    const first = (await redeem(p, r.rewardId, m)).instance;
    expect(first.partnerCode).toBe('SPA-1');
    const cancelled = await cancelInstance(laurel, p.tenantId, first.instanceId, { idempotencyKey: key(), actor: 'pos' });
    // The member saw SPA-1 in the redemption's answer and may have used it at the partner: it is spent, not free again.
    expect(cancelled.instance).toMatchObject({ status: 'cancelled', partnerCode: 'SPA-1' });
    expect(await importPartnerCodes(laurel, p.tenantId, r.rewardId, ['SPA-1'])).toEqual({ imported: 0, free: 1n });
    expect((await redeem(p, r.rewardId, m)).instance.partnerCode).toBe('SPA-2');
    expect(await refusal(redeem(p, r.rewardId, m))).toMatchObject({ code: 'conflict', message: expect.stringContaining('stock: out of stock') });
    const [message] = await listOutbox(laurel.db, p.tenantId, 'reward.cancelled');
    expect(message!.payload).toMatchObject({ instanceId: first.instanceId, partnerCode: 'SPA-1' });
    // the cancelled one's points came back: 1000 − 100 + 100 − 100
    expect(await available(p, m)).toBe(900n);
    await expectVerified(laurel, p.tenantId);
  });
});

describe('limits', () => {
  it('each refuses with its reason: per-member times and points per period, window, channel, points', async () => {
    const p = await program();
    const m = await member(p, 1000);
    const weekly = await reward(p, { code: 'weekly', value: { type: 'free_shipping' }, perMember: [{ period: 'week', times: 1 }] });
    await redeem(p, weekly.rewardId, m);
    expect(await refusal(redeem(p, weekly.rewardId, m))).toMatchObject({ code: 'conflict', message: expect.stringContaining('limit: at most 1 this week') });
    // Monday 9 March 2026 00:00 Paris: a new week
    laurel.clock.set('2026-03-08T23:00:00Z');
    await redeem(p, weekly.rewardId, m);
    const spend = await reward(p, { code: 'spend', value: { type: 'free_shipping' }, cost: 300, perMember: [{ period: 'lifetime', points: 500 }] });
    await redeem(p, spend.rewardId, m);
    expect(await refusal(redeem(p, spend.rewardId, m))).toMatchObject({ message: expect.stringContaining('limit: at most 500 points on it in all') });
    const later = await reward(p, { code: 'later', value: { type: 'free_shipping' }, validFrom: '2026-04-01T00:00:00+02:00' });
    expect(await refusal(redeem(p, later.rewardId, m))).toMatchObject({ message: expect.stringContaining('not_started') });
    const over = await reward(p, { code: 'over', value: { type: 'free_shipping' }, validTo: '2026-03-01T00:00:00+01:00' });
    expect(await refusal(redeem(p, over.rewardId, m))).toMatchObject({ message: expect.stringContaining('ended') });
    const off = await reward(p, { code: 'off', value: { type: 'free_shipping' }, enabled: false });
    expect(await refusal(redeem(p, off.rewardId, m))).toMatchObject({ message: expect.stringContaining('disabled') });
    const store = await reward(p, { code: 'store', value: { type: 'free_shipping' }, channels: ['store'] });
    expect(await refusal(redeem(p, store.rewardId, m, { channel: 'web' }))).toMatchObject({ message: expect.stringContaining('channel: only store') });
    await redeem(p, store.rewardId, m, { channel: 'store' });
    const dear = await reward(p, { code: 'dear', value: { type: 'free_shipping' }, cost: 5000 });
    expect(await refusal(redeem(p, dear.rewardId, m))).toMatchObject({ code: 'insufficient_points', message: 'not enough points: 4600 points missing' });
    laurel.clock.set('2026-03-02T10:00:00Z');
    await expectVerified(laurel, p.tenantId);
  });

  it('tier, grade and segment restrictions; a reward a tier reserves (rewardAccess) is for that tier only', async () => {
    const p = await program();
    await putLadder(laurel, p.tenantId, p.programId, {
      metric: 'points', window: { kind: 'lifetime' },
      tiers: [{ code: 'member', name: 'Member', threshold: 0 }, { code: 'gold', name: 'Gold', threshold: 1000, benefits: { rewardAccess: ['lounge'] } }],
    }, { actor: 'test' });
    const m = await member(p, 1000);
    const gold = await reward(p, { code: 'gold-gift', value: { type: 'free_shipping' }, tiers: ['gold'] });
    const lounge = await reward(p, { code: 'lounge', value: { type: 'free_shipping' } });
    const graded = await reward(p, { code: 'graded', value: { type: 'free_shipping' }, grades: ['a'] });
    const paris = await reward(p, { code: 'paris', value: { type: 'free_shipping' }, segment: 'has(member.attributes.city) && member.attributes.city == "Paris"' });
    expect(await refusal(redeem(p, gold.rewardId, m))).toMatchObject({ message: expect.stringContaining('tier: for gold members') });
    expect(await refusal(redeem(p, lounge.rewardId, m))).toMatchObject({ message: expect.stringContaining('tier: reserved to gold members') });
    expect(await refusal(redeem(p, graded.rewardId, m))).toMatchObject({ message: expect.stringContaining('grade: for grade a members') });
    expect(await refusal(redeem(p, paris.rewardId, m))).toMatchObject({ message: expect.stringContaining('segment') });
    await updateMember(laurel, p.tenantId, m, { tier: 'gold', grade: 'a', attributes: { city: 'Paris' } });
    for (const r of [gold, lounge, graded, paris]) expect((await redeem(p, r.rewardId, m)).instance.status).toBe('issued');
    expect(await refusal(reward(p, { code: 'bad', value: { type: 'free_shipping' }, segment: 'member.attributes.city = "Paris"' }))).toMatchObject({ field: 'segment' });
  });
});

describe('cancelling', () => {
  it('gives back the exact points onto the lots they were taken from, and the unit to the stock', async () => {
    const p = await program();
    const m = await member(p);
    // three lots with three expiry dates
    for (const [at, points] of [['2026-03-02T10:00:00Z', 100], ['2026-03-03T10:00:00Z', 100], ['2026-03-04T10:00:00Z', 100]] as const) {
      laurel.clock.set(at);
      await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: points, idempotencyKey: key() });
    }
    const before = await lotsOf(laurel, p.tenantId, m);
    const r = await reward(p, { code: 'mug', value: { type: 'free_product', sku: 'MUG' }, cost: 150, stock: 5 });
    const { instance } = await redeem(p, r.rewardId, m);
    expect((await lotsOf(laurel, p.tenantId, m)).map((l) => l.remaining)).toEqual([0n, 50n, 100n]);
    const back = await cancelInstance(laurel, p.tenantId, instance.instanceId, { idempotencyKey: key(), actor: 'pos' });
    expect(back.instance.status).toBe('cancelled');
    expect(await lotsOf(laurel, p.tenantId, m)).toEqual(before);
    expect(await available(p, m)).toBe(300n);
    expect((await getReward(laurel, p.tenantId, r.rewardId)).issued).toBe(0n);
    expect(await refusal(cancelInstance(laurel, p.tenantId, instance.instanceId, { idempotencyKey: key(), actor: 'pos' }))).toMatchObject({ code: 'conflict' });
    expect(await refusal(consumeInstance(laurel, p.tenantId, { code: instance.code }, { idempotencyKey: key(), actor: 'pos' }))).toMatchObject({ message: 'the reward cannot be used: cancelled' });
    await expectVerified(laurel, p.tenantId);
    laurel.clock.set('2026-03-02T10:00:00Z');
  });

  it('the same request sent twice redeems once and answers the same', async () => {
    const p = await program();
    const m = await member(p, 500);
    const r = await reward(p, { code: 'once', value: { type: 'free_shipping' } });
    const k = key();
    const [a, b] = [await redeem(p, r.rewardId, m, {}, k), await redeem(p, r.rewardId, m, {}, k)];
    expect(b.instance).toEqual(a.instance);
    expect(await available(p, m)).toBe(400n);
    expect(await refusal(redeem(p, r.rewardId, m, { channel: 'web' }, k))).toMatchObject({ code: 'idempotency_conflict' });
  });
});

describe('expiry', () => {
  it('forfeit (the default): an unused instance expires and keeps its points; members are reminded before', async () => {
    const p = await program({ expiryReminderDays: 3 });
    const m = await member(p, 300);
    const r = await reward(p, { code: 'soon', value: { type: 'free_shipping' }, expiresAfterDays: 10 });
    const { instance } = await redeem(p, r.rewardId, m);
    laurel.clock.set('2026-03-10T10:00:00Z');
    expect((await runJobNow(laurel, 'reward_expiry')).stats).toMatchObject({ reminders: 1, forfeited: 0 });
    laurel.clock.set('2026-03-12T10:00:00Z');
    expect((await runJobNow(laurel, 'reward_expiry')).stats).toMatchObject({ forfeited: 1, refunded: 0, reminders: 0 });
    expect((await runJobNow(laurel, 'reward_expiry')).stats).toMatchObject({ forfeited: 0 });
    expect(await validateInstance(laurel, p.tenantId, instance.code)).toMatchObject({ usable: false, reason: 'expired', instance: { status: 'expired' } });
    expect(await available(p, m)).toBe(200n);
    expect((await listOutbox(laurel.db, p.tenantId)).map((o) => o.type)).toEqual(['reward.issued', 'reward.expiring', 'reward.expired']);
    laurel.clock.set('2026-03-02T10:00:00Z');
  });

  it('refund: the points go back onto their lots, once, however often the job runs', async () => {
    const p = await program();
    await updateProgramSettings(laurel, p.tenantId, p.programId, { expiredRewards: 'refund' });
    const m = await member(p, 300);
    const r = await reward(p, { code: 'soon', value: { type: 'free_shipping' }, expiresAfterDays: 10 });
    await redeem(p, r.rewardId, m);
    laurel.clock.set('2026-03-12T10:00:00Z');
    expect((await runJobNow(laurel, 'reward_expiry')).stats).toMatchObject({ refunded: 1 });
    expect((await runJobNow(laurel, 'reward_expiry')).stats).toMatchObject({ refunded: 0 });
    expect(await available(p, m)).toBe(300n);
    await expectVerified(laurel, p.tenantId);
    laurel.clock.set('2026-03-02T10:00:00Z');
  });
});

describe('at checkout', () => {
  it('a reserved reward holds the points; the order consumes it (capturing them); unused, its hold runs out and it is cancelled', async () => {
    const p = await program();
    const m = await member(p, 500);
    const r = await reward(p, { code: 'ten-off', value: { type: 'fixed_discount', amount: 1000 }, cost: 200, stock: 1 });
    const reserved = await redeem(p, r.rewardId, m, { holdSeconds: 900 });
    expect(reserved.instance).toMatchObject({ status: 'reserved', expiresAt: new Date('2026-03-02T10:15:00Z') });
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 300n, held: 200n });
    const used = await consumeInstance(laurel, p.tenantId, { code: reserved.instance.code, orderRef: 'web-1' }, { idempotencyKey: key(), actor: 'shop' });
    expect(used.instance.status).toBe('consumed');
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 300n, held: 0n });

    const s = await reward(p, { code: 'abandoned', value: { type: 'free_shipping' }, cost: 100, stock: 1 });
    const abandoned = await redeem(p, s.rewardId, m, { holdSeconds: 600 });
    laurel.clock.set('2026-03-02T10:11:00Z');
    await runJobNow(laurel, 'settle');
    expect((await runJobNow(laurel, 'reward_expiry')).stats).toMatchObject({ settled: 1 });
    expect(await validateInstance(laurel, p.tenantId, abandoned.instance.code)).toMatchObject({ instance: { status: 'cancelled' } });
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 300n, held: 0n });
    expect((await getReward(laurel, p.tenantId, s.rewardId)).issued).toBe(0n);
    await expectVerified(laurel, p.tenantId);
    laurel.clock.set('2026-03-02T10:00:00Z');
  });
});

describe('the member view', () => {
  it('lists what the member can redeem first, then what points alone keep from them, then the rest, each with why', async () => {
    const p = await program();
    const m = await member(p, 250);
    await reward(p, { code: 'cheap', value: { type: 'free_shipping' }, cost: 50 });
    await reward(p, { code: 'mid', value: { type: 'free_shipping' }, cost: 200 });
    await reward(p, { code: 'far', value: { type: 'free_shipping' }, cost: 1000 });
    await reward(p, { code: 'close', value: { type: 'free_shipping' }, cost: 300 });
    await reward(p, { code: 'gone', value: { type: 'free_shipping' }, cost: 10, stock: 0 });
    await reward(p, { code: 'vip', value: { type: 'free_shipping' }, cost: 20, tiers: ['vip'] });
    const view = await rewardsForMember(laurel, p.tenantId, m);
    expect(view.map((v) => [v.reward.code, v.locks.map((l) => `${l.reason}: ${l.detail}`)])).toEqual([
      ['cheap', []], ['mid', []],
      ['close', ['points: 50 points missing']], ['far', ['points: 750 points missing']],
      ['gone', ['stock: out of stock']], ['vip', ['tier: for vip members']],
    ]);
  });
});

describe('codes', () => {
  /** Draws `n` codes; all different, and each of the 32 characters drawn evenly (chi-square, 31 degrees of freedom). */
  function drawCodes(n: number, random?: (bytes: number) => Uint8Array): { distinct: number; chi: number } {
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const c = newCode(random);
      seen.add(c);
      for (const ch of c) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    const expected = (n * 16) / 32;
    return { distinct: seen.size, chi: [...ALPHABET].reduce((sum, ch) => sum + ((counts.get(ch) ?? 0) - expected) ** 2 / expected, 0) };
  }

  it('are 16 characters of an 80-bit draw: from a seeded source, 200,000 are all different and every character is drawn evenly', () => {
    // mulberry32 from a fixed seed: the same draws every run, so the test is exact, never a one-in-a-million flake
    let state = 0x9e3779b9;
    const seeded = (bytes: number) => Uint8Array.from({ length: bytes }, () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) & 0xff;
    });
    const { distinct, chi } = drawCodes(200_000, seeded);
    expect(distinct).toBe(200_000);
    expect(chi).toBeLessThan(80);
  });

  it('from the real random source, 20,000 are all different and evenly drawn', () => {
    // p(chi-square > 80 | 31 degrees of freedom) is about 3 in a million
    const { distinct, chi } = drawCodes(20_000);
    expect(distinct).toBe(20_000);
    expect(chi).toBeLessThan(80);
  });

  it('a code already taken is drawn again', async () => {
    const p = await program();
    const m = await member(p, 100);
    const r = await reward(p, { code: 'x', value: { type: 'free_shipping' } });
    const { instance } = await redeem(p, r.rewardId, m);
    // the bytes that drew it: 16 characters of 5 bits are the 80 bits of 10 bytes
    const bits = [...instance.code].reduce((acc, c) => (acc << 5n) | BigInt(ALPHABET.indexOf(c)), 0n);
    const taken = Buffer.from(bits.toString(16).padStart(20, '0'), 'hex');
    const draws = [taken, Buffer.alloc(10, 0xff)];
    const code = await laurel.db.transaction().execute((trx) => freshCode(trx, p.tenantId, () => draws.shift()!));
    expect(code).toBe('ZZZZZZZZZZZZZZZZ');
    expect(draws).toHaveLength(0);
  });
});

describe('properties', () => {
  it('any sequence of redemptions, uses and cancellations: the balance is what the live instances cost, the stock counts them, the ledger adds up', async () => {
    const p = await program();
    // With a stock limit the count is on the reward's row; without, on its shards: the same figure either way.
    await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom('redeem', 'consume', 'cancel'), { minLength: 1, maxLength: 12 }), fc.constantFrom(6, null), async (steps, stock) => {
      const r = await reward(p, { code: `prop-${++serial}`, value: { type: 'free_product', sku: 'X' }, cost: 70, stock });
      const m = await member(p, 500);
      const live: { id: string; code: string; used: boolean }[] = [];
      for (const step of steps) {
        if (step === 'redeem') {
          const expected = stock !== null && live.length >= stock ? 'conflict' : 500n - 70n * BigInt(live.length) < 70n ? 'insufficient_points' : null;
          const outcome = await redeem(p, r.rewardId, m).catch((e: unknown) => e);
          if (expected === null) {
            expect(outcome).not.toBeInstanceOf(Error);
            const { instance } = outcome as Awaited<ReturnType<typeof redeem>>;
            live.push({ id: instance.instanceId, code: instance.code, used: false });
          } else {
            expect(outcome).toBeInstanceOf(DomainError);
            expect((outcome as DomainError).code).toBe(expected);
          }
          continue;
        }
        const target = live.find((x) => !x.used);
        if (!target) continue;
        if (step === 'consume') {
          await consumeInstance(laurel, p.tenantId, { code: target.code }, { idempotencyKey: key(), actor: 'p' });
          target.used = true;
        } else {
          await cancelInstance(laurel, p.tenantId, target.id, { idempotencyKey: key(), actor: 'p' });
          live.splice(live.indexOf(target), 1);
        }
      }
      expect(await available(p, m)).toBe(500n - 70n * BigInt(live.length));
      expect((await getReward(laurel, p.tenantId, r.rewardId)).issued).toBe(BigInt(live.length));
    }), { numRuns: 20 });
    await expectVerified(laurel, p.tenantId);
  });
});

describe('paying with points', () => {
  it('any basket, any share paid with points, any sequence of returns (of lines or of amounts): each return gives back its share, never more, and all of it by the last; the ledger adds up', async () => {
    const p = await program({ pointValue: { points: 3n, minor: 2n } });
    await fc.assert(fc.asyncProperty(
      basketArbitrary.filter((ls) => ls.some((l) => l.quantity * l.unitPrice - l.discount > 0n)).chain((lines) => fc.record({
        lines: fc.constant(lines), pointsPct: fc.integer({ min: 1, max: 100 }), plan: returnPlan(lines),
      })),
      async ({ lines, pointsPct, plan }) => {
        const goods = lines.reduce((sum, l) => sum + l.quantity * l.unitPrice - l.discount, 0n);
        // the most points worth at most pointsPct% of the order, at 3 points for 2 cents
        const points = (goods * BigInt(pointsPct) * 3n) / 200n;
        fc.pre(points > 0n);
        const m = await member(p, Number(points) + 5);
        const hold = (await createHold(laurel, { tenantId: p.tenantId, memberId: m, amount: points, ttlSeconds: 600, idempotencyKey: key() })).hold!;
        const order = `pay-${++serial}`;
        const bought = await ingestEvent(laurel, p.tenantId, {
          programId: p.programId, memberId: m, type: 'purchase', externalId: order, pointsHoldId: hold.holdId,
          lines: lines.map((l) => ({ sku: l.sku, category: l.category, quantity: l.quantity, unitPrice: l.unitPrice, discount: l.discount })),
        });
        expect(bought.event).toMatchObject({ pointsPaid: points, paidWithPoints: (points * 2n) / 3n });
        expect(await available(p, m)).toBe(5n);
        let back = 0n;
        let refunded = 0n;
        const total = bought.event.total!;
        for (const [i, step] of plan.entries()) {
          // a refund by amount: a share of the money still unrefunded
          const refundAmount = 'refundPct' in step ? ((total - refunded) * BigInt(step.refundPct)) / 100n : null;
          if (refundAmount === 0n) continue;
          const r = await ingestEvent(laurel, p.tenantId, {
            programId: p.programId, type: 'return', externalId: `${order}-r${i}`, purchaseExternalId: order,
            ...('lines' in step ? { lines: step.lines } : { refundAmount: refundAmount! }),
          });
          refunded += r.event.refundAmount ?? 0n;
          const given = -(r.event.pointsPaid ?? 0n);
          expect(given).toBeGreaterThanOrEqual(0n);
          back += given;
          expect(back).toBeLessThanOrEqual(points);
          expect(await available(p, m)).toBe(5n + back);
        }
        expect(back).toBe(points);
      },
    ), { numRuns: onPostgres ? 40 : 20 });
    await expectVerified(laurel, p.tenantId);
  });
});

/** The refusals of a race's losers: each a domain error with this code (never a raw database error). */
function losers(outcomes: PromiseSettledResult<unknown>[], code: DomainError['code']): DomainError[] {
  const reasons = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
  for (const reason of reasons) {
    expect(reason, String(reason)).toBeInstanceOf(DomainError);
    expect((reason as DomainError).code).toBe(code);
  }
  return reasons as DomainError[];
}

describe('earning on the part paid with points (SPEC §4 setting earnOnPaidWithPoints)', () => {
  // 1 point per euro; a €50 order (A €30, B €20), €20 of it paid with 2,000 points (a point is a cent).
  const lines = [{ sku: 'A', quantity: 1, unitPrice: 3000 }, { sku: 'B', quantity: 1, unitPrice: 2000 }];
  async function payWithPoints(p: Program, order: string) {
    await createRule(laurel, p.tenantId, p.programId, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
    const m = await member(p, 2000);
    const hold = (await createHold(laurel, { tenantId: p.tenantId, memberId: m, amount: 2000, ttlSeconds: 600, idempotencyKey: key() })).hold!;
    const bought = await ingestEvent(laurel, p.tenantId, { programId: p.programId, memberId: m, type: 'purchase', externalId: order, pointsHoldId: hold.holdId, lines });
    return { m, bought };
  }
  const giveBackB = (p: Program, order: string) =>
    ingestEvent(laurel, p.tenantId, { programId: p.programId, type: 'return', externalId: `${order}-r`, purchaseExternalId: order, lines: [{ sku: 'B', quantity: 1 }] });

  it('by default the part paid with points earns nothing: €30 of money earn 30, and returning B (€12 refunded) takes back 12', async () => {
    const p = await program({ pointValue: { points: 1n, minor: 1n } });
    expect(p.earnOnPaidWithPoints).toBe(false);
    const { m, bought } = await payWithPoints(p, 'pwp-off');
    expect(bought.event).toMatchObject({ total: 3000n, paidWithPoints: 2000n, pointsPaid: 2000n, points: 30n });
    // B is 2/5 of the goods: 1,200 of the 3,000 paid back in money, 800 of the 2,000 points; 1,800 of money left earn 18
    const back = await giveBackB(p, 'pwp-off');
    expect(back.event).toMatchObject({ refundAmount: 1200n, pointsPaid: -800n, points: -12n });
    expect(await available(p, m)).toBe(30n - 12n + 800n);
    await expectVerified(laurel, p.tenantId);
  });

  it('with the setting the whole €50 earns 50, and returning B takes back 20: the money and the points left (1,800 + 1,200) earn 30', async () => {
    const p = await program({ pointValue: { points: 1n, minor: 1n }, earnOnPaidWithPoints: true });
    expect((await getProgram(laurel, p.tenantId, p.programId)).earnOnPaidWithPoints).toBe(true);
    const { m, bought } = await payWithPoints(p, 'pwp-on');
    expect(bought.event).toMatchObject({ total: 3000n, paidWithPoints: 2000n, points: 50n });
    expect(bought.event.explanation[0]).toMatchObject({ points: 50n, detail: { amount: 5000n } });
    // Switched off later: the purchase's return still follows the setting it was recorded under.
    await updateProgramSettings(laurel, p.tenantId, p.programId, { earnOnPaidWithPoints: false });
    const back = await giveBackB(p, 'pwp-on');
    expect(back.event).toMatchObject({ refundAmount: 1200n, pointsPaid: -800n, points: -20n });
    expect(await available(p, m)).toBe(50n - 20n + 800n);
    // The rest comes back: everything it earned is taken back, every point it paid given back.
    const rest = await ingestEvent(laurel, p.tenantId, { programId: p.programId, type: 'return', externalId: 'pwp-on-r2', purchaseExternalId: 'pwp-on', lines: [{ sku: 'A', quantity: 1 }] });
    expect(rest.event).toMatchObject({ refundAmount: 1800n, pointsPaid: -1200n, points: -30n });
    expect(await available(p, m)).toBe(2000n);
    await expectVerified(laurel, p.tenantId);
  });

  it('a quote follows the setting, and the setting refuses anything but true or false', async () => {
    const p = await program({ pointValue: { points: 1n, minor: 1n }, earnOnPaidWithPoints: true });
    await createRule(laurel, p.tenantId, p.programId, { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } }, { actor: 'test' });
    expect((await quote(laurel, p.tenantId, { programId: p.programId, lines, paidWithPoints: 2000 })).points).toBe(50n);
    await updateProgramSettings(laurel, p.tenantId, p.programId, { earnOnPaidWithPoints: false });
    expect((await quote(laurel, p.tenantId, { programId: p.programId, lines, paidWithPoints: 2000 })).points).toBe(30n);
    expect(await refusal(updateProgramSettings(laurel, p.tenantId, p.programId, { earnOnPaidWithPoints: 'yes' as unknown as boolean }))).toMatchObject({ code: 'validation', field: 'earnOnPaidWithPoints' });
  });
});

describe.skipIf(!onPostgres)('under concurrency (PostgreSQL)', () => {
  it('40 members redeeming a reward without a stock limit at once all get it, and it counts 40; a limit set afterwards counts them', async () => {
    const p = await program();
    const r = await reward(p, { code: 'plenty', value: { type: 'free_shipping' } });
    const members = await Promise.all(Array.from({ length: 40 }, () => member(p, 100)));
    const outcomes = await Promise.allSettled(members.map((m) => redeem(p, r.rewardId, m)));
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    expect((await getReward(laurel, p.tenantId, r.rewardId)).issued).toBe(40n);
    const limited = await updateReward(laurel, p.tenantId, r.rewardId, { name: 'A reward', code: 'plenty', cost: 100, value: { type: 'free_shipping' }, stock: 41 });
    expect(limited.issued).toBe(40n);
    const more = await Promise.all(Array.from({ length: 5 }, () => member(p, 100)));
    const second = await Promise.allSettled(more.map((m) => redeem(p, r.rewardId, m)));
    expect(second.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(losers(second, 'conflict')).toHaveLength(4);
    expect((await getReward(laurel, p.tenantId, r.rewardId)).issued).toBe(41n);
    await expectVerified(laurel, p.tenantId);
  });

  it('100 members redeeming a reward with stock 10 at once get exactly 10', async () => {
    const p = await program();
    const r = await reward(p, { code: 'rare', value: { type: 'free_shipping' }, stock: 10 });
    const members = await Promise.all(Array.from({ length: 100 }, () => member(p, 100)));
    const outcomes = await Promise.allSettled(members.map((m) => redeem(p, r.rewardId, m)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(10);
    const refused = losers(outcomes, 'conflict');
    expect(refused).toHaveLength(90);
    for (const e of refused) expect(e.message).toContain('out of stock');
    expect((await getReward(laurel, p.tenantId, r.rewardId)).issued).toBe(10n);
    const spent = await Promise.all(members.map((m) => available(p, m)));
    expect(spent.filter((b) => b === 0n)).toHaveLength(10);
    await expectVerified(laurel, p.tenantId);
  });

  it('a member with points for one, racing two redemptions, gets exactly one', async () => {
    const p = await program();
    const r = await reward(p, { code: 'one', value: { type: 'free_shipping' }, cost: 100 });
    for (let i = 0; i < 10; i++) {
      const m = await member(p, 150);
      const outcomes = await Promise.allSettled([redeem(p, r.rewardId, m), redeem(p, r.rewardId, m)]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(losers(outcomes, 'insufficient_points')).toHaveLength(1);
      expect(await available(p, m)).toBe(50n);
    }
    await expectVerified(laurel, p.tenantId);
  });

  it('a code consumed twice at once succeeds once', async () => {
    const p = await program();
    const r = await reward(p, { code: 'twice', value: { type: 'free_shipping' } });
    for (let i = 0; i < 10; i++) {
      const m = await member(p, 100);
      const { instance } = await redeem(p, r.rewardId, m, i % 2 === 0 ? {} : { holdSeconds: 600 });
      const outcomes = await Promise.allSettled([1, 2].map((n) => consumeInstance(laurel, p.tenantId, { code: instance.code, orderRef: `o-${n}` }, { idempotencyKey: key(), actor: 'pos' })));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(losers(outcomes, 'conflict')).toHaveLength(1);
      expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 0n, held: 0n });
    }
    await expectVerified(laurel, p.tenantId);
  });
});
