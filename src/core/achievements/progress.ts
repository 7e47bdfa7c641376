// How events move an achievement: which tallies an event adds to (a period and a key — a day of a
// streak, a month of a repeatable counter, a sku of a distinct counter), what the tallies make
// (the metric, the unlocks it has earned, a streak's run), what a return takes back, and a
// balance milestone's level. Pure: the event path and the backfill both decide here, so progress
// kept on the event path equals progress recomputed from history.
import { DateTime } from 'luxon';
import type { Facts } from '../rules/conditions.js';
import { compileCondition } from '../rules/conditions.js';
import { localDay, localTime } from '../zone.js';
import type { AchievementDefinition, ResetPeriod, StreakUnit } from './definition.js';

export interface Tally {
  period: number;
  /** '' for plain counts; a sku or category for distinct counters */
  key: string;
  value: bigint;
}

/** A purchase or action as an achievement sees it: its type, when it occurred, its money and the facts its rules saw. */
export interface CountedEvent {
  type: string;
  occurredAt: Date;
  /** money paid (minor units); 0 for an action */
  money: bigint;
  facts: Facts;
}

/** The index of the day, week (Monday to Sunday), month or year an instant falls in, in the time zone; consecutive periods have consecutive indexes. */
export function periodIndex(at: Date, unit: StreakUnit | ResetPeriod, timeZone: string): number {
  if (unit === 'day') return localDay(at, timeZone);
  // 1970-01-01 was a Thursday: day 4 is the first Monday, which starts week 1.
  if (unit === 'week') return Math.floor((localDay(at, timeZone) + 3) / 7);
  const local = localTime(at, timeZone);
  return unit === 'month' ? local.year * 12 + local.month - 1 : local.year;
}

/** The first instant of a period index, in the time zone (for showing a streak's week or month). */
export function periodStart(index: number, unit: StreakUnit | ResetPeriod, timeZone: string): Date {
  const day = (d: number) => {
    const utc = new Date(d * 86_400_000);
    return DateTime.fromObject({ year: utc.getUTCFullYear(), month: utc.getUTCMonth() + 1, day: utc.getUTCDate() }, { zone: timeZone }).toJSDate();
  };
  if (unit === 'day') return day(index);
  if (unit === 'week') return day(index * 7 - 3);
  if (unit === 'month') return DateTime.fromObject({ year: Math.floor(index / 12), month: (index % 12) + 1, day: 1 }, { zone: timeZone }).toJSDate();
  return DateTime.fromObject({ year: index, month: 1, day: 1 }, { zone: timeZone }).toJSDate();
}

/** The period an achievement's tallies are kept under for an instant: a streak's day/week/month, a repeatable counter's reset period, else 0. */
export function tallyPeriod(a: AchievementDefinition, at: Date, timeZone: string): number {
  if (a.kind === 'streak') return periodIndex(at, a.streakUnit!, timeZone);
  if (a.resetEvery !== null) return periodIndex(at, a.resetEvery, timeZone);
  return 0;
}

/** Whether an event counts for the achievement: its type, the challenge's window and segment, the filter. */
export function counts(a: AchievementDefinition, e: CountedEvent): boolean {
  if (a.kind === 'milestone' || e.type !== a.eventType) return false;
  if (a.window && (e.occurredAt < a.window.from || e.occurredAt >= a.window.to)) return false;
  if (a.segment !== null && !compileCondition(a.segment)(e.facts)) return false;
  return a.filter === null || compileCondition(a.filter)(e.facts);
}

/** What an event adds to the achievement's tallies; empty when it does not count. */
export function contributionsOf(a: AchievementDefinition, e: CountedEvent, timeZone: string): Tally[] {
  if (!counts(a, e)) return [];
  const period = tallyPeriod(a, e.occurredAt, timeZone);
  switch (a.metric) {
    case 'count': return [{ period, key: '', value: 1n }];
    case 'spend': return e.money > 0n ? [{ period, key: '', value: e.money }] : [];
    case 'distinctSkus': return [...new Set(e.facts.order.skus)].map((key) => ({ period, key, value: 1n }));
    case 'distinctCategories': return [...new Set(e.facts.order.categories)].map((key) => ({ period, key, value: 1n }));
  }
}

/** What is back of a purchase after a return: all of it (every unit, or all the money paid), or the skus and categories of which every unit is back. */
export interface Returned {
  /** money this return refunds */
  amount: bigint;
  /** the whole purchase has come back */
  whole: boolean;
  /** skus and categories of which every unit bought has come back */
  skus: ReadonlySet<string>;
  categories: ReadonlySet<string>;
}

/** A purchase's line as a return sees it: what was bought of which sku and category. */
export interface BoughtLine {
  sku: string;
  category: string | null;
  quantity: bigint;
}

/**
 * What is back of a purchase, from the units returned so far per sku and the money still paid: it
 * is whole when every unit is back, or all its money when it had some (a purchase paid wholly with
 * points is whole only when every unit is).
 */
export function returnedOf(lines: readonly BoughtLine[], unitsBack: ReadonlyMap<string, bigint>, refund: { amount: bigint; total: bigint; paidLeft: bigint }): Returned {
  const bought = new Map<string, bigint>();
  for (const l of lines) bought.set(l.sku, (bought.get(l.sku) ?? 0n) + l.quantity);
  const skus = new Set([...bought].filter(([sku, q]) => (unitsBack.get(sku) ?? 0n) >= q).map(([sku]) => sku));
  const whole = (bought.size > 0 && skus.size === bought.size) || (refund.total > 0n && refund.paidLeft <= 0n);
  const categories = new Set<string>();
  for (const l of lines) if (l.category !== null && lines.every((o) => o.category !== l.category || whole || skus.has(o.sku))) categories.add(l.category);
  return { amount: refund.amount, whole, skus: whole ? new Set(bought.keys()) : skus, categories };
}

/**
 * What a return takes back of what its purchase still contributes: spend by the money refunded;
 * a distinct sku or category once every unit of it in the purchase is back; counts and streak
 * periods once the whole purchase is back (as tiers count visits).
 */
export function takenBack(a: AchievementDefinition, left: readonly Tally[], back: Returned): Tally[] {
  if (a.metric === 'spend') {
    let toTake = back.amount;
    const out: Tally[] = [];
    for (const t of left) {
      const take = t.value < toTake ? t.value : toTake;
      if (take > 0n) out.push({ ...t, value: -take });
      toTake -= take;
    }
    return out;
  }
  const gone = (t: Tally) => back.whole || (a.metric === 'distinctSkus' && back.skus.has(t.key)) || (a.metric === 'distinctCategories' && back.categories.has(t.key));
  return left.filter((t) => t.value > 0n && gone(t)).map((t) => ({ ...t, value: -t.value }));
}

/** The metric of one period's tallies: a sum, or the number of distinct keys still held. */
export function metricOf(a: AchievementDefinition, tallies: readonly Tally[]): bigint {
  if (a.metric === 'distinctSkus' || a.metric === 'distinctCategories') return BigInt(tallies.filter((t) => t.value > 0n).length);
  return tallies.reduce((s, t) => s + t.value, 0n);
}

/** Unlocks a counter's metric has earned in its period: one, or for a repeatable one each full target. */
export function cyclesEarned(a: AchievementDefinition, metric: bigint): number {
  if (metric < a.target) return 0;
  return a.repeatable ? Number(metric / a.target) : 1;
}

/** The run of consecutive periods with an event that contains `period` (length 0 when it has none). */
export function runThrough(active: ReadonlySet<number>, period: number): { start: number; length: number } {
  if (!active.has(period)) return { start: period, length: 0 };
  let start = period;
  let end = period;
  while (active.has(start - 1)) start--;
  while (active.has(end + 1)) end++;
  return { start, length: end - start + 1 };
}

/** Whether some run of K consecutive active periods lies within [from, to]. */
export function hasRun(active: ReadonlySet<number>, k: number, from: number, to: number): boolean {
  let run = 0;
  for (let p = from; p <= to; p++) {
    run = active.has(p) ? run + 1 : 0;
    if (run >= k) return true;
  }
  return false;
}

/** A streak as the member sees it now: the run ending this period, or ending last period (still alive until this one ends). */
export function currentRun(active: ReadonlySet<number>, now: number): number {
  const end = active.has(now) ? now : active.has(now - 1) ? now - 1 : null;
  if (end === null) return 0;
  let length = 0;
  while (active.has(end - length)) length++;
  return length;
}

/**
 * A repeatable streak's completed runs not held yet. Each held unlock covers the K periods from
 * its own, whatever a return did to them since; the active periods outside them complete a run
 * every K in a row, counted from the first period of each stretch: the count starts again after
 * each completion (8 weeks in a row are 2 runs of 4). Returns the first period of each new run.
 */
export function newStreakRuns(active: ReadonlySet<number>, held: readonly number[], k: number, from: number, to: number): number[] {
  const used = (p: number) => held.some((h) => p >= h && p < h + k);
  const out: number[] = [];
  let start = from;
  let run = 0;
  for (let p = from; p <= to; p++) {
    if (!active.has(p) || used(p)) {
      run = 0;
      continue;
    }
    if (run === 0) start = p;
    if (++run === k) {
      out.push(start);
      run = 0;
    }
  }
  return out;
}

/** A repeatable streak as the member sees it: the periods in a row since its last completion, ending this period or the last. */
export function runSinceCompleted(active: ReadonlySet<number>, held: readonly number[], k: number, now: number): number {
  const free = (p: number) => active.has(p) && !held.some((h) => p >= h && p < h + k);
  const end = free(now) ? now : free(now - 1) ? now - 1 : null;
  if (end === null) return 0;
  let length = 0;
  while (free(end - length)) length++;
  return length;
}

/** The highest milestone threshold a balance has reached; 0 below the first. */
export function milestoneLevel(thresholds: NonNullable<AchievementDefinition['thresholds']>, balance: bigint): bigint {
  if (balance <= 0n) return 0n;
  if (thresholds.every !== null) return (balance / thresholds.every) * thresholds.every;
  let level = 0n;
  for (const t of thresholds.list!) if (t <= balance) level = t;
  return level;
}

/** The next threshold above a balance, or null past the last one. */
export function nextThreshold(thresholds: NonNullable<AchievementDefinition['thresholds']>, balance: bigint): bigint | null {
  if (thresholds.every !== null) return (balance < 0n ? 0n : balance / thresholds.every + 1n) * thresholds.every;
  return thresholds.list!.find((t) => t > balance) ?? null;
}

/**
 * The threshold a new balance tells, if any: the highest one reached when it is above the level
 * last seen. Falling back lowers the level without telling; reaching it again tells it again; a jump
 * over several thresholds tells only the highest.
 */
export function milestoneCrossing(thresholds: NonNullable<AchievementDefinition['thresholds']>, lastLevel: bigint, balance: bigint): { level: bigint; told: bigint | null } {
  const level = milestoneLevel(thresholds, balance);
  return { level, told: level > lastLevel ? level : null };
}

export type HistoryEvent =
  | { kind: 'purchase' | 'action'; eventId: string; event: CountedEvent; lines: readonly BoughtLine[] }
  /** lines: the units this return brought back, per sku (null: a refund by amount) */
  | { kind: 'return'; purchaseEventId: string; refundAmount: bigint; lines: readonly { sku: string; quantity: bigint }[] | null };

/**
 * The tallies an achievement's history adds up to, events in the order they were recorded: what
 * the event path keeps, recomputed (the backfill job, and the property the tests hold it to).
 */
export function tallyHistory(a: AchievementDefinition, history: readonly (HistoryEvent & { eventId: string })[], timeZone: string,
  totals: ReadonlyMap<string, bigint>, contributed: (eventId: string, purchaseEventId: string, t: Tally) => void = () => {}): Map<string, Tally> {
  const tallies = new Map<string, Tally>();
  const left = new Map<string, Tally[]>();
  const refunded = new Map<string, bigint>();
  const bought = new Map<string, readonly BoughtLine[]>();
  const unitsBack = new Map<string, Map<string, bigint>>();
  const add = (t: Tally) => {
    const k = `${t.period}|${t.key}`;
    const was = tallies.get(k);
    tallies.set(k, { ...t, value: (was?.value ?? 0n) + t.value });
  };
  for (const h of history) {
    if (h.kind !== 'return') {
      const c = contributionsOf(a, h.event, timeZone);
      left.set(h.eventId, c);
      bought.set(h.eventId, h.lines);
      c.forEach(add);
      for (const t of c) contributed(h.eventId, h.eventId, t);
      continue;
    }
    const mine = left.get(h.purchaseEventId);
    if (!mine) continue;
    const sum = (refunded.get(h.purchaseEventId) ?? 0n) + h.refundAmount;
    refunded.set(h.purchaseEventId, sum);
    const units = unitsBack.get(h.purchaseEventId) ?? new Map<string, bigint>();
    for (const l of h.lines ?? []) units.set(l.sku, (units.get(l.sku) ?? 0n) + l.quantity);
    unitsBack.set(h.purchaseEventId, units);
    const total = totals.get(h.purchaseEventId) ?? 0n;
    const back = takenBack(a, mine, returnedOf(bought.get(h.purchaseEventId) ?? [], units, { amount: h.refundAmount, total, paidLeft: total - sum }));
    back.forEach(add);
    for (const t of back) contributed(h.eventId, h.purchaseEventId, t);
    left.set(h.purchaseEventId, mine.map((t) => ({ ...t, value: t.value + (back.find((b) => b.period === t.period && b.key === t.key)?.value ?? 0n) })));
  }
  return tallies;
}
