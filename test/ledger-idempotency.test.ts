// The idempotency key's lookup is part of the wallet lock's statement for earn, redeem, adjust,
// holds and transfers (one round trip fewer); these pin down that it answers exactly as a lookup
// of its own did: a stored key replays whatever happened since, another request is refused, and
// the key is looked at before the member or wallet is. And the "is anything due" check of the
// wallet lock, case by case. Runs on both engines.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/core/ids.js';
import { lockWallet } from '../src/db/ledger.js';
import { adjust, createHold, earn, getBalance, redeem, reverseEntry, transfer } from '../src/services/ledger.js';
import { setMemberStatus } from '../src/services/members.js';
import { expectVerified, key, newMember, newProgram, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel(); });
afterAll(async () => { await laurel.close(); });
beforeEach(() => { laurel.clock.set('2026-01-15T10:00:00Z'); });

describe('idempotency key looked up with the wallet lock', () => {
  it('replays the stored result after the state changed, even for a member suspended since', async () => {
    const p = await newProgram(laurel);
    const t = p.tenantId;
    const m = await newMember(laurel, p);
    const k = key();
    const first = await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: k });
    await earn(laurel, { tenantId: t, memberId: m, amount: 5, idempotencyKey: key() });
    await setMemberStatus(laurel, t, m, 'suspended');
    laurel.clock.set('2026-02-15T10:00:00Z');
    expect(await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: k })).toEqual(first);
    await expect(earn(laurel, { tenantId: t, memberId: m, amount: 1, idempotencyKey: key() })).rejects.toMatchObject({ code: 'conflict' });
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 105n, lifetimeEarned: 105n });
    await expectVerified(laurel, t);
  });

  it('refuses another request under a used key before looking for the member or wallet', async () => {
    const p = await newProgram(laurel);
    const t = p.tenantId;
    const m = await newMember(laurel, p);
    const k = key();
    await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: k });
    await expect(earn(laurel, { tenantId: t, memberId: m, amount: 101, idempotencyKey: k })).rejects.toMatchObject({ code: 'idempotency_conflict' });
    await expect(redeem(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: k })).rejects.toMatchObject({ code: 'idempotency_conflict' });
    // a member that does not exist, and a wallet that does not: the key answers first
    await expect(earn(laurel, { tenantId: t, memberId: uuidv7(), amount: 100, idempotencyKey: k })).rejects.toMatchObject({ code: 'idempotency_conflict' });
    await expect(earn(laurel, { tenantId: t, memberId: m, wallet: 'nope', amount: 100, idempotencyKey: k })).rejects.toMatchObject({ code: 'idempotency_conflict' });
    // with a fresh key they are what they are
    await expect(earn(laurel, { tenantId: t, memberId: uuidv7(), amount: 100, idempotencyKey: key() })).rejects.toMatchObject({ code: 'not_found', field: 'memberId' });
    await expect(earn(laurel, { tenantId: t, memberId: m, wallet: 'nope', amount: 100, idempotencyKey: key() })).rejects.toMatchObject({ code: 'not_found', field: 'wallet' });
    expect(await getBalance(laurel, t, m)).toMatchObject({ available: 100n });
  });

  it('replays redeem, adjust, hold and transfer once each', async () => {
    const p = await newProgram(laurel);
    const t = p.tenantId;
    const [a, b] = [await newMember(laurel, p), await newMember(laurel, p)];
    await earn(laurel, { tenantId: t, memberId: a, amount: 100, idempotencyKey: key() });
    const calls = [
      (k: string) => redeem(laurel, { tenantId: t, memberId: a, amount: 10, idempotencyKey: k }),
      (k: string) => adjust(laurel, { tenantId: t, memberId: a, amount: -5, reason: 'fix', actor: 'ops', idempotencyKey: k }),
      (k: string) => createHold(laurel, { tenantId: t, memberId: a, amount: 20, ttlSeconds: 600, idempotencyKey: k }),
      // b sorts either side of a: the key is looked up with whichever wallet is locked first
      (k: string) => transfer(laurel, { tenantId: t, fromMemberId: a, toMemberId: b, amount: 15, idempotencyKey: k }),
      (k: string) => transfer(laurel, { tenantId: t, fromMemberId: b, toMemberId: a, amount: 5, idempotencyKey: k }),
    ];
    for (const call of calls) {
      const k = key();
      const first = await call(k);
      expect(await call(k)).toEqual(first);
    }
    expect(await getBalance(laurel, t, a)).toMatchObject({ available: 100n - 10n - 5n - 20n - 15n + 5n, held: 20n });
    expect(await getBalance(laurel, t, b)).toMatchObject({ available: 10n });
    await expectVerified(laurel, t);
  });
});

describe('the wallet lock tells whether anything is due', () => {
  const due = async (tenantId: string, memberId: string): Promise<boolean> =>
    laurel.db.transaction().execute(async (trx) => (await lockWallet(trx, tenantId, memberId, 'points', laurel.clock.now()))!.due);

  it('a pending lot once its return window is over', async () => {
    const p = await newProgram(laurel, { returnWindowDays: 2 });
    const m = await newMember(laurel, p);
    await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key() });
    laurel.clock.set('2026-01-17T09:59:59Z');
    expect(await due(p.tenantId, m)).toBe(false);
    laurel.clock.set('2026-01-17T10:00:00Z');
    expect(await due(p.tenantId, m)).toBe(true);
  });

  it('a live lot past its date', async () => {
    const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 1 } });
    const m = await newMember(laurel, p);
    await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key() });
    laurel.clock.set('2026-02-15T09:59:59Z');
    expect(await due(p.tenantId, m)).toBe(false);
    laurel.clock.set('2026-02-15T10:00:00Z');
    expect(await due(p.tenantId, m)).toBe(true);
  });

  it('live lots in a wallet idle for longer than an inactivity policy allows, and not an empty one', async () => {
    const p = await newProgram(laurel, { expiry: { kind: 'inactivity', months: 1 } });
    const [m, empty] = [await newMember(laurel, p), await newMember(laurel, p)];
    await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key() });
    await earn(laurel, { tenantId: p.tenantId, memberId: empty, amount: 10, idempotencyKey: key() });
    await redeem(laurel, { tenantId: p.tenantId, memberId: empty, amount: 10, idempotencyKey: key() });
    laurel.clock.set('2026-02-15T09:59:59Z');
    expect(await due(p.tenantId, m)).toBe(false);
    laurel.clock.set('2026-02-15T10:00:00Z');
    expect(await due(p.tenantId, m)).toBe(true);
    expect(await due(p.tenantId, empty)).toBe(false);
  });

  it('a debt only together with points to repay it', async () => {
    const p = await newProgram(laurel, { negativeBalance: 'debt' });
    const m = await newMember(laurel, p);
    const e = await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key() });
    await redeem(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key() });
    // the earn's lot is spent; reversing the earn leaves it owing 10
    await reverseEntry(laurel, { tenantId: p.tenantId, entryId: e.entries[0]!.entryId, idempotencyKey: key() });
    expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: -10n });
    expect(await due(p.tenantId, m)).toBe(false);
    // a live lot next to the debt (as if written before the debt was netted): due
    await laurel.db.insertInto('lots').values({
      tenant_id: p.tenantId, lot_id: uuidv7(), program_id: p.programId, wallet_id: (await walletOf(p.tenantId, m)),
      member_id: m, entry_id: e.entries[0]!.entryId, amount: 5n, remaining: 5n, pending: false,
      earned_at: laurel.clock.now(), available_at: laurel.clock.now(), expires_at: null,
    }).execute();
    expect(await due(p.tenantId, m)).toBe(true);
  });

  it('an active hold past its expiry', async () => {
    const p = await newProgram(laurel);
    const m = await newMember(laurel, p);
    await earn(laurel, { tenantId: p.tenantId, memberId: m, amount: 10, idempotencyKey: key() });
    await createHold(laurel, { tenantId: p.tenantId, memberId: m, amount: 5, ttlSeconds: 60, idempotencyKey: key() });
    laurel.clock.set('2026-01-15T10:00:59Z');
    expect(await due(p.tenantId, m)).toBe(false);
    laurel.clock.set('2026-01-15T10:01:00Z');
    expect(await due(p.tenantId, m)).toBe(true);
  });
});

async function walletOf(tenantId: string, memberId: string): Promise<string> {
  return (await laurel.db.selectFrom('balances as b').innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'b.tenant_id').onRef('w.wallet_id', '=', 'b.wallet_id'))
    .select('b.wallet_id').where('b.tenant_id', '=', tenantId).where('b.member_id', '=', memberId).where('w.code', '=', 'points')
    .executeTakeFirstOrThrow()).wallet_id;
}
