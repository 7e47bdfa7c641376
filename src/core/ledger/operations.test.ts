// Refusals that state figures state the true ones: a wallet that cannot pay says what it could pay,
// and that figure is exactly the most the same wallet accepts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../errors.js';
import { MAX_POINTS } from '../points.js';
import { decideAdjust, decideHold, decideRedeem, decideTransfer } from './operations.js';
import type { LedgerContext, Lot, WalletState } from './types.js';

const NOW = new Date('2027-03-01T12:00:00Z');
const HOUR = 3_600_000;
let seq = 0;
const ctx = (): LedgerContext => ({
  now: NOW, newId: () => `00000000-0000-7000-8000-${(++seq).toString(16).padStart(12, '0')}`,
  policy: { returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'debt' }, timeZone: 'UTC', actor: 'test', idempotencyKey: null,
});

type LotSpec = { remaining: bigint; state: 'spendable' | 'pending' | 'expired' | 'debt' };

function wallet(memberId: string, specs: LotSpec[]): WalletState {
  const lots: Lot[] = specs.map((s, i) => ({
    lotId: `${memberId}-lot-${i}`, memberId, walletId: 'w', entryId: `e${i}`,
    amount: s.state === 'debt' ? -s.remaining : s.remaining, remaining: s.state === 'debt' ? -s.remaining : s.remaining,
    pending: s.state === 'pending', earnedAt: new Date(NOW.getTime() - (i + 1) * HOUR),
    availableAt: s.state === 'pending' ? new Date(NOW.getTime() + HOUR) : NOW,
    // expired but not yet settled: still in the balance, no longer spendable
    expiresAt: s.state === 'expired' ? new Date(NOW.getTime() - 1) : null,
  }));
  let available = 0n, pending = 0n;
  for (const l of lots) if (l.pending) pending += l.remaining; else available += l.remaining;
  return {
    programId: 'p', walletId: 'w', walletKind: 'redeemable', memberId, lots,
    balance: { memberId, walletId: 'w', wallet: 'points', available, pending, held: 0n, lifetimeEarned: 0n, lifetimeRedeemed: 0n, expired: 0n, lastActivityAt: null },
  };
}

/** What the wallet can really pay now: its spendable lots, less any debt (a debt and spendable points never coexist). */
function payable(specs: LotSpec[]): bigint {
  let total = 0n;
  for (const s of specs) if (s.state === 'spendable') total += s.remaining;
  return total;
}

const points = fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: MAX_POINTS }));
const lotsArb: fc.Arbitrary<LotSpec[]> = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.record({ remaining: points, state: fc.constantFrom('spendable' as const, 'spendable' as const, 'pending' as const, 'expired' as const) }), { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.tuple(points, fc.array(fc.record({ remaining: points, state: fc.constantFrom('pending' as const, 'expired' as const) }), { maxLength: 3 }))
    .map(([debt, rest]) => [{ remaining: debt, state: 'debt' as const }, ...rest]) },
);
const SPENDS = {
  redeem: (w: WalletState, amount: bigint) => decideRedeem(ctx(), w, amount, null),
  hold: (w: WalletState, amount: bigint) => decideHold(ctx(), w, amount, new Date(NOW.getTime() + HOUR), null),
  adjust: (w: WalletState, amount: bigint) => decideAdjust(ctx(), w, -amount, 'correction'),
  transfer: (w: WalletState, amount: bigint) => decideTransfer(ctx(), w, wallet('receiver', []), amount, null),
};

function refusal(attempt: () => unknown): DomainError | null {
  try {
    attempt();
    return null;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
}

describe('insufficient-points refusals', () => {
  it('a member with 214 points asking for 1,000 or 215 is told 214 are available', () => {
    const w = wallet('m', [{ remaining: 200n, state: 'spendable' }, { remaining: 14n, state: 'spendable' }]);
    expect(refusal(() => decideRedeem(ctx(), w, 1000n, null))?.message).toBe('1000 points requested, 214 available');
    expect(refusal(() => decideRedeem(ctx(), w, 215n, null))?.message).toBe('215 points requested, 214 available');
    expect(refusal(() => decideRedeem(ctx(), w, 214n, null))).toBeNull();
  });

  it('every refusal states the amount asked and the true available figure, which is then accepted', () => {
    fc.assert(fc.property(lotsArb, points, fc.constantFrom(...Object.keys(SPENDS) as (keyof typeof SPENDS)[]), (specs, amount, op) => {
      const w = wallet('m', specs);
      const truth = payable(specs);
      const error = refusal(() => SPENDS[op](w, amount));
      if (amount <= truth) {
        expect(error).toBeNull();
        return;
      }
      expect(error?.code).toBe('insufficient_points');
      expect(error?.field).toBe('amount');
      expect(error?.message).toBe(`${amount} points requested, ${truth} available`);
      if (truth > 0n) expect(refusal(() => SPENDS[op](w, truth))).toBeNull();
      expect(refusal(() => SPENDS[op](w, truth + 1n))?.message).toBe(`${truth + 1n} points requested, ${truth} available`);
    }), { numRuns: 2000 });
  });
});
