import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUDGET_SHARDS, budgetLeft, newBudget, respread, roomOf, shardOf, spentOn, usedOf, type BudgetShard } from './budget.js';

const SCOPE = 'rule:0190d0c2-0000-7000-8000-000000000000' as const;

/** What a budget of one row gives an event: all it asks while it has that much left, then what is left. */
const unsharded = (budget: bigint, used: bigint, asked: bigint) => {
  const left = budget > used ? budget - used : 0n;
  return asked < left ? asked : left;
};

/**
 * An event asking `asked` of the sharded budget, as the event path draws: from its member's shard
 * while that holds enough, else from all the shards (what the event runs again holding).
 */
function draw(shards: BudgetShard[], own: number, asked: bigint): { given: bigint; shards: BudgetShard[] } {
  const room = roomOf(shards[own]!);
  if (room === null || asked <= room) return { given: asked, shards: shards.map((s, i) => (i === own ? spentOn(s, asked) : s)) };
  const left = budgetLeft(shards)!;
  const given = asked < left ? asked : left;
  return { given, shards: given === 0n ? shards : respread(shards, own, given) };
}

const holdsTheBudget = (shards: readonly BudgetShard[]) => {
  expect(shards).toHaveLength(BUDGET_SHARDS);
  for (const s of shards) {
    expect(s.used >= 0n && s.room >= 0n, `shard ${s.shard}: used ${s.used}, room ${s.room}`).toBe(true);
    expect(s.budget).toBe(shards[0]!.budget);
  }
  const rooms = shards.reduce((sum, s) => sum + s.room, 0n);
  expect(rooms <= (budgetLeft(shards) ?? 0n), `rooms ${rooms} within what is left, ${budgetLeft(shards)}`).toBe(true);
};

type Step = { kind: 'buy'; shard: number; asked: bigint } | { kind: 'return'; shard: number; back: bigint } | { kind: 'edit'; budget: bigint };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('buy' as const), shard: fc.nat(BUDGET_SHARDS - 1), asked: fc.bigInt(0n, 400n) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('return' as const), shard: fc.nat(BUDGET_SHARDS - 1), back: fc.bigInt(1n, 400n) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('edit' as const), budget: fc.bigInt(0n, 5000n) }) },
);

describe('a budget in shards', () => {
  it('gives each event, one after another, exactly what one budget row would have, and never passes the budget', () => {
    fc.assert(fc.property(fc.bigInt(0n, 5000n), fc.array(step, { maxLength: 120 }), (initial, steps) => {
      let budget = initial;
      let used = 0n;
      let shards = newBudget(SCOPE, budget);
      holdsTheBudget(shards);
      for (const s of steps) {
        if (s.kind === 'buy') {
          const expected = unsharded(budget, used, s.asked);
          const next = draw(shards, s.shard, s.asked);
          expect(next.given).toBe(expected);
          used += expected;
          shards = next.shards;
        } else if (s.kind === 'return') {
          // a return gives back what it takes back, never below nothing used
          used = used > s.back ? used - s.back : 0n;
          shards = respread(shards, s.shard, -s.back);
        } else {
          budget = s.budget;
          shards = respread(shards, 0, 0n, budget);
        }
        expect(usedOf(shards)).toBe(used);
        holdsTheBudget(shards);
      }
    }), { numRuns: 500 });
  });

  it('spreads what is left evenly: rooms differ by at most 1 and add up to it', () => {
    fc.assert(fc.property(fc.bigInt(0n, 10n ** 12n), fc.array(fc.bigInt(0n, 10n ** 9n), { minLength: BUDGET_SHARDS, maxLength: BUDGET_SHARDS }),
      fc.nat(BUDGET_SHARDS - 1), (budget, used, own) => {
        const shards = respread(used.map((u, shard) => ({ scope: SCOPE, shard, budget, used: u, room: 0n })), own, 0n);
        const rooms = shards.map((s) => s.room);
        const left = budgetLeft(shards)!;
        expect(rooms.reduce((a, b) => a + b, 0n)).toBe(left);
        expect(rooms.every((r) => r - rooms[BUDGET_SHARDS - 1]! <= 1n && r >= rooms[BUDGET_SHARDS - 1]!)).toBe(true);
      }));
  });

  it('without a budget keeps what was used and gives out without limit', () => {
    const shards = respread(newBudget(SCOPE, 1000n).map((s, i) => (i === 2 ? spentOn(s, 50n) : s)), 0, 0n, null);
    expect([budgetLeft(shards), roomOf(shards[2]!), usedOf(shards)]).toEqual([null, null, 50n]);
    expect(usedOf(draw(shards, 7, 10_000n).shards)).toBe(10_050n);
  });

  it("refuses to give out more than a shard's room on its own", () => {
    expect(() => spentOn(newBudget(SCOPE, 160n)[0]!, 11n)).toThrow(/cannot give out 11/);
  });

  it("puts a member's events on one shard, spread by their id's random end", () => {
    expect(shardOf('0190d0c2-1111-7000-8000-00000000000f')).toBe(15);
    expect(shardOf('0190d0c2-1111-7000-8000-000000000010')).toBe(0);
    expect(shardOf(null)).toBe(0);
    const ids = Array.from({ length: 1600 }, (_, i) => `0190d0c2-1111-7000-8000-${(i * 7919).toString(16).padStart(12, '0')}`);
    const counts = Array.from({ length: BUDGET_SHARDS }, (_, s) => ids.filter((id) => shardOf(id) === s).length);
    expect(Math.min(...counts)).toBeGreaterThan(50);
  });
});
