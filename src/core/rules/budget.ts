// A rule's or campaign's budget, split into shards so that concurrent events do not queue on one
// row. Each shard holds part of the room the budget has left; an event takes from its member's
// shard while that holds enough, and otherwise from all of them at once, after which what is left
// is spread evenly again. Σ used over the shards is the budget used. No shard holds negative room,
// and the rooms add up to at most the budget less Σ used: however events interleave, they never
// give out more than the budget.
import type { Scope } from './evaluate.js';

/** How many shards a budget has: enough that 32 concurrent members rarely share one. */
export const BUDGET_SHARDS = 16;

export interface BudgetShard {
  scope: Scope;
  shard: number;
  /** the budget, the same on every shard; null: the scope has none now (what it used is kept) */
  budget: bigint | null;
  used: bigint;
  /** what this shard may still give out on its own */
  room: bigint;
}

/** The shard a member's events draw on: always the same one, spread by the random end of their id. */
export function shardOf(memberId: string | null): number {
  if (memberId === null) return 0;
  const tail = Number.parseInt(memberId.slice(-4), 16);
  return Number.isNaN(tail) ? 0 : tail % BUDGET_SHARDS;
}

/** What a budget has left over all its shards (never below 0); null without a budget. */
export function budgetLeft(shards: readonly BudgetShard[]): bigint | null {
  const budget = shards[0]?.budget ?? null;
  if (budget === null) return null;
  const left = budget - usedOf(shards);
  return left > 0n ? left : 0n;
}

export const usedOf = (shards: readonly BudgetShard[]): bigint => shards.reduce((sum, s) => sum + s.used, 0n);

/** What the member's shard may give out on its own; null: no budget to keep. */
export const roomOf = (shard: BudgetShard): bigint | null => (shard.budget === null ? null : shard.room);

/** One shard after it gave out `amount` from its own room (the caller checked it holds that much). */
export function spentOn(shard: BudgetShard, amount: bigint): BudgetShard {
  if (amount < 0n || (shard.budget !== null && amount > shard.room)) throw new Error(`shard ${shard.shard} of ${shard.scope} cannot give out ${amount}`);
  return { ...shard, used: shard.used + amount, room: shard.budget === null ? shard.room : shard.room - amount };
}

/**
 * All of a budget's shards after `amount` was given out (or, negative, given back) by a member of
 * shard `own`, with what the budget has left spread evenly over them again. A give-back comes off
 * the member's shard first, then the others', and never takes Σ used below 0. `budget` replaces
 * the budget (an edit); by default it stays.
 */
export function respread(shards: readonly BudgetShard[], own: number, amount: bigint, budget: bigint | null = shards[0]?.budget ?? null): BudgetShard[] {
  if (shards.length !== BUDGET_SHARDS) throw new Error(`a budget has ${BUDGET_SHARDS} shards, not ${shards.length}`);
  const next = [...shards].sort((a, b) => a.shard - b.shard).map((s) => ({ ...s, budget }));
  if (amount >= 0n) next[own]!.used += amount;
  let back = -amount;
  for (const i of [own, ...next.keys()]) {
    if (back <= 0n) break;
    const taken = back < next[i]!.used ? back : next[i]!.used;
    next[i]!.used -= taken;
    back -= taken;
  }
  const left = budgetLeft(next) ?? 0n;
  const each = left / BigInt(BUDGET_SHARDS);
  const extra = Number(left % BigInt(BUDGET_SHARDS));
  return next.map((s, i) => ({ ...s, room: each + (i < extra ? 1n : 0n) }));
}

/** A new budget's shards: nothing used, the budget spread over them. */
export const newBudget = (scope: Scope, budget: bigint | null): BudgetShard[] =>
  respread(Array.from({ length: BUDGET_SHARDS }, (_, shard) => ({ scope, shard, budget, used: 0n, room: 0n })), 0, 0n);
