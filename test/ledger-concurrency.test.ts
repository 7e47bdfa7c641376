// Races on PostgreSQL: many requests on separate connections against the same wallets, and two
// settlement workers at once. Each scenario has numbers a person can check by hand; every one
// ends with `laurel verify` on its tenant. PGlite has one connection and serialises
// transactions, so there these tests are skipped (and reported as skipped).
// The file runs in a database of its own (openTestLaurel), so the settlement races below see
// only this file's wallets.
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/errors.js';
import { settleDue, type SettlementReport } from '../src/db/settlement.js';
import {
  captureHold, createHold, earn, getBalance, redeem, reverseEntry, transfer, voidHold, type LedgerResult,
} from '../src/services/ledger.js';
import { expectVerified, key, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

/** Connections of this file: with the other concurrency file beside it, 30 each stays under the server's 100. */
const CONNECTIONS = 30;
let laurel: Awaited<ReturnType<typeof openTestLaurel>>;

/** Runs every call at once and sorts the outcomes. */
async function race<T>(calls: (() => Promise<T>)[]): Promise<{ ok: T[]; failed: unknown[] }> {
  const outcomes = await Promise.allSettled(calls.map((call) => call()));
  return {
    ok: outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : [])),
    failed: outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : [])),
  };
}

/** A failure as the API would classify it: a domain code, or the raw error that escaped (a 500). */
const codeOf = (e: unknown): string => (e instanceof DomainError
  ? e.code
  : `raw error ${(e as { code?: string }).code ?? ''}: ${(e as Error).message}`);

const times = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));

async function countEntries(tenantId: string, where: { kind: string; memberId?: string; idempotencyKey?: string; reverses?: string; since?: Date }): Promise<{ n: number; points: bigint }> {
  let q = laurel.db.selectFrom('journal_entries')
    .select([sql<number>`count(*)::int`.as('n'), sql<bigint>`coalesce(sum(amount), 0)::bigint`.as('points')])
    .where('tenant_id', '=', tenantId).where('kind', '=', where.kind);
  if (where.memberId) q = q.where('member_id', '=', where.memberId);
  if (where.idempotencyKey) q = q.where('idempotency_key', '=', where.idempotencyKey);
  if (where.reverses) q = q.where('reverses_entry_id', '=', where.reverses);
  if (where.since) q = q.where('created_at', '>=', where.since);
  const row = await q.executeTakeFirstOrThrow();
  return { n: row.n, points: BigInt(row.points) };
}

describe.skipIf(!onPostgres)('ledger concurrency on PostgreSQL (separate connections)', () => {
  beforeAll(async () => {
    laurel = await openTestLaurel('2026-01-15T10:00:00Z', {}, CONNECTIONS);
    // Open the connections up front, so the races below start together instead of queueing on connects.
    await Promise.all(times(CONNECTIONS, () => sql`select pg_sleep(0.05)`.execute(laurel.db)));
  });
  afterAll(async () => {
    await laurel?.close();
  });
  beforeEach(() => { laurel.clock.set('2026-01-15T10:00:00Z'); });

  it('50 concurrent redemptions of 30 against 1,000 points: 33 succeed, 17 are refused, nothing overdraws', async () => {
    const p = await newProgram(laurel);
    const t = p.tenantId;
    const m = await newMember(laurel, p);
    await earn(laurel, { tenantId: t, memberId: m, amount: 1000, idempotencyKey: key() });

    const { ok, failed } = await race(times(50, () => () =>
      redeem(laurel, { tenantId: t, memberId: m, amount: 30, idempotencyKey: key() })));

    // 33 × 30 = 990 ≤ 1,000 < 34 × 30 = 1,020
    expect(ok).toHaveLength(33);
    expect(failed.map(codeOf)).toEqual(times(17, () => 'insufficient_points'));
    // each success saw the balance the one before it left: 970, 940, … 10, each once
    expect(ok.map((r) => r.balances[0]!.available).sort((a, b) => Number(b - a)))
      .toEqual(times(33, (i) => 1000n - 30n * BigInt(i + 1)));
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 10n, held: 0n, lifetimeEarned: 1000n, lifetimeRedeemed: 990n });
    expect(await countEntries(t, { kind: 'redeem', memberId: m })).toEqual({ n: 33, points: 990n });
    await expectVerified(laurel, t);
  });

  describe('one idempotency key sent many times at once', () => {
    it('20 concurrent identical earns apply once and all answer the same', async () => {
      const p = await newProgram(laurel);
      const t = p.tenantId;
      const m = await newMember(laurel, p);
      await earn(laurel, { tenantId: t, memberId: m, amount: 500, idempotencyKey: key() });
      const k = key();

      const { ok, failed } = await race(times(20, () => () =>
        earn(laurel, { tenantId: t, memberId: m, amount: 75, ref: 'order-1', idempotencyKey: k })));

      expect(failed.map(codeOf)).toEqual([]);
      expect(ok).toHaveLength(20);
      for (const r of ok) expect(r).toEqual(ok[0]);
      expect(ok[0]!.balances[0]).toMatchObject({ available: 575n, lifetimeEarned: 575n });
      expect(await getBalance(laurel, t, m)).toMatchObject({ available: 575n, lifetimeEarned: 575n });
      expect(await countEntries(t, { kind: 'earn', idempotencyKey: k })).toEqual({ n: 1, points: 75n });
      // and the stored answer replays the same again later
      expect(await earn(laurel, { tenantId: t, memberId: m, amount: 75, ref: 'order-1', idempotencyKey: k })).toEqual(ok[0]);
      await expectVerified(laurel, t);
    });

    it('20 concurrent earns of 1 to 20 points with one key: exactly one applies, 19 get idempotency_conflict', async () => {
      const p = await newProgram(laurel);
      const t = p.tenantId;
      const m = await newMember(laurel, p);
      const k = key();

      const { ok, failed } = await race(times(20, (i) => () =>
        earn(laurel, { tenantId: t, memberId: m, amount: i + 1, idempotencyKey: k })));

      expect(ok).toHaveLength(1);
      expect(failed.map(codeOf)).toEqual(times(19, () => 'idempotency_conflict'));
      const winner = ok[0]!.entries[0]!.amount;
      expect(await getBalance(laurel, t, m)).toMatchObject({ available: winner, lifetimeEarned: winner });
      expect(await countEntries(t, { kind: 'earn', idempotencyKey: k })).toEqual({ n: 1, points: winner });
      await expectVerified(laurel, t);
    });

    it('one key raced by an earn and a redeem of the same amount: one applies, the other conflicts', async () => {
      const p = await newProgram(laurel);
      const t = p.tenantId;
      const m = await newMember(laurel, p);
      await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() });
      const k = key();

      const { ok, failed } = await race([
        ...times(10, () => () => earn(laurel, { tenantId: t, memberId: m, amount: 40, idempotencyKey: k })),
        ...times(10, () => () => redeem(laurel, { tenantId: t, memberId: m, amount: 40, idempotencyKey: k })),
      ]);

      // whichever committed first: its 9 twins replay it, the 10 others conflict
      expect(ok).toHaveLength(10);
      for (const r of ok) expect(r).toEqual(ok[0]);
      expect(failed.map(codeOf)).toEqual(times(10, () => 'idempotency_conflict'));
      const kind = ok[0]!.entries[0]!.kind;
      expect(await getBalance(laurel, t, m)).toMatchObject({ available: kind === 'earn' ? 140n : 60n });
      expect((await countEntries(t, { kind: 'earn', idempotencyKey: k })).n + (await countEntries(t, { kind: 'redeem', idempotencyKey: k })).n).toBe(1);
      await expectVerified(laurel, t);
    });
  });

  it('40 concurrent holds of 50 against 1,000 reserve exactly 20; a hold captured twice at once is captured once', async () => {
    const p = await newProgram(laurel);
    const t = p.tenantId;
    const m = await newMember(laurel, p);
    await earn(laurel, { tenantId: t, memberId: m, amount: 1000, idempotencyKey: key() });

    const holds = await race(times(40, () => () =>
      createHold(laurel, { tenantId: t, memberId: m, amount: 50, ttlSeconds: 86_400, idempotencyKey: key() })));
    expect(holds.ok).toHaveLength(20);
    expect(holds.failed.map(codeOf)).toEqual(times(20, () => 'insufficient_points'));
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 0n, held: 1000n });
    const ids = holds.ok.map((h) => h.hold!.holdId);
    expect(new Set(ids).size).toBe(20);

    // the same hold captured by two requests with different keys
    const twice = await race(times(2, () => () => captureHold(laurel, { tenantId: t, holdId: ids[0]!, idempotencyKey: key() })));
    expect(twice.ok).toHaveLength(1);
    expect(twice.failed.map(codeOf)).toEqual(['conflict']);
    expect(twice.ok[0]!.balances[0]).toMatchObject({ available: 0n, held: 950n, lifetimeRedeemed: 50n });

    // another hold: a capture of 20 and a void at once, 5 each: one of them resolves it
    const mixed = await race([
      ...times(5, () => () => captureHold(laurel, { tenantId: t, holdId: ids[1]!, amount: 20, idempotencyKey: key() })),
      ...times(5, () => () => voidHold(laurel, { tenantId: t, holdId: ids[1]!, idempotencyKey: key() })),
    ]);
    expect(mixed.ok).toHaveLength(1);
    expect(mixed.failed.map(codeOf)).toEqual(times(9, () => 'conflict'));
    const captured = mixed.ok[0]!.entries[0]!.kind === 'redeem';
    // captured: 20 redeemed and 30 released; voided: 50 released
    expect(await getBalance(laurel, t, m)).toMatchObject({
      available: captured ? 30n : 50n, held: 900n, lifetimeRedeemed: captured ? 70n : 50n,
    });

    // the 18 others voided at once, each by 2 requests: each released exactly once
    const voids = await race(ids.slice(2).flatMap((holdId) =>
      times(2, () => () => voidHold(laurel, { tenantId: t, holdId, idempotencyKey: key() }))));
    expect(voids.ok).toHaveLength(18);
    expect(voids.failed.map(codeOf)).toEqual(times(18, () => 'conflict'));
    expect(await getBalance(laurel, t, m)).toMatchObject({
      available: captured ? 930n : 950n, held: 0n, lifetimeRedeemed: captured ? 70n : 50n,
    });
    expect(await countEntries(t, { kind: 'release', memberId: m })).toEqual(
      { n: 19, points: (captured ? 30n : 50n) + 18n * 50n });
    await expectVerified(laurel, t);
  });

  it('30 transfers A→B and 30 B→A interleaved: no deadlock surfaces and the total is conserved', async () => {
    const p = await newProgram(laurel);
    const t = p.tenantId;
    const a = await newMember(laurel, p);
    const b = await newMember(laurel, p);
    const c = await newMember(laurel, p);
    for (const m of [a, b, c]) await earn(laurel, { tenantId: t, memberId: m, amount: 1000, idempotencyKey: key() });

    // A sends 7, B sends 11, alternately; neither can run short (1,000 − 30 × 11 > 0)
    const { ok, failed } = await race(times(60, (i) => () => (i % 2 === 0
      ? transfer(laurel, { tenantId: t, fromMemberId: a, toMemberId: b, amount: 7, idempotencyKey: key() })
      : transfer(laurel, { tenantId: t, fromMemberId: b, toMemberId: a, amount: 11, idempotencyKey: key() }))));

    expect(failed.map(codeOf)).toEqual([]);
    expect(ok).toHaveLength(60);
    // A: 1,000 − 30 × 7 + 30 × 11 = 1,120; B: 1,000 + 210 − 330 = 880
    const [ba, bb] = [await getBalance(laurel, t, a), await getBalance(laurel, t, b)];
    expect([ba.available, bb.available]).toEqual([1120n, 880n]);
    expect(ba.available + bb.available).toBe(2000n);

    // a ring A→B→C→A, 15 times each, all at once: every wallet is both locked first and second
    const ring = await race(times(45, (i) => {
      const [from, to] = [[a, b], [b, c], [c, a]][i % 3]!;
      return () => transfer(laurel, { tenantId: t, fromMemberId: from!, toMemberId: to!, amount: 5, idempotencyKey: key() });
    }));
    expect(ring.failed.map(codeOf)).toEqual([]);
    expect(ring.ok).toHaveLength(45);
    const after = await Promise.all([a, b, c].map((m) => getBalance(laurel, t, m)));
    expect(after.map((x) => x.available)).toEqual([1120n, 880n, 1000n]);
    expect(await countEntries(t, { kind: 'transfer' })).toEqual({ n: 105, points: 30n * 7n + 30n * 11n + 45n * 5n });
    await expectVerified(laurel, t);
  });

  describe('concurrent reversals of one entry', () => {
    it('10 full reversals of an earn of 100 at once: one succeeds, 9 conflict', async () => {
      const p = await newProgram(laurel);
      const t = p.tenantId;
      const m = await newMember(laurel, p);
      await earn(laurel, { tenantId: t, memberId: m, amount: 250, idempotencyKey: key() });
      const e = (await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() })).entries[0]!;

      const { ok, failed } = await race(times(10, () => () =>
        reverseEntry(laurel, { tenantId: t, entryId: e.entryId, idempotencyKey: key() })));

      expect(ok).toHaveLength(1);
      expect(failed.map(codeOf)).toEqual(times(9, () => 'conflict'));
      expect(await getBalance(laurel, t, m)).toMatchObject({ available: 250n, lifetimeEarned: 250n });
      expect(await countEntries(t, { kind: 'reverse', reverses: e.entryId })).toEqual({ n: 1, points: 100n });
      await expectVerified(laurel, t);
    });

    it('10 partial reversals of 15 of an earn of 100 at once: 6 succeed (90), 4 are refused', async () => {
      const p = await newProgram(laurel);
      const t = p.tenantId;
      const m = await newMember(laurel, p);
      await earn(laurel, { tenantId: t, memberId: m, amount: 250, idempotencyKey: key() });
      const e = (await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() })).entries[0]!;

      const { ok, failed } = await race(times(10, () => () =>
        reverseEntry(laurel, { tenantId: t, entryId: e.entryId, amount: 15, idempotencyKey: key() })));

      // 6 × 15 = 90 ≤ 100 < 7 × 15: the 4 others ask for more than the 10 left
      expect(ok).toHaveLength(6);
      expect(failed.map(codeOf)).toEqual(times(4, () => 'validation'));
      expect(failed.map((x) => (x as DomainError).field)).toEqual(times(4, () => 'amount'));
      expect(await getBalance(laurel, t, m)).toMatchObject({ available: 260n, lifetimeEarned: 260n });
      expect(await countEntries(t, { kind: 'reverse', reverses: e.entryId })).toEqual({ n: 6, points: 90n });
      await expectVerified(laurel, t);
    });

    it('5 partial reversals of 30 and 5 full ones at once reverse exactly the 100, never more', async () => {
      const p = await newProgram(laurel);
      const t = p.tenantId;
      const m = await newMember(laurel, p);
      await earn(laurel, { tenantId: t, memberId: m, amount: 250, idempotencyKey: key() });
      const e = (await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() })).entries[0]!;

      const { ok, failed } = await race([
        ...times(5, () => () => reverseEntry(laurel, { tenantId: t, entryId: e.entryId, amount: 30, idempotencyKey: key() })),
        ...times(5, () => () => reverseEntry(laurel, { tenantId: t, entryId: e.entryId, idempotencyKey: key() })),
      ]);

      // whatever the order: one full reversal takes what the partial ones (at most 3) left
      const amounts = ok.map((r) => r.entries[0]!.amount);
      expect(amounts.reduce((x, y) => x + y, 0n)).toBe(100n);
      expect(amounts.filter((x) => x !== 30n)).toHaveLength(1);
      expect(ok.length).toBeLessThanOrEqual(4);
      expect(failed).toHaveLength(10 - ok.length);
      for (const code of failed.map(codeOf)) expect(['conflict', 'validation']).toContain(code);
      expect(await getBalance(laurel, t, m)).toMatchObject({ available: 250n, lifetimeEarned: 250n });
      expect(await countEntries(t, { kind: 'reverse', reverses: e.entryId })).toEqual({ n: ok.length, points: 100n });
      await expectVerified(laurel, t);
    });
  });

  describe('two settlement workers at once, with requests on the same wallets', () => {
    // Per member, in Europe/Paris, rolling expiry of 12 months, a return window of 14 days:
    //   2026-01-15 10:00Z  earn 100: lot A, pending until 01-29, expires 2027-01-15 10:00Z
    //   2026-12-20 10:00Z  earn 50:  lot B, pending until 2027-01-03 10:00Z (lot A matures first)
    //   2027-01-02 10:00Z  every 5th member: hold 30 for an hour, taken from lot A (B is still pending)
    //   2027-01-16 00:00Z  due: the hold (expired 01-02), lot B (matures 01-03), lot A (expires 01-15)
    // Settled: the 30 come back to lot A, B's 50 mature, A's 100 expire: available 50, expired 100.
    // The first 60 members also earn 10 (pending until 01-30) and redeem 20 (from B) meanwhile:
    // available 30, pending 10.
    // (Only some wallets have a hold, so some chunks have none: releasing holds locks them, and
    // that alone would keep two workers from settling one chunk at the same time.)
    const MEMBERS = 300;
    const BUSY = 60;
    const HOLDS = MEMBERS / 5;
    const BUSY_HOLDS = BUSY / 5;

    it.each([
      { chunk: 5000, label: 'one chunk each' },
      { chunk: 7, label: 'chunks of 7' },
    ])('$label: the combined effect is one settlement', async ({ chunk }) => {
      const p = await newProgram(laurel, { returnWindowDays: 14, expiry: { kind: 'rolling', months: 12 } });
      const t = p.tenantId;
      const members = await Promise.all(times(MEMBERS, () => newMember(laurel, p)));
      const all = <T>(f: (m: string, i: number) => Promise<T>) => Promise.all(members.map(f));

      laurel.clock.set('2026-01-15T10:00:00Z');
      await all((m) => earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() }));
      laurel.clock.set('2026-12-20T10:00:00Z');
      await all((m) => earn(laurel, { tenantId: t, memberId: m, amount: 50, idempotencyKey: key() }));
      laurel.clock.set('2027-01-02T10:00:00Z');
      const holders = members.filter((_, i) => i % 5 === 0);
      await Promise.all(holders.map((m) => createHold(laurel, { tenantId: t, memberId: m, amount: 30, ttlSeconds: 3600, idempotencyKey: key() })));
      expect(await getBalance(laurel, t, members[0]!)).toMatchObject({ available: 70n, pending: 50n, held: 30n, expired: 0n });
      expect(await getBalance(laurel, t, members[1]!)).toMatchObject({ available: 100n, pending: 50n, held: 0n, expired: 0n });

      const now = new Date('2027-01-16T00:00:00Z');
      laurel.clock.set(now);
      const requests: (() => Promise<LedgerResult | SettlementReport>)[] = [
        () => settleDue(laurel.db, now, chunk),
        ...members.slice(0, BUSY).flatMap((m) => [
          () => earn(laurel, { tenantId: t, memberId: m, amount: 10, idempotencyKey: key() }),
          () => redeem(laurel, { tenantId: t, memberId: m, amount: 20, idempotencyKey: key() }),
        ]),
        () => settleDue(laurel.db, now, chunk),
      ];
      // the two workers first and last, the requests interleaved between them
      const outcomes = await Promise.allSettled(requests.map((r) => r()));
      const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [codeOf(o.reason)] : []));
      expect(failed).toEqual([]);
      const worker = (o: PromiseSettledResult<unknown> | undefined) => (o as PromiseFulfilledResult<SettlementReport>).value;
      const [w1, w2] = [worker(outcomes[0]), worker(outcomes.at(-1))];

      // every member: one expiry of 100 and one maturation of B; every hold: one release of 30
      const expire = await countEntries(t, { kind: 'expire', since: now });
      expect(expire).toEqual({ n: MEMBERS, points: 100n * BigInt(MEMBERS) });
      expect(await countEntries(t, { kind: 'mature', since: now })).toEqual({ n: MEMBERS, points: 50n * BigInt(MEMBERS) });
      expect(await countEntries(t, { kind: 'release' })).toEqual({ n: HOLDS, points: 30n * BigInt(HOLDS) });
      const perMember = await laurel.db.selectFrom('journal_entries')
        .select(['member_id', 'kind', sql<number>`count(*)::int`.as('n')])
        .where('tenant_id', '=', t).where('kind', 'in', ['expire', 'release']).where('created_at', '>=', now)
        .groupBy(['member_id', 'kind']).having(sql`count(*)`, '<>', 1).execute();
      expect(perMember).toEqual([]);
      const holdStates = await laurel.db.selectFrom('holds').select(['status', sql<number>`count(*)::int`.as('n')])
        .where('tenant_id', '=', t).groupBy('status').execute();
      expect(holdStates).toEqual([{ status: 'expired', n: HOLDS }]);

      // the workers settled every wallet no request touched (the requests settle the others
      // themselves), and whole wallets: one maturation and one expiry of 100 each. (Their reports
      // count every wallet of the database, which is this file's alone.)
      const settled = w1.lotsExpired + w2.lotsExpired;
      expect(settled).toBeGreaterThanOrEqual(MEMBERS - BUSY);
      expect(settled).toBeLessThanOrEqual(MEMBERS);
      expect(w1.lotsMatured + w2.lotsMatured).toBe(settled);
      expect(w1.pointsExpired + w2.pointsExpired).toBe(100n * BigInt(settled));
      expect(w1.holdsReleased + w2.holdsReleased).toBeGreaterThanOrEqual(HOLDS - BUSY_HOLDS);
      expect(w1.holdsReleased + w2.holdsReleased).toBeLessThanOrEqual(HOLDS);

      const balances = await Promise.all(members.map((m) => getBalance(laurel, t, m)));
      balances.forEach((b, i) => expect(b).toMatchObject(i < BUSY
        ? { available: 30n, pending: 10n, held: 0n, expired: 100n, lifetimeEarned: 160n, lifetimeRedeemed: 20n }
        : { available: 50n, pending: 0n, held: 0n, expired: 100n, lifetimeEarned: 150n, lifetimeRedeemed: 0n }));

      // nothing was left over: another run at the same instant finds nothing of this tenant to do
      await settleDue(laurel.db, now, chunk);
      expect(await countEntries(t, { kind: 'expire', since: now })).toEqual(expire);
      expect(await countEntries(t, { kind: 'mature', since: now })).toEqual({ n: MEMBERS, points: 50n * BigInt(MEMBERS) });
      expect(await countEntries(t, { kind: 'release' })).toEqual({ n: HOLDS, points: 30n * BigInt(HOLDS) });
      await expectVerified(laurel, t);
    });
  });
});
