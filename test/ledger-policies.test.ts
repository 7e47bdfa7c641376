// Scenarios for each ledger policy, with numbers a person can check by hand.
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { lotExpiresAt } from '../src/core/program.js';
import { inactiveSince } from '../src/db/ledger.js';
import { settleDue } from '../src/db/settlement.js';
import { adjust, captureHold, createHold, earn, getBalance, redeem, reverseEntry, transfer, voidHold } from '../src/services/ledger.js';
import { setMemberStatus } from '../src/services/members.js';
import { expectVerified, key, lotsOf, newMember, newProgram, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel(); });
afterAll(async () => { await laurel.close(); });

const settle = () => settleDue(laurel.db, laurel.clock.now());

describe('expiry', () => {
  it('rolling: a lot expires N calendar months after it was earned, in the tenant zone', async () => {
    laurel.clock.set('2026-01-15T10:00:00Z');
    const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 12 } });
    const m = await newMember(laurel, p);
    await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 100, idempotencyKey: key() });
    expect((await lotsOf(laurel, p.tenantId, m))[0]!.expiresAt).toBe('2027-01-15T10:00:00.000Z');
    laurel.clock.set('2027-01-15T09:59:59Z');
    await settle();
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 100n, expired: 0n });
    laurel.clock.set('2027-01-15T10:00:00Z');
    await settle();
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 0n, expired: 100n });
    await expectVerified(laurel, p.tenantId);
  });

  it('fixed date: end of the year after earning, on the tenant calendar (23:30 on 31 December counts for that year)', async () => {
    // Auckland is UTC+13 in December: 2026-12-31 10:30Z is 23:30 local on 31 December 2026.
    const p = await newProgram(laurel, { expiry: { kind: 'fixed_date', month: 12, day: 31, yearsAfter: 1 } }, 'Pacific/Auckland');
    const m = await newMember(laurel, p);
    laurel.clock.set('2026-12-31T10:30:00Z');
    await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key() });
    laurel.clock.set('2026-12-31T11:30:00Z'); // 00:30 on 1 January 2027 in Auckland
    await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 20, idempotencyKey: key() });
    const lots = await lotsOf(laurel, p.tenantId, m);
    expect(lots.map((l) => l.expiresAt)).toEqual(['2027-12-31T11:00:00.000Z', '2028-12-31T11:00:00.000Z']);
    laurel.clock.set('2027-12-31T10:59:59Z');
    await settle();
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(30n);
    laurel.clock.set('2027-12-31T11:00:00Z');
    await settle();
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 20n, expired: 10n });
    await expectVerified(laurel, p.tenantId);
  });

  it('inactivity: all points expire after N months without activity, and activity restarts the count', async () => {
    laurel.clock.set('2026-01-10T12:00:00Z');
    const p = await newProgram(laurel, { expiry: { kind: 'inactivity', months: 6 } });
    const m = await newMember(laurel, p);
    await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 300, idempotencyKey: key() });
    laurel.clock.set('2026-07-10T10:59:00Z'); // 6 months after 13:00 Paris time is 11:00Z: one minute to spare
    await redeem(laurel, { tenantId: p.tenantId, memberId: m, amount: 100, idempotencyKey: key() });
    laurel.clock.set('2026-10-01T00:00:00Z');
    await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 50, idempotencyKey: key() });
    laurel.clock.set('2027-03-31T23:00:00Z'); // 6 months after 1 October 02:00 Paris time is 1 April 02:00
    await settle();
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 250n, expired: 0n });
    laurel.clock.set('2027-04-01T00:00:00Z');
    await settle();
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 0n, expired: 250n });
    await expectVerified(laurel, p.tenantId);
  });

  it('inactivity: a goodwill adjustment restarts the count, so its points do not expire at the next settlement', async () => {
    laurel.clock.set('2026-01-10T12:00:00Z');
    const p = await newProgram(laurel, { expiry: { kind: 'inactivity', months: 6 } });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    await earn(laurel, { tenantId: t, memberId: m, amount: 300, idempotencyKey: key() });
    // Five months idle, then support gives 500: the wallet counts as active from that moment.
    laurel.clock.set('2026-06-10T12:00:00Z');
    const given = await adjust(laurel, { tenantId: t, memberId: m, amount: 500, reason: 'goodwill', actor: 'support:ann', idempotencyKey: key() });
    expect(given.balances[0]!.lastActivityAt).toEqual(new Date('2026-06-10T12:00:00Z'));
    laurel.clock.set('2026-07-10T12:00:00Z'); // six months after the earn
    await settle();
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 800n, expired: 0n });
    laurel.clock.set('2026-12-10T13:00:00Z'); // six months after the adjustment: 14:00 in Paris
    await settle();
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 0n, expired: 800n });
    await expectVerified(laurel, t);
  });

  it('inactivity: a negative adjustment (a correction) does not restart the count', async () => {
    laurel.clock.set('2026-01-10T12:00:00Z');
    const p = await newProgram(laurel, { expiry: { kind: 'inactivity', months: 6 } });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    await earn(laurel, { tenantId: t, memberId: m, amount: 300, idempotencyKey: key() });
    laurel.clock.set('2026-06-10T12:00:00Z');
    const taken = await adjust(laurel, { tenantId: t, memberId: m, amount: -100, reason: 'double earn', actor: 'support:ann', idempotencyKey: key() });
    expect(taken.balances[0]!.lastActivityAt).toEqual(new Date('2026-01-10T12:00:00Z'));
    laurel.clock.set('2026-07-10T11:00:00Z'); // six months after 13:00 Paris time in January is 11:00Z in July
    await settle();
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 0n, expired: 200n });
    await expectVerified(laurel, t);
  });

  it('rolling and inactivity expiry agree to the millisecond around a DST fall-back (the repeated hour is its later instant)', async () => {
    // Fall-backs: the local time of the start of the repeated span. Lord Howe repeats half an hour.
    const fallBacks = [
      { zone: 'America/New_York', at: '2026-11-01T01:00' },
      { zone: 'Pacific/Auckland', at: '2026-04-05T02:00' },
      { zone: 'Europe/Istanbul', at: '2015-11-08T03:00' },
      { zone: 'Australia/Lord_Howe', at: '2026-04-05T01:30' },
    ];
    const idleAt = async (last: Date, months: number, zone: string, now: Date) =>
      (await sql<{ idle: boolean }>`select ${inactiveSince(sql`${last}::timestamptz`, sql`${months}::int`, sql`${zone}::text`, now)} as idle`
        .execute(laurel.db)).rows[0]!.idle;
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...fallBacks), fc.integer({ min: 1, max: 13 }), fc.integer({ min: -4 * 3600, max: 4 * 3600 }),
      async ({ zone, at }, months, seconds) => {
        // An instant whose wall-clock time lands near the repeated span `months` months later.
        const earnedAt = DateTime.fromISO(at, { zone }).minus({ months }).plus({ seconds }).toJSDate();
        const expiresAt = lotExpiresAt({ kind: 'rolling', months }, earnedAt, zone)!;
        expect(await idleAt(earnedAt, months, zone, new Date(expiresAt.getTime() - 1))).toBe(false);
        expect(await idleAt(earnedAt, months, zone, expiresAt)).toBe(true);
      }), { numRuns: 150 });
  });

  it('New York: points earned at 01:30 on 1 October (summer time) expire at 01:30 standard time on 1 November, rolling or idle', async () => {
    laurel.clock.set('2026-10-01T05:30:00Z'); // 01:30 EDT
    const rolling = await newProgram(laurel, { expiry: { kind: 'rolling', months: 1 } }, 'America/New_York');
    const idle = await newProgram(laurel, { expiry: { kind: 'inactivity', months: 1 } }, 'America/New_York');
    const a = await newMember(laurel, rolling);
    const b = await newMember(laurel, idle);
    await earn(laurel, { tenantId: rolling.tenantId, memberId: a, amount: 10, idempotencyKey: key() });
    await earn(laurel, { tenantId: idle.tenantId, memberId: b, amount: 10, idempotencyKey: key() });
    // 01:30 occurs twice on 1 November: at 05:30Z (EDT) and at 06:30Z (EST). Both policies take the later.
    expect((await lotsOf(laurel, rolling.tenantId, a))[0]!.expiresAt).toBe('2026-11-01T06:30:00.000Z');
    laurel.clock.set('2026-11-01T06:29:59Z');
    await settle();
    expect((await getBalance(laurel, rolling.tenantId, a)).expired).toBe(0n);
    expect((await getBalance(laurel, idle.tenantId, b)).expired).toBe(0n);
    laurel.clock.set('2026-11-01T06:30:00Z');
    await settle();
    expect((await getBalance(laurel, rolling.tenantId, a)).expired).toBe(10n);
    expect((await getBalance(laurel, idle.tenantId, b)).expired).toBe(10n);
    await expectVerified(laurel, rolling.tenantId);
    await expectVerified(laurel, idle.tenantId);
  });

  it('spends soonest-expiring lots first, then the oldest', async () => {
    const p = await newProgram(laurel, { expiry: { kind: 'fixed_date', month: 12, day: 31, yearsAfter: 0 } });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    laurel.clock.set('2026-03-01T12:00:00Z');
    await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() }); // expires end of 2026
    laurel.clock.set('2026-04-01T12:00:00Z');
    await earn(laurel, { tenantId: t, memberId: m, amount: 50, idempotencyKey: key() }); // end of 2026, younger
    laurel.clock.set('2027-02-01T12:00:00Z');
    await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() }); // end of 2027
    // The 2026 lots expired on 1 January 2027 (Paris): only 100 are left.
    expect((await redeem(laurel, { tenantId: t, memberId: m, amount: 30, idempotencyKey: key() })).balances[0]!.available).toBe(70n);
    const q = await newProgram(laurel, { expiry: { kind: 'fixed_date', month: 12, day: 31, yearsAfter: 1 } });
    const n = await newMember(laurel, q);
    laurel.clock.set('2026-03-01T12:00:00Z');
    await earn(laurel, { tenantId: q.tenantId, memberId: n, amount: 100, idempotencyKey: key() }); // end of 2027
    laurel.clock.set('2027-01-10T12:00:00Z');
    await earn(laurel, { tenantId: q.tenantId, memberId: n, amount: 100, idempotencyKey: key() }); // end of 2028
    laurel.clock.set('2027-02-10T12:00:00Z');
    await earn(laurel, { tenantId: q.tenantId, memberId: n, amount: 50, idempotencyKey: key() }); // end of 2028, younger
    await redeem(laurel, { tenantId: q.tenantId, memberId: n, amount: 120, idempotencyKey: key() });
    expect((await lotsOf(laurel, q.tenantId, n)).map((l) => l.remaining)).toEqual([0n, 80n, 50n]);
    await expectVerified(laurel, t);
    await expectVerified(laurel, q.tenantId);
  });
});

describe('reversals restore exactly what was taken', () => {
  it('a reversed redeem gives each lot back its points, and a restored lot already past expiry expires again', async () => {
    laurel.clock.set('2026-01-01T12:00:00Z');
    const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 1 } });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    await earn(laurel, { tenantId: t, memberId: m, amount: 40, idempotencyKey: key() }); // expires 1 Feb
    laurel.clock.set('2026-01-20T12:00:00Z');
    await earn(laurel, { tenantId: t, memberId: m, amount: 60, idempotencyKey: key() }); // expires 20 Feb
    const r = await redeem(laurel, { tenantId: t, memberId: m, amount: 70, idempotencyKey: key() });
    expect((await lotsOf(laurel, t, m)).map((l) => l.remaining)).toEqual([0n, 30n]);
    laurel.clock.set('2026-02-05T12:00:00Z');
    const back = await reverseEntry(laurel, { tenantId: t, entryId: r.entries[0]!.entryId, reason: 'order cancelled', idempotencyKey: key() });
    // 40 go back to the first lot, which expired on 1 Feb, so they expire at once; 30 go back to the second.
    expect(back.balances[0]).toMatchObject({ available: 60n, expired: 40n, lifetimeRedeemed: 0n });
    expect((await lotsOf(laurel, t, m)).map((l) => l.remaining)).toEqual([0n, 60n]);
    await expectVerified(laurel, t);
  });

  it('a reversed earn takes pending points first, and cannot be reversed twice', async () => {
    const p = await newProgram(laurel, { returnWindowDays: 14 });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    const e = await earn(laurel, { tenantId: t, memberId: m, amount: 120, idempotencyKey: key() });
    const part = await reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, amount: 20, idempotencyKey: key() });
    expect(part.balances[0]).toMatchObject({ available: 0n, pending: 100n, lifetimeEarned: 100n });
    await expect(reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, amount: 101, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'validation', field: 'amount' });
    await reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, idempotencyKey: key() });
    await expect(reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'conflict', field: 'entryId' });
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 0n, pending: 0n, lifetimeEarned: 0n });
    await expectVerified(laurel, t);
  });
});

describe('claw-back of points already spent', () => {
  it('debt: the balance goes negative and later points repay it first', async () => {
    const p = await newProgram(laurel, { negativeBalance: 'debt' });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    const e = await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() });
    await redeem(laurel, { tenantId: t, memberId: m, amount: 80, idempotencyKey: key() });
    laurel.clock.advance(60_000);
    const rev = await reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, reason: 'order returned', idempotencyKey: key() });
    expect(rev.balances[0]!.available).toBe(-80n);
    laurel.clock.advance(60_000);
    expect((await earn(laurel, { tenantId: t, memberId: m, amount: 50, idempotencyKey: key() })).balances[0]!.available).toBe(-30n);
    laurel.clock.advance(60_000);
    await expect(redeem(laurel, { tenantId: t, memberId: m, amount: 1, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'insufficient_points' });
    expect((await earn(laurel, { tenantId: t, memberId: m, amount: 50, idempotencyKey: key() })).balances[0]!.available).toBe(20n);
    // in order: the returned lot (0), the debt lot, repaid (0), the first new lot, all to the debt (0), the second (20)
    expect((await lotsOf(laurel, t, m)).map((l) => l.remaining)).toEqual([0n, 0n, 0n, 20n]);
    expect((await redeem(laurel, { tenantId: t, memberId: m, amount: 20, idempotencyKey: key() })).balances[0]!.available).toBe(0n);
    await expectVerified(laurel, t);
  });

  it('write-off: the shortfall is posted to the program write-off account and the balance stays at zero', async () => {
    const p = await newProgram(laurel, { negativeBalance: 'write_off' });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    const e = await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() });
    await redeem(laurel, { tenantId: t, memberId: m, amount: 80, idempotencyKey: key() });
    const rev = await reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, idempotencyKey: key() });
    expect(rev.balances[0]).toMatchObject({ available: 0n, lifetimeEarned: 0n });
    const legs = rev.entries[0]!.postings.map((p) => [p.account, p.amount]);
    expect(legs).toEqual(expect.arrayContaining([['available', -20n], ['issuance', 100n], ['write_off', -80n]]));
    await expectVerified(laurel, t);
  });
});

describe('claw-back of points held', () => {
  it('write-off: earn 100, hold 100, reverse the earn: the hold is voided, nothing is written off, and voiding it gives nothing back', async () => {
    const p = await newProgram(laurel, { negativeBalance: 'write_off' });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    const e = await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() });
    const h = await createHold(laurel, { tenantId: t, memberId: m, amount: 100, ttlSeconds: 3600, idempotencyKey: key() });
    const rev = await reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, idempotencyKey: key() });
    expect(rev.balances[0]).toMatchObject({ available: 0n, held: 0n, lifetimeEarned: 0n });
    expect(rev.entries[0]!.postings.map((x) => [x.account, x.amount])).toEqual([['held', -100n], ['issuance', 100n]]);
    await expect(voidHold(laurel, { tenantId: t, holdId: h.hold!.holdId, idempotencyKey: key() })).rejects.toMatchObject({ code: 'conflict' });
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 0n, held: 0n });
    await expectVerified(laurel, t);
  });

  it('takes free points first, then shrinks the newest hold; the older hold and the shrunk one give back only what they still hold', async () => {
    for (const policy of ['write_off', 'debt'] as const) {
      const p = await newProgram(laurel, { negativeBalance: policy });
      const m = await newMember(laurel, p);
      const t = p.tenantId;
      await earn(laurel, { tenantId: t, memberId: m, amount: 50, idempotencyKey: key() });
      const e = await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() });
      const older = await createHold(laurel, { tenantId: t, memberId: m, amount: 60, ttlSeconds: 3600, idempotencyKey: key() });
      laurel.clock.advance(1000);
      const newer = await createHold(laurel, { tenantId: t, memberId: m, amount: 70, ttlSeconds: 3600, idempotencyKey: key() });
      // 20 free, 130 held: reversing 100 takes the 20, then 70 from the newer hold (voided), then 10 from the older
      const rev = await reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, idempotencyKey: key() });
      expect(rev.balances[0], policy).toMatchObject({ available: 0n, held: 50n, lifetimeEarned: 50n });
      await expect(captureHold(laurel, { tenantId: t, holdId: newer.hold!.holdId, idempotencyKey: key() })).rejects.toMatchObject({ code: 'conflict' });
      await expect(captureHold(laurel, { tenantId: t, holdId: older.hold!.holdId, amount: 51, idempotencyKey: key() })).rejects.toMatchObject({ code: 'validation' });
      const voided = await voidHold(laurel, { tenantId: t, holdId: older.hold!.holdId, idempotencyKey: key() });
      expect(voided.balances[0], policy).toMatchObject({ available: 50n, held: 0n });
      await expectVerified(laurel, t);
    }
  });

  it('a hold shrunk by a claw-back and then expired gives back only what it still held', async () => {
    const p = await newProgram(laurel, { negativeBalance: 'write_off' });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    const e = await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() });
    await earn(laurel, { tenantId: t, memberId: m, amount: 30, idempotencyKey: key() });
    await createHold(laurel, { tenantId: t, memberId: m, amount: 130, ttlSeconds: 60, idempotencyKey: key() });
    await reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, idempotencyKey: key() });
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 0n, held: 30n });
    laurel.clock.advance(61_000);
    await settle();
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 30n, held: 0n });
    await expectVerified(laurel, t);
  });
});

describe('transfers and wallets', () => {
  it("a transfer gives the receiver lots with the sender's expiry", async () => {
    laurel.clock.set('2026-05-01T08:00:00Z');
    const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 6 } });
    const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
    await earn(laurel, { tenantId: p.tenantId, memberId: a, amount: 100, idempotencyKey: key() });
    laurel.clock.set('2026-06-01T08:00:00Z');
    await transfer(laurel, { tenantId: p.tenantId, fromMemberId: a, toMemberId: b, amount: 40, idempotencyKey: key() });
    // earned 10:00 Paris summer time; six months later is 10:00 Paris winter time, 09:00Z
    expect(await lotsOf(laurel, p.tenantId, b)).toEqual([{ amount: 40n, remaining: 40n, pending: false, expiresAt: '2026-11-01T09:00:00.000Z' }]);
    await expectVerified(laurel, p.tenantId);
  });

  it('a qualifying wallet earns but cannot be spent', async () => {
    const p = await newProgram(laurel);
    const m = await newMember(laurel, p);
    await earn(laurel, { tenantId: p.tenantId, memberId: m, wallet: 'status', amount: 500, idempotencyKey: key() });
    expect((await getBalance(laurel, p.tenantId, m, 'status')).available).toBe(500n);
    await expect(redeem(laurel, { tenantId: p.tenantId, memberId: m, wallet: 'status', amount: 1, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'conflict', field: 'wallet' });
    await expect(earn(laurel, { tenantId: p.tenantId, memberId: m, wallet: 'miles', amount: 1, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'not_found', field: 'wallet' });
    await expectVerified(laurel, p.tenantId);
  });

  it('a suspended member neither earns nor spends, but their entries can still be reversed', async () => {
    const p = await newProgram(laurel);
    const m = await newMember(laurel, p);
    const e = await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key() });
    await setMemberStatus(laurel, p.tenantId, m, 'suspended');
    await expect(earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'conflict', field: 'memberId' });
    await expect(createHold(laurel, { tenantId: p.tenantId, memberId: m, amount: 5, ttlSeconds: 60, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'conflict' });
    await reverseEntry(laurel, { tenantId: p.tenantId, entryId: e.entries[0]!.entryId, idempotencyKey: key() });
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(0n);
    await expectVerified(laurel, p.tenantId);
  });
});

describe('adjustments', () => {
  it('need a reason and an actor, and a negative one cannot overdraw', async () => {
    const p = await newProgram(laurel);
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    await expect(adjust(laurel, { tenantId: t, memberId: m, amount: 50, reason: ' ', actor: 'ops', idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'validation', field: 'reason' });
    const a = await adjust(laurel, { tenantId: t, memberId: m, amount: 50, reason: 'missing points for order 17', actor: 'ops@brand', idempotencyKey: key() });
    expect(a.entries[0]).toMatchObject({ kind: 'adjust', actor: 'ops@brand', reason: 'missing points for order 17' });
    await expect(adjust(laurel, { tenantId: t, memberId: m, amount: -51, reason: 'fix', actor: 'ops', idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'insufficient_points' });
    expect((await adjust(laurel, { tenantId: t, memberId: m, amount: -50, reason: 'fix', actor: 'ops', idempotencyKey: key() })).balances[0]!.available).toBe(0n);
    await expectVerified(laurel, t);
  });
});

describe('idempotency', () => {
  it('the same key and request replays the stored result; another request with that key is refused', async () => {
    const p = await newProgram(laurel);
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    const k = key();
    const first = await earn(laurel, { tenantId: t, memberId: m, amount: 25, ref: 'order-9', idempotencyKey: k });
    laurel.clock.advance(DAY_MS);
    const again = await earn(laurel, { tenantId: t, memberId: m, amount: 25, ref: 'order-9', idempotencyKey: k });
    expect(again).toEqual(first);
    expect((await getBalance(laurel, t, m)).available).toBe(25n);
    await expect(earn(laurel, { tenantId: t, memberId: m, amount: 26, ref: 'order-9', idempotencyKey: k }))
      .rejects.toMatchObject({ code: 'idempotency_conflict', field: 'idempotencyKey' });
    await expect(redeem(laurel, { tenantId: t, memberId: m, amount: 25, ref: 'order-9', idempotencyKey: k }))
      .rejects.toMatchObject({ code: 'idempotency_conflict' });
    await expectVerified(laurel, t);
  });
});

describe('bad input is refused, naming the field', () => {
  it.each([
    [{ amount: 0 }, 'amount'], [{ amount: -5 }, 'amount'], [{ amount: 1.5 }, 'amount'], [{ amount: 1e16 }, 'amount'],
    [{ memberId: 'not-a-uuid' }, 'memberId'], [{ idempotencyKey: '' }, 'idempotencyKey'], [{ wallet: '' }, 'wallet'],
  ])('earn with %o', async (override, field) => {
    const p = await newProgram(laurel);
    const m = await newMember(laurel, p);
    await expect(earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key(), ...override }))
      .rejects.toMatchObject({ code: 'validation', field });
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(0n);
  });

  it('an unknown member is not found', async () => {
    const p = await newProgram(laurel);
    await expect(earn(laurel, { tenantId: p.tenantId, memberId: '01a20c82-4d1f-7939-b601-6e85e79978fe', amount: 10, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'not_found', field: 'memberId' });
  });
});
