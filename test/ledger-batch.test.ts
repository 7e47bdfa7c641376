// Group commit (services/ledger-batch.ts): operations sent together are decided and written in one
// transaction, and each still gets the answer the unbatched path gives it.
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { DomainError } from '../src/core/errors.js';
import { runJobNow } from '../src/jobs/runner.js';
import type { Laurel } from '../src/services/context.js';
import { adjust, createHold, earn, getBalance, redeem, type LedgerResult } from '../src/services/ledger.js';
import { batchSettingsFromEnv, batchStats } from '../src/services/ledger-batch.js';
import { expectVerified, key, newMember, newProgram, onPostgres, openTestLaurel, whileRefusing } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
/** The same database and clock, every operation in a transaction of its own. */
let unbatched: Laurel;

beforeAll(async () => {
  laurel = await openTestLaurel('2026-03-01T09:00:00Z', {}, 24);
  unbatched = { ...laurel, settings: { ...laurel.settings, batch: null } };
});
afterAll(async () => laurel?.close());

type Op =
  | { kind: 'earn'; m: number; amount: number }
  | { kind: 'redeem'; m: number; amount: number }
  | { kind: 'adjust'; m: number; amount: number }
  | { kind: 'hold'; m: number; amount: number; ttl: number }
  /** the `back`-th op before this one again, under its key: the same request, or another one */
  | { kind: 'again'; back: number; same: boolean };

const opArbitrary = (members: number): fc.Arbitrary<Op> => {
  const m = fc.nat({ max: members - 1 });
  const amount = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 300 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 1_000_000_000 }) });
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('earn' as const), m, amount }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('redeem' as const), m, amount }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('adjust' as const), m, amount: fc.integer({ min: -300, max: 300 }).filter((x) => x !== 0) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('hold' as const), m, amount, ttl: fc.integer({ min: 60, max: 7200 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('again' as const), back: fc.integer({ min: 1, max: 8 }), same: fc.boolean() }) },
  );
};

/** Waves of operations sent at once, with the clock moved on between waves (holds expire, so wallets fall due). */
const scenarioArbitrary = fc.integer({ min: 2, max: 6 }).chain((members) => fc.record({
  members: fc.constant(members),
  waves: fc.array(fc.record({
    ops: fc.array(opArbitrary(members), { minLength: 1, maxLength: 24 }),
    minutes: fc.integer({ min: 0, max: 150 }),
  }), { minLength: 1, maxLength: 6 }),
}));

interface Sent { key: string; member: number; call: (l: Laurel) => Promise<LedgerResult> }

/**
 * The operations as calls on a tenant's members, each under a key of its own (prefixed by its
 * wave), or an earlier one's: the same request again, or an earn on the same member under it.
 */
function callsOf(ops: Op[], wave: number, tenantId: string, members: string[]): Sent[] {
  const sent: Sent[] = [];
  ops.forEach((op, i) => {
    const key = `w${wave}-k${i}`;
    if (op.kind === 'again') {
      const earlier = sent[i - op.back];
      const member = earlier?.member ?? 0;
      const again = { tenantId, memberId: members[member]!, amount: 7, idempotencyKey: earlier?.key ?? key };
      sent.push(earlier && op.same ? earlier : { key: again.idempotencyKey, member, call: (l) => earn(l, again) });
      return;
    }
    const base = { tenantId, memberId: members[op.m]!, idempotencyKey: key };
    const call = op.kind === 'earn' ? (l: Laurel) => earn(l, { ...base, amount: op.amount })
      : op.kind === 'redeem' ? (l: Laurel) => redeem(l, { ...base, amount: op.amount })
        : op.kind === 'adjust' ? (l: Laurel) => adjust(l, { ...base, amount: op.amount, reason: 'test', actor: 'test' })
          : (l: Laurel) => createHold(l, { ...base, amount: op.amount, ttlSeconds: op.ttl });
    sent.push({ key, member: op.m, call });
  });
  return sent;
}

/** An answer without what differs between two tenants (ids, keys): what the member sees. */
function comparable(outcome: PromiseSettledResult<LedgerResult>, members: string[]): unknown {
  if (outcome.status === 'rejected') {
    const e = outcome.reason as unknown;
    return e instanceof DomainError ? { refused: e.code, field: e.field, message: e.message } : { raw: String(e) };
  }
  const r = outcome.value;
  return {
    entries: r.entries.map((e) => ({ kind: e.kind, amount: e.amount, member: members.indexOf(e.memberId), postings: e.postings.map((p) => [p.account, p.amount]) })),
    balances: r.balances.map((b) => ({ ...b, memberId: members.indexOf(b.memberId), walletId: undefined })),
    hold: r.hold ? { amount: r.hold.amount, status: r.hold.status, expiresAt: r.hold.expiresAt } : null,
  };
}

describe('group commit', () => {
  it('answers every operation as the unbatched path does, wave after wave, and the ledger verifies', async () => {
    const before = batchStats(laurel);
    await fc.assert(fc.asyncProperty(scenarioArbitrary, async ({ members: n, waves }) => {
      const start = laurel.clock.now();
      const sides = await Promise.all([laurel, unbatched].map(async () => {
        const program = await newProgram(laurel);
        const members: string[] = [];
        for (let i = 0; i < n; i++) members.push(await newMember(laurel, program));
        return { tenantId: program.tenantId, members };
      }));
      const [b, u] = sides as [typeof sides[0], typeof sides[0]];
      for (const [w, wave] of waves.entries()) {
        const ops = wave.ops;
        const batchedCalls = callsOf(ops, w, b.tenantId, b.members);
        const aloneCalls = callsOf(ops, w, u.tenantId, u.members);
        // Batched: every operation at once. Unbatched: each member's operations one after the other, members side by side.
        const batchedOutcomes = await Promise.allSettled(batchedCalls.map((s) => s.call(laurel)));
        const aloneOutcomes: PromiseSettledResult<LedgerResult>[] = new Array(aloneCalls.length);
        const byMember = new Map<number, number[]>();
        aloneCalls.forEach((s, i) => byMember.set(s.member, [...(byMember.get(s.member) ?? []), i]));
        await Promise.all([...byMember.values()].map(async (indexes) => {
          for (const i of indexes) {
            aloneOutcomes[i] = await aloneCalls[i]!.call(unbatched).then(
              (value) => ({ status: 'fulfilled', value }) as const, (reason: unknown) => ({ status: 'rejected', reason }) as const);
          }
        }));
        for (let i = 0; i < ops.length; i++) {
          expect(comparable(batchedOutcomes[i]!, b.members), `wave ${w} op ${i}: ${JSON.stringify(ops[i])}`)
            .toEqual(comparable(aloneOutcomes[i]!, u.members));
        }
        laurel.clock.advance(wave.minutes * 60_000);
      }
      for (const [i, member] of b.members.entries()) {
        expect({ ...(await getBalance(laurel, b.tenantId, member)), memberId: i, walletId: null })
          .toEqual({ ...(await getBalance(laurel, u.tenantId, u.members[i]!)), memberId: i, walletId: null });
      }
      await expectVerified(laurel, b.tenantId);
      await expectVerified(laurel, u.tenantId);
      laurel.clock.set(new Date(Math.max(start.getTime(), laurel.clock.now().getTime()) + 86_400_000));
    }), { numRuns: onPostgres ? 30 : 20 });
    const after = batchStats(laurel);
    // The property ran through batches, not around them: some took more than one operation.
    expect(after.batched - before.batched).toBeGreaterThan(0);
    expect(after.largest).toBeGreaterThan(1);
  });

  it("a member's operations apply in the order they were sent, even when sent at once", async () => {
    const program = await newProgram(laurel);
    const [a, c] = [await newMember(laurel, program), await newMember(laurel, program)];
    const t = program.tenantId;
    const outcomes = await Promise.allSettled([
      earn(laurel, { tenantId: t, memberId: a, amount: 10, idempotencyKey: 'o1' }),
      redeem(laurel, { tenantId: t, memberId: a, amount: 10, idempotencyKey: 'o2' }),
      earn(laurel, { tenantId: t, memberId: c, amount: 3, idempotencyKey: 'o3' }),
      earn(laurel, { tenantId: t, memberId: a, amount: 5, idempotencyKey: 'o4' }),
      redeem(laurel, { tenantId: t, memberId: a, amount: 6, idempotencyKey: 'o5' }),
      redeem(laurel, { tenantId: t, memberId: a, amount: 5, idempotencyKey: 'o6' }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(((outcomes[4] as PromiseRejectedResult).reason as DomainError).code).toBe('insufficient_points');
    expect((await getBalance(laurel, t, a)).available).toBe(0n);
    expect((await getBalance(laurel, t, c)).available).toBe(3n);
    await expectVerified(laurel, t);
  });

  it('decides each operation at the clock of the Laurel it came from, not of the first that used the database', async () => {
    // `npm start` seeds the demo with a clock of its own on the server's database: the holds and
    // earns the API makes afterwards must not be dated in the demo's past (nor expire at once).
    const program = await newProgram(laurel);
    const member = await newMember(laurel, program);
    const t = program.tenantId;
    const past = { ...laurel, clock: new ManualClock('2025-06-01T09:00:00Z') };
    const earned = await earn(past, { tenantId: t, memberId: member, amount: 50, idempotencyKey: 'clock-past' });
    expect(earned.entries[0]!.createdAt).toEqual(new Date('2025-06-01T09:00:00Z'));
    const held = await createHold(laurel, { tenantId: t, memberId: member, amount: 20, ttlSeconds: 600, idempotencyKey: 'clock-now-hold' });
    expect(held.entries[0]!.createdAt).toEqual(laurel.clock.now());
    expect(held.hold!.expiresAt).toEqual(new Date(laurel.clock.now().getTime() + 600_000));
    await expectVerified(laurel, t);
  });

  it('a database error fails only its own operation: the batch runs again one by one', async () => {
    const program = await newProgram(laurel);
    const members = [await newMember(laurel, program), await newMember(laurel, program), await newMember(laurel, program)];
    const t = program.tenantId;
    await whileRefusing(laurel, 'journal_entries', 'ref', 'boom', async () => {
      const before = batchStats(laurel);
      // A slow operation first, so that the rest queue behind it and go together.
      const outcomes = await Promise.allSettled([
        earn(laurel, { tenantId: t, memberId: members[0]!, amount: 1, idempotencyKey: 'e0' }),
        ...members.map((m, i) => earn(laurel, { tenantId: t, memberId: m, amount: 100 + i, idempotencyKey: `e${i + 1}` })),
        earn(laurel, { tenantId: t, memberId: members[1]!, amount: 50, ref: 'boom', idempotencyKey: 'bad' }),
        earn(laurel, { tenantId: t, memberId: members[2]!, amount: 7, idempotencyKey: 'e9' }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(String((outcomes[4] as PromiseRejectedResult).reason)).toMatch(/boom refused/);
      expect(batchStats(laurel).failed - before.failed).toBeGreaterThan(0);
    });
    expect((await Promise.all(members.map((m) => getBalance(laurel, t, m)))).map((b) => b.available)).toEqual([101n, 101n, 109n]);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from idempotency_keys where tenant_id = ${t} and key = 'bad'`.execute(laurel.db);
    expect(rows[0]!.n).toBe(0);
    await expectVerified(laurel, t);
  });

  it.skipIf(!onPostgres)('batches racing each other and the settle job on 12 wallets never overdraw, and the journal is exact', async () => {
    const program = await newProgram(laurel, { expiry: { kind: 'rolling', months: 1 } });
    const t = program.tenantId;
    const members: string[] = [];
    for (let i = 0; i < 12; i++) members.push(await newMember(laurel, program));
    await Promise.all(members.map((m, i) => earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: `seed-${i}` })));
    laurel.clock.advance(31 * 86_400_000 + 1);
    // Every seed lot is now past its date: the settle job and the operations' own settlement race for them.
    const ops = Array.from({ length: 240 }, (_, i) => {
      const memberId = members[i % members.length]!;
      return i % 3 === 2
        ? redeem(laurel, { tenantId: t, memberId, amount: 30, idempotencyKey: `r-${i}` })
        : earn(laurel, { tenantId: t, memberId, amount: 20, idempotencyKey: `e-${i}` });
    });
    const [outcomes] = await Promise.all([Promise.allSettled(ops), runJobNow(laurel, 'settle'), runJobNow(laurel, 'settle')]);
    for (const o of outcomes) {
      if (o.status === 'rejected') expect((o.reason as DomainError).code).toBe('insufficient_points');
    }
    const earned = outcomes.filter((o, i) => o.status === 'fulfilled' && i % 3 !== 2).length;
    const redeemed = outcomes.filter((o, i) => o.status === 'fulfilled' && i % 3 === 2).length;
    // A refused redeem rolls back the settlement it made, and the jobs skip wallets an operation holds:
    // one more run settles what the race left (members 2, 5, 8 and 11 only ever redeem).
    await runJobNow(laurel, 'settle');
    const balances = await Promise.all(members.map((m) => getBalance(laurel, t, m)));
    for (const b of balances) expect(b.available).toBeGreaterThanOrEqual(0n);
    expect({ available: balances.reduce((s, b) => s + b.available, 0n), expired: balances.reduce((s, b) => s + b.expired, 0n) })
      .toEqual({ available: BigInt(earned * 20 - redeemed * 30), expired: 1200n });
    await expectVerified(laurel, t);
  });

  it('decides with the clock of the Laurel that sent the operation, when two share a database (the demo seeds its history with one of its own)', async () => {
    const program = await newProgram(laurel);
    const member = await newMember(laurel, program);
    const past: Laurel = { ...laurel, clock: new ManualClock('2026-01-10T12:00:00Z') };
    const t = program.tenantId;
    await earn(past, { tenantId: t, memberId: member, amount: 500, idempotencyKey: key() });
    const before = await createHold(past, { tenantId: t, memberId: member, amount: 100, ttlSeconds: 900, idempotencyKey: key() });
    expect(before.hold!.expiresAt.toISOString()).toBe('2026-01-10T12:15:00.000Z');
    const now = await createHold(laurel, { tenantId: t, memberId: member, amount: 100, ttlSeconds: 900, idempotencyKey: key() });
    expect(now.hold!.expiresAt.getTime()).toBe(laurel.clock.now().getTime() + 900_000);
    await expectVerified(laurel, t);
  });

  it('reads its settings from the environment, and refuses what it cannot use', () => {
    expect(batchSettingsFromEnv({})).toEqual({ maxSize: 256, waitMs: 0, concurrency: 4 });
    expect(batchSettingsFromEnv({ LAUREL_BATCH: 'off' })).toBeNull();
    expect(batchSettingsFromEnv({ LAUREL_BATCH_MAX_SIZE: '64', LAUREL_BATCH_WAIT_MS: '2', LAUREL_BATCH_CONCURRENCY: '8' }))
      .toEqual({ maxSize: 64, waitMs: 2, concurrency: 8 });
    expect(() => batchSettingsFromEnv({ LAUREL_BATCH: 'maybe' })).toThrow(/LAUREL_BATCH must be on or off/);
    expect(() => batchSettingsFromEnv({ LAUREL_BATCH_MAX_SIZE: '0' })).toThrow(/LAUREL_BATCH_MAX_SIZE must be an integer from 1 to 10000/);
    expect(() => batchSettingsFromEnv({ LAUREL_BATCH_WAIT_MS: '2.5' })).toThrow(/LAUREL_BATCH_WAIT_MS/);
  });
});

