// A program's base earning rate and its fixed points per custom action: what events earn until
// earning rules (SPEC §4) arrive. Integers only; the one rounding mode is floor (partial units earn nothing).
import { invalid } from '../errors.js';

/** `points` points for every `perMinor` minor units paid: { points: 1n, perMinor: 100n } is 1 point per euro. */
export interface BaseRate {
  points: bigint;
  perMinor: bigint;
}

export interface EarningSettings {
  basePoints: bigint;
  basePerMinor: bigint;
  /** custom action type → points it earns; an action not listed earns 0 (and is still recorded) */
  customActionPoints: Record<string, bigint>;
}

export interface EarningInput {
  basePoints?: bigint | number;
  basePerMinor?: bigint | number;
  customActionPoints?: Record<string, bigint | number>;
}

export const MAX_BASE_POINTS = 1_000_000n;
export const MAX_BASE_PER_MINOR = 1_000_000_000n;
export const MAX_ACTION_POINTS = 1_000_000_000n;
export const MAX_CUSTOM_ACTIONS = 100;

/** Event types: purchase, return, and any action name a brand defines (review, survey_completed…). */
export const EVENT_TYPE = /^[a-z][a-z0-9_]{0,63}$/;
export const BUILT_IN_TYPES: ReadonlySet<string> = new Set(['purchase', 'return']);

export const DEFAULT_EARNING: EarningSettings = { basePoints: 1n, basePerMinor: 100n, customActionPoints: {} };

/** floor(amount × points / perMinor); nothing for a non-positive amount. */
export function pointsFor(amount: bigint, rate: BaseRate): bigint {
  if (amount <= 0n) return 0n;
  return (amount * rate.points) / rate.perMinor;
}

export function integerIn(value: unknown, min: bigint, max: bigint, field: string): bigint {
  const n = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : null;
  if (n === null || n < min || n > max) throw invalid(field, `${field} must be an integer from ${min} to ${max}`);
  return n;
}

export function validateEarning(input: EarningInput): EarningSettings {
  const basePoints = input.basePoints === undefined ? DEFAULT_EARNING.basePoints
    : integerIn(input.basePoints, 0n, MAX_BASE_POINTS, 'basePoints');
  const basePerMinor = input.basePerMinor === undefined ? DEFAULT_EARNING.basePerMinor
    : integerIn(input.basePerMinor, 1n, MAX_BASE_PER_MINOR, 'basePerMinor');
  const raw = input.customActionPoints ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid('customActionPoints', 'customActionPoints must be an object of action name → points');
  }
  const names = Object.keys(raw);
  if (names.length > MAX_CUSTOM_ACTIONS) throw invalid('customActionPoints', `at most ${MAX_CUSTOM_ACTIONS} custom actions`);
  const customActionPoints: Record<string, bigint> = {};
  for (const name of names.sort()) {
    const field = `customActionPoints.${name}`;
    if (!EVENT_TYPE.test(name)) throw invalid(field, 'an action name is lower-case letters, digits and _ (at most 64), starting with a letter');
    if (BUILT_IN_TYPES.has(name)) throw invalid(field, `${name} is not a custom action: it earns by the base rate`);
    customActionPoints[name] = integerIn(raw[name], 0n, MAX_ACTION_POINTS, field);
  }
  return { basePoints, basePerMinor, customActionPoints };
}
