// An achievement (SPEC §8): what a member must do — a counter, a challenge (a counter inside a
// fixed window), a streak of consecutive days, weeks or months, or a points-balance milestone —
// which events count (a CEL filter), and what unlocking it gives. Every field is checked here
// before a definition is saved; a bad one is refused naming it.
import { invalid } from '../errors.js';
import { MAX_MONEY } from '../events/event.js';
import { EVENT_TYPE, integerIn } from '../events/rate.js';
import { dateTime, isObject, only, text } from '../input.js';
import { MAX_POINTS } from '../points.js';
import { checkCondition, readsStats } from '../rules/conditions.js';

export type AchievementKind = 'counter' | 'challenge' | 'streak' | 'milestone';
export const KINDS: readonly AchievementKind[] = ['counter', 'challenge', 'streak', 'milestone'];

/** What a counter or challenge counts: events, money spent (minor units), or distinct skus / categories bought. */
export type Metric = 'count' | 'spend' | 'distinctSkus' | 'distinctCategories';
export const METRICS: readonly Metric[] = ['count', 'spend', 'distinctSkus', 'distinctCategories'];

export type StreakUnit = 'day' | 'week' | 'month';
export const STREAK_UNITS: readonly StreakUnit[] = ['day', 'week', 'month'];
export type ResetPeriod = 'day' | 'week' | 'month' | 'year';
export const RESET_PERIODS: readonly ResetPeriod[] = ['day', 'week', 'month', 'year'];

export type AchievementReward =
  | { type: 'badge' }
  | { type: 'points'; points: bigint }
  /** an instance of a catalog reward, issued free */
  | { type: 'reward'; rewardId: string };

export interface AchievementDefinition {
  /** the program's own code for it */
  code: string;
  name: string;
  description: string | null;
  imageUrl: string | null;
  kind: AchievementKind;
  /** counter, challenge: what is counted (streaks count events) */
  metric: Metric;
  /** the events that count: purchase (the default) or a custom action's type */
  eventType: string;
  /** counter, challenge: how much of the metric; streak: how many consecutive periods */
  target: bigint;
  /** streak: days, weeks (Monday to Sunday) or months, in the tenant's time zone */
  streakUnit: StreakUnit | null;
  /** challenge: events that occurred in [from, to) count; `to` is the deadline */
  window: { from: Date; to: Date } | null;
  /** challenge: only members this CEL condition holds for (over `member`), as the event sees them */
  segment: string | null;
  /** which events count: CEL over the event's facts (event, order, member, time) */
  filter: string | null;
  /** milestone: the points balances that are told: every multiple of `every`, or these thresholds */
  thresholds: { every: bigint | null; list: bigint[] | null } | null;
  /** unlocked again each time the metric reaches another multiple of the target (a stamp card), or a streak completes another run of target periods */
  repeatable: boolean;
  /** repeatable counters: the count starts again each period, in the tenant's time zone */
  resetEvery: ResetPeriod | null;
  /** not shown to the member until unlocked */
  hidden: boolean;
  /** shown to the member as a card of `target` stamps */
  stampCard: boolean;
  /** a return that takes the progress below an unlock takes the unlock (and its reward) back too */
  revokeOnReturn: boolean;
  reward: AchievementReward;
}

export interface Achievement extends AchievementDefinition {
  achievementId: string;
  programId: string;
  version: number;
  enabled: boolean;
}

export const ACHIEVEMENT_CODE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const ACHIEVEMENT_FIELDS = [
  'code', 'name', 'description', 'imageUrl', 'kind', 'metric', 'eventType', 'target', 'streakUnit', 'window', 'segment', 'filter',
  'thresholds', 'repeatable', 'resetEvery', 'hidden', 'stampCard', 'revokeOnReturn', 'reward',
] as const;
const MAX_TARGET = 1_000_000n;
const MAX_THRESHOLDS = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (!allowed.includes(value as T)) throw invalid(field, `${field} must be one of ${allowed.join(', ')}`);
  return value as T;
}

function bool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(field, `${field} must be true or false`);
  return value;
}

function condition(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  const source = text(value, field, 4000);
  checkCondition(source, field);
  // Progress must be recomputable from the events alone: the member's stats at the time are not stored with every event.
  if (readsStats(source)) throw invalid(field, `${field} may not read member.stats: count with the achievement's own target instead`);
  return source;
}

function validateReward(value: unknown): AchievementReward {
  if (value === undefined || value === null) return { type: 'badge' };
  if (!isObject(value)) throw invalid('reward', 'reward must be an object with a type: badge, points or reward');
  const type = oneOf(value.type, ['badge', 'points', 'reward'] as const, 'reward.type');
  if (type === 'badge') {
    only(value, ['type'], 'reward.');
    return { type };
  }
  if (type === 'points') {
    only(value, ['type', 'points'], 'reward.');
    return { type, points: integerIn(value.points, 1n, MAX_POINTS, 'reward.points') };
  }
  only(value, ['type', 'rewardId'], 'reward.');
  if (typeof value.rewardId !== 'string' || !UUID.test(value.rewardId)) throw invalid('reward.rewardId', 'reward.rewardId must be the id of a reward of the catalog');
  return { type, rewardId: value.rewardId.toLowerCase() };
}

function validateWindow(value: unknown): { from: Date; to: Date } {
  if (!isObject(value)) throw invalid('window', 'a challenge needs a window {from, to}: the events that occur in it count, to is the deadline');
  only(value, ['from', 'to'], 'window.');
  const from = dateTime(value.from, 'window.from');
  const to = dateTime(value.to, 'window.to');
  if (!from) throw invalid('window.from', 'window.from is required');
  if (!to) throw invalid('window.to', 'window.to (the deadline) is required');
  if (to <= from) throw invalid('window.to', 'window.to must be after window.from');
  return { from, to };
}

function validateThresholds(value: unknown): { every: bigint | null; list: bigint[] | null } {
  if (!isObject(value)) throw invalid('thresholds', 'a milestone needs thresholds: {every: 50} or {list: [100, 500, 1000]}');
  only(value, ['every', 'list'], 'thresholds.');
  if ((value.every === undefined || value.every === null) === (value.list === undefined || value.list === null)) {
    throw invalid('thresholds', 'thresholds needs every or list, not both');
  }
  if (value.every !== undefined && value.every !== null) return { every: integerIn(value.every, 1n, MAX_POINTS, 'thresholds.every'), list: null };
  if (!Array.isArray(value.list) || value.list.length === 0 || value.list.length > MAX_THRESHOLDS) {
    throw invalid('thresholds.list', `thresholds.list must be a list of 1 to ${MAX_THRESHOLDS} balances`);
  }
  const list = value.list.map((v, i) => integerIn(v, 1n, MAX_POINTS, `thresholds.list[${i}]`));
  for (let i = 1; i < list.length; i++) if (list[i]! <= list[i - 1]!) throw invalid(`thresholds.list[${i}]`, 'thresholds.list must be increasing');
  return { every: null, list };
}

/** Checks every field of a definition; the first problem is refused, naming its field. */
export function validateAchievement(input: unknown): AchievementDefinition {
  if (!isObject(input)) throw invalid('code', 'an achievement is an object');
  only(input, [...ACHIEVEMENT_FIELDS, 'enabled'], '');
  const code = text(input.code, 'code', 64);
  if (!ACHIEVEMENT_CODE.test(code)) throw invalid('code', 'code is lower-case letters, digits, - and _ (up to 64)');
  const kind = oneOf(input.kind, KINDS, 'kind');
  const eventType = input.eventType === undefined || input.eventType === null ? 'purchase' : text(input.eventType, 'eventType', 64);
  if (!EVENT_TYPE.test(eventType)) throw invalid('eventType', 'eventType is purchase or a custom action type (lower case, digits, _)');
  const metric = input.metric === undefined || input.metric === null ? 'count' : oneOf(input.metric, METRICS, 'metric');
  if (metric !== 'count' && eventType !== 'purchase') throw invalid('metric', `${metric} counts purchases: eventType must be purchase`);
  const repeatable = bool(input.repeatable, 'repeatable', false);
  const definition: AchievementDefinition = {
    code, name: text(input.name, 'name', 200),
    description: input.description === undefined || input.description === null ? null : text(input.description, 'description', 2000),
    imageUrl: input.imageUrl === undefined || input.imageUrl === null ? null : text(input.imageUrl, 'imageUrl', 2000),
    kind, metric: kind === 'counter' || kind === 'challenge' ? metric : 'count', eventType,
    target: 0n, streakUnit: null, window: null, segment: null, filter: condition(input.filter, 'filter'), thresholds: null,
    repeatable, resetEvery: null, hidden: bool(input.hidden, 'hidden', false), stampCard: bool(input.stampCard, 'stampCard', false),
    revokeOnReturn: bool(input.revokeOnReturn, 'revokeOnReturn', false), reward: validateReward(input.reward),
  };
  const refuse = (field: string, why: string) => {
    if (input[field] !== undefined && input[field] !== null) throw invalid(field, `${field} ${why}`);
  };
  if (kind === 'milestone') {
    for (const f of ['target', 'streakUnit', 'window', 'segment', 'filter', 'resetEvery', 'metric', 'eventType']) refuse(f, 'is not a setting of a milestone');
    if (definition.revokeOnReturn) throw invalid('revokeOnReturn', 'a milestone keeps what it gave: a fall below it is not a revocation');
    if (input.repeatable !== undefined) throw invalid('repeatable', 'a milestone is told again each time the balance reaches it again');
    if (definition.stampCard) throw invalid('stampCard', 'only a repeatable counter is a stamp card');
    return { ...definition, thresholds: validateThresholds(input.thresholds), repeatable: true };
  }
  refuse('thresholds', 'is a setting of milestones only');
  const target = integerIn(input.target, 1n, metric === 'spend' ? MAX_MONEY : MAX_TARGET, 'target');
  if (kind === 'streak') {
    refuse('window', 'is a setting of challenges');
    refuse('resetEvery', 'does not apply to a streak');
    if (definition.stampCard) throw invalid('stampCard', 'only a repeatable counter is a stamp card');
    if (input.metric !== undefined && input.metric !== null && input.metric !== 'count') throw invalid('metric', 'a streak counts periods with at least one event');
    return { ...definition, target, streakUnit: oneOf(input.streakUnit, STREAK_UNITS, 'streakUnit'), segment: condition(input.segment, 'segment') };
  }
  refuse('streakUnit', 'is a setting of streaks');
  const resetEvery = input.resetEvery === undefined || input.resetEvery === null ? null : oneOf(input.resetEvery, RESET_PERIODS, 'resetEvery');
  if (resetEvery !== null && !repeatable) throw invalid('resetEvery', 'only a repeatable achievement starts again each period');
  if (definition.stampCard && (!repeatable || kind !== 'counter' || metric !== 'count')) throw invalid('stampCard', 'a stamp card is a repeatable counter of events');
  if (kind === 'counter') {
    refuse('window', 'is a setting of challenges');
    refuse('segment', 'is a setting of challenges (a counter filters events with filter)');
    return { ...definition, target, resetEvery };
  }
  if (resetEvery !== null) throw invalid('resetEvery', 'a challenge counts inside its window');
  return { ...definition, target, window: validateWindow(input.window), segment: condition(input.segment, 'segment') };
}

/** A definition as JSON for its version row and the API (bigint as numbers, dates as ISO text). */
export function definitionJson(d: AchievementDefinition): Record<string, unknown> {
  return JSON.parse(JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) as Record<string, unknown>;
}

/** A stored definition read back. */
export function definitionOf(json: Record<string, unknown>): AchievementDefinition {
  const j = json as unknown as AchievementDefinition & { target: number; window: { from: string; to: string } | null;
    thresholds: { every: number | null; list: number[] | null } | null; reward: { type: string; points?: number; rewardId?: string } };
  const reward: AchievementReward = j.reward.type === 'points' ? { type: 'points', points: BigInt(j.reward.points!) }
    : j.reward.type === 'reward' ? { type: 'reward', rewardId: j.reward.rewardId! } : { type: 'badge' };
  return {
    ...j, target: BigInt(j.target), reward,
    window: j.window ? { from: new Date(j.window.from), to: new Date(j.window.to) } : null,
    thresholds: j.thresholds ? { every: j.thresholds.every === null ? null : BigInt(j.thresholds.every), list: j.thresholds.list?.map(BigInt) ?? null } : null,
  };
}
