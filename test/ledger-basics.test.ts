import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { adjust, captureHold, createHold, earn, getBalance, redeem, reverseEntry, transfer, voidHold } from '../src/services/ledger.js';
import { settleDue } from '../src/db/settlement.js';
import { expectVerified, key, newMember, newProgram, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel(); });
afterAll(async () => { await laurel.close(); });

describe('earn and redeem', () => {
  it('earns into a lot and redeems from it', async () => {
    const p = await newProgram(laurel);
    const m = await newMember(laurel, p);
    const e = await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 100, idempotencyKey: key() });
    expect(e.balances[0]).toMatchObject({ available: 100n, lifetimeEarned: 100n });
    const r = await redeem(laurel, { tenantId: p.tenantId, memberId: m, amount: 30n, idempotencyKey: key() });
    expect(r.balances[0]).toMatchObject({ available: 70n, lifetimeRedeemed: 30n });
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: 70n, pending: 0n, held: 0n });
    await expect(redeem(laurel, { tenantId: p.tenantId, memberId: m, amount: 71n, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'insufficient_points', field: 'amount' });
    await expectVerified(laurel, p.tenantId);
  });

  it('holds, captures part, voids, and reverses', async () => {
    const p = await newProgram(laurel, { negativeBalance: 'write_off' });
    const m = await newMember(laurel, p);
    const m2 = await newMember(laurel, p);
    const t = p.tenantId;
    const e1 = await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() });
    const h = await createHold(laurel, { tenantId: t, memberId: m, amount: 60, ttlSeconds: 600, idempotencyKey: key() });
    expect(h.balances[0]).toMatchObject({ available: 40n, held: 60n });
    const c = await captureHold(laurel, { tenantId: t, holdId: h.hold!.holdId, amount: 50, idempotencyKey: key() });
    expect(c.balances[0]).toMatchObject({ available: 50n, held: 0n, lifetimeRedeemed: 50n });
    const h2 = await createHold(laurel, { tenantId: t, memberId: m, amount: 10, ttlSeconds: 600, idempotencyKey: key() });
    const v = await voidHold(laurel, { tenantId: t, holdId: h2.hold!.holdId, idempotencyKey: key() });
    expect(v.balances[0]).toMatchObject({ available: 50n, held: 0n });
    const tr = await transfer(laurel, { tenantId: t, fromMemberId: m, toMemberId: m2, amount: 20, idempotencyKey: key() });
    expect(tr.balances.map((b) => b.available)).toEqual([30n, 20n]);
    const rc = await reverseEntry(laurel, { tenantId: t, entryId: c.entries[0]!.entryId, idempotencyKey: key() });
    expect(rc.balances[0]).toMatchObject({ available: 80n, lifetimeRedeemed: 0n });
    const re = await reverseEntry(laurel, { tenantId: t, entryId: e1.entries[0]!.entryId, idempotencyKey: key() });
    // 100 earned, 80 left here (20 moved to m2): 80 taken back, 20 written off
    expect(re.balances[0]).toMatchObject({ available: 0n, lifetimeEarned: 0n });
    const a = await adjust(laurel, { tenantId: t, memberId: m2, amount: -5, reason: 'goodwill correction', actor: 'alice', idempotencyKey: key() });
    expect(a.balances[0]).toMatchObject({ available: 15n });
    await expectVerified(laurel, t);
  });

  it('expires holds and matures pending points over time', async () => {
    const p = await newProgram(laurel, { returnWindowDays: 14 });
    const m = await newMember(laurel, p);
    const t = p.tenantId;
    await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() });
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 0n, pending: 100n });
    laurel.clock.advance(14 * DAY_MS);
    const h = await createHold(laurel, { tenantId: t, memberId: m, amount: 100, ttlSeconds: 60, idempotencyKey: key() });
    expect(h.balances[0]).toMatchObject({ available: 0n, pending: 0n, held: 100n });
    laurel.clock.advance(61_000);
    await expect(captureHold(laurel, { tenantId: t, holdId: h.hold!.holdId, idempotencyKey: key() }))
      .rejects.toMatchObject({ code: 'conflict' });
    await settleDue(laurel.db, laurel.clock.now());
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 100n, held: 0n });
    await expectVerified(laurel, t);
  });
});
