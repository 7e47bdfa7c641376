// Employee recognition against the database: the allowance job, lapsing at period end in the
// tenant's zone, gifts (refused over the allowance, waiting above the threshold), approvals and
// declines, their webhook messages, concurrent gifts from one giver (PostgreSQL), and a property over random sequences
// of gifts, decisions, period ends and allowance runs — each ending with `laurel verify`.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/errors.js';
import { listOutbox } from '../src/db/jobs.js';
import { settleDue } from '../src/db/settlement.js';
import { getBalance } from '../src/services/ledger.js';
import { approveGift, declineGift, give, issueAllAllowances, putRecognition } from '../src/services/recognition.js';
import { expectVerified, key, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2026-01-31T10:00:00Z', {}, 60); });
afterAll(async () => { await laurel.close(); });

const WALLETS = [{ code: 'points', kind: 'redeemable' as const }, { code: 'giving', kind: 'qualifying' as const }];

async function recognitionProgram(timeZone = 'Asia/Tokyo', settings: Record<string, unknown> = {}) {
  const program = await newProgram(laurel, { wallets: WALLETS, name: 'Kudos' }, timeZone);
  await putRecognition(laurel, program.tenantId, program.programId, {
    allowance: 500, period: 'month', maxGift: 300, approvalThreshold: 200, values: ['teamwork', 'ownership'], ...settings,
  });
  return program;
}

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof DomainError) return `${e.code}:${e.field}`;
    throw e;
  }
};

describe('the allowance', () => {
  it('is credited once per member and period, and lapses at midnight in the tenant\'s zone', async () => {
    laurel.clock.set('2026-01-31T10:00:00Z'); // 19:00 on 31 January in Tokyo
    const p = await recognitionProgram('Asia/Tokyo');
    const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
    const first = await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
    expect(first).toEqual({ members: 2, points: 1000n });
    // A second run in the same period credits nobody.
    expect(await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId })).toEqual({ members: 0, points: 0n });
    expect((await getBalance(laurel, p.tenantId, a, 'giving')).available).toBe(500n);
    await give(laurel, { tenantId: p.tenantId, idempotencyKey: key(), actor: 'test', giverId: a, receiverId: b, amount: 120, message: 'Thanks!', value: 'teamwork' });

    // 23:59:59 in Tokyo: still January.
    laurel.clock.set('2026-01-31T14:59:59Z');
    await settleDue(laurel.db, laurel.clock.now());
    expect((await getBalance(laurel, p.tenantId, a, 'giving')).available).toBe(380n);
    // Midnight in Tokyo (15:00 UTC): what is left lapses; what was received stays.
    laurel.clock.set('2026-01-31T15:00:00Z');
    await settleDue(laurel.db, laurel.clock.now());
    const lapsed = await getBalance(laurel, p.tenantId, a, 'giving');
    expect(lapsed).toMatchObject({ available: 0n, expired: 380n, lifetimeEarned: 500n, lifetimeRedeemed: 120n });
    expect((await getBalance(laurel, p.tenantId, b, 'giving'))).toMatchObject({ available: 0n, expired: 500n });
    expect((await getBalance(laurel, p.tenantId, b, 'points')).available).toBe(120n);
    // February's allowance.
    expect(await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId })).toEqual({ members: 2, points: 1000n });
    expect((await getBalance(laurel, p.tenantId, a, 'giving')).available).toBe(500n);
    await expectVerified(laurel, p.tenantId);
  });

  it('carries over when the program says so', async () => {
    laurel.clock.set('2026-03-31T12:00:00Z');
    const p = await recognitionProgram('Europe/Paris', { carryOver: true });
    const a = await newMember(laurel, p);
    await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
    laurel.clock.set('2026-04-01T12:00:00Z');
    await settleDue(laurel.db, laurel.clock.now());
    await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
    expect(await getBalance(laurel, p.tenantId, a, 'giving')).toMatchObject({ available: 1000n, expired: 0n });
    await expectVerified(laurel, p.tenantId);
  });

  it('skips suspended members', async () => {
    laurel.clock.set('2026-05-10T12:00:00Z');
    const p = await recognitionProgram('Europe/Paris');
    const a = await newMember(laurel, p);
    const b = await newMember(laurel, p);
    await laurel.db.updateTable('members').set({ status: 'suspended' }).where('tenant_id', '=', p.tenantId).where('member_id', '=', b).execute();
    expect(await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId })).toEqual({ members: 1, points: 500n });
    expect((await getBalance(laurel, p.tenantId, a, 'giving')).available).toBe(500n);
  });
});

describe('gifts', () => {
  it('are refused to oneself, above the per-gift maximum, with an unknown value, and beyond the allowance (422) — writing nothing', async () => {
    laurel.clock.set('2026-06-10T12:00:00Z');
    const p = await recognitionProgram('Europe/Paris');
    const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
    await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
    const gift = (over: Record<string, unknown>) => give(laurel, {
      tenantId: p.tenantId, idempotencyKey: key(), actor: 'test', giverId: a, receiverId: b, amount: 100, message: 'Great job', value: 'teamwork', ...over,
    } as Parameters<typeof give>[1]);
    expect(await codeOf(gift({ receiverId: a }))).toBe('validation:receiverId');
    expect(await codeOf(gift({ amount: 301 }))).toBe('validation:amount');
    expect(await codeOf(gift({ amount: 0 }))).toBe('validation:amount');
    expect(await codeOf(gift({ value: 'speed' }))).toBe('validation:value');
    expect(await codeOf(gift({ message: '' }))).toBe('validation:message');
    expect(await codeOf(gift({ amount: 150 }))).toBe('ok');
    expect(await codeOf(gift({ amount: 150 }))).toBe('ok');
    expect(await codeOf(gift({ amount: 150 }))).toBe('ok');
    // 50 left: a gift of 51 is more than the allowance holds.
    expect(await codeOf(gift({ amount: 51 }))).toBe('insufficient_points:amount');
    expect((await getBalance(laurel, p.tenantId, a, 'giving')).available).toBe(50n);
    expect((await getBalance(laurel, p.tenantId, b, 'points')).available).toBe(450n);
    const gifts = await laurel.db.selectFrom('recognition_gifts').select('gift_id').where('tenant_id', '=', p.tenantId).execute();
    expect(gifts).toHaveLength(3);
    await expectVerified(laurel, p.tenantId);
  });

  it('above the threshold wait: the allowance is spent at once, the receiver credited on approval, the allowance back on decline', async () => {
    laurel.clock.set('2026-07-10T12:00:00Z');
    const p = await recognitionProgram('Europe/Paris');
    const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
    await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
    const big = await give(laurel, { tenantId: p.tenantId, idempotencyKey: key(), actor: 'test', giverId: a, receiverId: b, amount: 250, message: 'Saved the launch', value: 'ownership' });
    expect(big.gift.status).toBe('pending');
    expect((await getBalance(laurel, p.tenantId, a, 'giving')).available).toBe(250n);
    expect((await getBalance(laurel, p.tenantId, b, 'points')).available).toBe(0n);
    const approved = await approveGift(laurel, { tenantId: p.tenantId, idempotencyKey: key(), actor: 'manager', giftId: big.gift.giftId });
    expect(approved.gift).toMatchObject({ status: 'approved', decidedBy: 'manager' });
    expect((await getBalance(laurel, p.tenantId, b, 'points')).available).toBe(250n);
    expect(await codeOf(approveGift(laurel, { tenantId: p.tenantId, idempotencyKey: key(), actor: 'manager', giftId: big.gift.giftId }))).toBe('conflict:giftId');

    const other = await give(laurel, { tenantId: p.tenantId, idempotencyKey: key(), actor: 'test', giverId: a, receiverId: b, amount: 201, message: 'Again', value: 'ownership' });
    expect((await getBalance(laurel, p.tenantId, a, 'giving')).available).toBe(49n);
    const declined = await declineGift(laurel, { tenantId: p.tenantId, idempotencyKey: key(), actor: 'manager', giftId: other.gift.giftId, note: 'too generous' });
    expect(declined.gift).toMatchObject({ status: 'declined', note: 'too generous' });
    expect((await getBalance(laurel, p.tenantId, a, 'giving')).available).toBe(250n);
    expect((await getBalance(laurel, p.tenantId, b, 'points')).available).toBe(250n);
    await expectVerified(laurel, p.tenantId);
  });

  it('replay under the same idempotency key', async () => {
    laurel.clock.set('2026-08-10T12:00:00Z');
    const p = await recognitionProgram('Europe/Paris');
    const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
    await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
    const k = key();
    const input = { tenantId: p.tenantId, idempotencyKey: k, actor: 'test', giverId: a, receiverId: b, amount: 10, message: 'Hi', value: 'teamwork' };
    const one = await give(laurel, input);
    const two = await give(laurel, input);
    expect(two.gift.giftId).toBe(one.gift.giftId);
    expect((await getBalance(laurel, p.tenantId, a, 'giving')).available).toBe(490n);
    expect(await codeOf(give(laurel, { ...input, amount: 11 }))).toBe('idempotency_conflict:idempotencyKey');
  });
});

describe('webhook messages', () => {
  it('tell each gift once per status, in the gift\'s own transaction: given at once, pending, approved, declined; a replay adds none', async () => {
    laurel.clock.set('2026-08-20T12:00:00Z');
    const p = await recognitionProgram('Europe/Paris');
    const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
    await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
    const small = { tenantId: p.tenantId, idempotencyKey: key(), actor: 'test', giverId: a, receiverId: b, amount: 50, message: 'Thanks', value: 'teamwork' };
    const given = await give(laurel, small);
    await give(laurel, small);
    const big = await give(laurel, { ...small, idempotencyKey: key(), amount: 240, message: 'Launch' });
    const approval = { tenantId: p.tenantId, idempotencyKey: key(), actor: 'manager', giftId: big.gift.giftId };
    await approveGift(laurel, approval);
    await approveGift(laurel, approval);
    const other = await give(laurel, { ...small, idempotencyKey: key(), amount: 201, message: 'Again' });
    await declineGift(laurel, { tenantId: p.tenantId, idempotencyKey: key(), actor: 'manager', giftId: other.gift.giftId, note: 'no' });
    // A refused gift tells nothing.
    expect(await codeOf(give(laurel, { ...small, idempotencyKey: key(), amount: 301 }))).toBe('validation:amount');
    const messages = (await listOutbox(laurel.db, p.tenantId)).filter((m) => m.type.startsWith('recognition.'));
    expect(messages.map((m) => [m.type, (m.payload as { giftId: string }).giftId])).toEqual([
      ['recognition.gift_approved', given.gift.giftId],
      ['recognition.gift_pending', big.gift.giftId],
      ['recognition.gift_approved', big.gift.giftId],
      ['recognition.gift_pending', other.gift.giftId],
      ['recognition.gift_declined', other.gift.giftId],
    ]);
    expect(messages[0]!.payload).toMatchObject({ programId: p.programId, giverId: a, receiverId: b, amount: 50, value: 'teamwork', message: 'Thanks', status: 'approved', decidedBy: 'auto' });
    expect(messages[2]!.payload).toMatchObject({ amount: 240, status: 'approved', decidedBy: 'manager' });
    expect(messages[4]!.payload).toMatchObject({ amount: 201, status: 'declined', note: 'no' });
  });
});

describe.skipIf(!onPostgres)('concurrent gifts on PostgreSQL', () => {
  it('50 gifts at once from one giver never give more than the allowance', async () => {
    laurel.clock.set('2026-09-10T12:00:00Z');
    const p = await recognitionProgram('Europe/Paris', { maxGift: 300, approvalThreshold: null });
    const giver = await newMember(laurel, p);
    const receivers = await Promise.all(Array.from({ length: 5 }, () => newMember(laurel, p)));
    await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => give(laurel, {
      tenantId: p.tenantId, idempotencyKey: key(), actor: 'test', giverId: giver, receiverId: receivers[i % 5]!, amount: 30, message: `#${i}`, value: 'teamwork',
    })));
    const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
    // 500 / 30: 16 gifts fit, 20 points stay.
    expect(ok).toBe(16);
    expect(refused.every((e) => e instanceof DomainError && e.code === 'insufficient_points')).toBe(true);
    expect((await getBalance(laurel, p.tenantId, giver, 'giving')).available).toBe(20n);
    let received = 0n;
    for (const r of receivers) received += (await getBalance(laurel, p.tenantId, r, 'points')).available;
    expect(received).toBe(480n);
    await expectVerified(laurel, p.tenantId);
  });
});

type Step =
  | { kind: 'gift'; from: number; to: number; amount: number }
  | { kind: 'decide'; nth: number; approve: boolean }
  | { kind: 'days'; days: number }
  | { kind: 'allowance' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('gift' as const), from: fc.nat(3), to: fc.nat(3), amount: fc.integer({ min: 1, max: 260 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('decide' as const), nth: fc.nat(20), approve: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('days' as const), days: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'allowance' as const }) },
);

describe('random sequences of gifts, decisions, period ends and allowance runs', () => {
  it('keep the ledger verified, and the giving wallet equal to allowance − given + declined − lapsed', async () => {
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 25 }), fc.boolean(), async (steps, carryOver) => {
      laurel.clock.set('2027-01-20T12:00:00Z');
      const p = await recognitionProgram('America/New_York', { carryOver });
      const members = await Promise.all(Array.from({ length: 4 }, () => newMember(laurel, p)));
      await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
      const pending: string[] = [];
      for (const s of steps) {
        if (s.kind === 'gift') {
          const r = await codeOf(give(laurel, {
            tenantId: p.tenantId, idempotencyKey: key(), actor: 'prop', giverId: members[s.from]!, receiverId: members[s.to]!, amount: s.amount, message: 'm', value: 'teamwork',
          }).then((g) => { if (g.gift.status === 'pending') pending.push(g.gift.giftId); }));
          expect(['ok', 'validation:receiverId', 'validation:amount', 'insufficient_points:amount']).toContain(r);
        } else if (s.kind === 'decide' && pending.length) {
          const [giftId] = pending.splice(s.nth % pending.length, 1);
          const run = s.approve ? approveGift : declineGift;
          await run(laurel, { tenantId: p.tenantId, idempotencyKey: key(), actor: 'manager', giftId: giftId! });
        } else if (s.kind === 'days') {
          laurel.clock.advance(s.days * 86_400_000);
          await settleDue(laurel.db, laurel.clock.now());
        } else if (s.kind === 'allowance') {
          await issueAllAllowances(laurel, laurel.clock.now(), { tenantId: p.tenantId, programId: p.programId });
        }
      }
      await settleDue(laurel.db, laurel.clock.now());
      await expectVerified(laurel, p.tenantId);
      for (const m of members) {
        const g = await getBalance(laurel, p.tenantId, m, 'giving');
        expect(g.available).toBe(g.lifetimeEarned - g.lifetimeRedeemed - g.expired);
        expect(g.available >= 0n).toBe(true);
        if (carryOver) expect(g.expired).toBe(0n);
      }
    }), { numRuns: onPostgres ? 15 : 8 });
  });
});
