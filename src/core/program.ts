// A program's policies: what its wallets are, when earned points become available, when
// they expire, and what a claw-back does when the points are already spent.
import { DateTime } from 'luxon';
import { invalid } from './errors.js';
import { plusLocalDays } from './zone.js';

export type EnrollmentMode = 'universal' | 'opt_in';
export type NegativeBalancePolicy = 'debt' | 'write_off';
export type WalletKind = 'redeemable' | 'qualifying';

export type ExpiryPolicy =
  | { kind: 'none' }
  /** each lot expires N calendar months after it was earned */
  | { kind: 'rolling'; months: number }
  /** each lot expires at the end of month/day, `yearsAfter` years after the year it was earned */
  | { kind: 'fixed_date'; month: number; day: number; yearsAfter: number }
  /** all points expire after N months without activity */
  | { kind: 'inactivity'; months: number };

export interface WalletSpec {
  code: string;
  kind: WalletKind;
}

export interface ProgramPolicy {
  returnWindowDays: number;
  expiry: ExpiryPolicy;
  negativeBalance: NegativeBalancePolicy;
}

export interface ProgramInput extends ProgramPolicy {
  name: string;
  enrollmentMode: EnrollmentMode;
  /**
   * universal programs: an event naming an unknown member by e-mail alone enrols them (true, the
   * default), or is refused so that a mistyped address makes no member (false)
   */
  enrollByEmail?: boolean;
  wallets: WalletSpec[];
  /** days before a lot expires that its member is reminded (an outbox message); null: never */
  expiryReminderDays?: number | null;
  /** pay with points: `points` points are worth `minor` minor units; null: points are not a means of payment */
  pointValue?: PointValue | null;
  /** an unused reward instance that expires gives its points back (refund) or not (forfeit) */
  expiredRewards?: 'refund' | 'forfeit';
  /** the part of a purchase paid with points, store credit or a reward earns too (SPEC §4: by default it does not) */
  earnOnPaidWithPoints?: boolean;
}

export interface PointValue {
  points: bigint;
  minor: bigint;
}

const MAX_RATE = 1_000_000_000n;

export function validatePointValue(value: unknown): PointValue | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('pointValue', 'pointValue must be { points, minor }: so many points are worth so many minor units');
  const { points, minor, ...rest } = value as Record<string, unknown>;
  for (const k of Object.keys(rest)) throw invalid(`pointValue.${k}`, `pointValue.${k} is not a field of this object`);
  const read = (v: unknown, field: string): bigint => {
    const n = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : null;
    if (n === null || n < 1n || n > MAX_RATE) throw invalid(field, `${field} must be an integer from 1 to ${MAX_RATE}`);
    return n;
  };
  return { points: read(points, 'pointValue.points'), minor: read(minor, 'pointValue.minor') };
}

export function validateEarnOnPaidWithPoints(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw invalid('earnOnPaidWithPoints', 'earnOnPaidWithPoints must be true or false');
  return value;
}

export function validateEnrollByEmail(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value !== 'boolean') throw invalid('enrollByEmail', 'enrollByEmail must be true or false');
  return value;
}

export function validateExpiredRewards(value: unknown): 'refund' | 'forfeit' {
  if (value === undefined || value === null) return 'forfeit';
  if (value !== 'refund' && value !== 'forfeit') throw invalid('expiredRewards', 'expiredRewards must be refund or forfeit');
  return value;
}

/** The wallet an operation uses when it names none, and the one events earn points into. */
export const DEFAULT_WALLET = 'points';

export const DEFAULT_WALLETS: WalletSpec[] = [
  { code: 'points', kind: 'redeemable' },
  { code: 'status', kind: 'qualifying' },
];

const WALLET_CODE = /^[a-z][a-z0-9_]{0,31}$/;

function integerIn(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function validateExpiry(expiry: ExpiryPolicy): ExpiryPolicy {
  switch (expiry.kind) {
    case 'none':
      return { kind: 'none' };
    case 'rolling':
    case 'inactivity':
      return { kind: expiry.kind, months: integerIn(expiry.months, 1, 1200, 'expiry.months') };
    case 'fixed_date': {
      const month = integerIn(expiry.month, 1, 12, 'expiry.month');
      const day = integerIn(expiry.day, 1, 31, 'expiry.day');
      // 29 February would not exist in most years: refuse it rather than guess.
      if (!DateTime.utc(2023, month, day).isValid) throw invalid('expiry.day', `${month}/${day} is not a date in every year`);
      return { kind: 'fixed_date', month, day, yearsAfter: integerIn(expiry.yearsAfter, 0, 100, 'expiry.yearsAfter') };
    }
    default:
      throw invalid('expiry.kind', 'expiry.kind must be none, rolling, fixed_date or inactivity');
  }
}

export function validateProgram(input: ProgramInput): ProgramInput {
  if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 200) {
    throw invalid('name', 'name must be 1 to 200 characters');
  }
  if (input.enrollmentMode !== 'universal' && input.enrollmentMode !== 'opt_in') {
    throw invalid('enrollmentMode', 'enrollmentMode must be universal or opt_in');
  }
  if (input.negativeBalance !== 'debt' && input.negativeBalance !== 'write_off') {
    throw invalid('negativeBalance', 'negativeBalance must be debt or write_off');
  }
  const wallets = input.wallets;
  if (!Array.isArray(wallets) || wallets.length === 0 || wallets.length > 10) {
    throw invalid('wallets', 'a program has 1 to 10 wallets');
  }
  const codes = new Set<string>();
  wallets.forEach((w, i) => {
    if (typeof w.code !== 'string' || !WALLET_CODE.test(w.code)) {
      throw invalid(`wallets[${i}].code`, 'a wallet code is lower-case letters, digits and _ (at most 32)');
    }
    if (w.kind !== 'redeemable' && w.kind !== 'qualifying') {
      throw invalid(`wallets[${i}].kind`, 'a wallet kind is redeemable or qualifying');
    }
    if (codes.has(w.code)) throw invalid(`wallets[${i}].code`, `wallet code ${w.code} is used twice`);
    codes.add(w.code);
  });
  if (!wallets.some((w) => w.kind === 'redeemable')) throw invalid('wallets', 'a program needs a redeemable wallet');
  return {
    name: input.name.trim(),
    enrollmentMode: input.enrollmentMode,
    enrollByEmail: validateEnrollByEmail(input.enrollByEmail),
    wallets: wallets.map((w) => ({ code: w.code, kind: w.kind })),
    returnWindowDays: integerIn(input.returnWindowDays, 0, 3650, 'returnWindowDays'),
    expiry: validateExpiry(input.expiry ?? { kind: 'none' }),
    negativeBalance: input.negativeBalance,
    expiryReminderDays: input.expiryReminderDays === undefined || input.expiryReminderDays === null
      ? null : integerIn(input.expiryReminderDays, 1, 365, 'expiryReminderDays'),
    pointValue: validatePointValue(input.pointValue),
    expiredRewards: validateExpiredRewards(input.expiredRewards),
    earnOnPaidWithPoints: validateEarnOnPaidWithPoints(input.earnOnPaidWithPoints),
  };
}

export function isValidTimeZone(zone: string): boolean {
  return typeof zone === 'string' && DateTime.local().setZone(zone).isValid;
}

/** When points earned at `earnedAt` stop being pending: the return window, in calendar days of the tenant's zone. */
export function availableAt(earnedAt: Date, returnWindowDays: number, zone: string): Date {
  if (returnWindowDays === 0) return earnedAt;
  return plusLocalDays(earnedAt, returnWindowDays, zone);
}

/**
 * The instant `months` calendar months after `at` on the tenant's wall clock. A wall-clock time
 * that occurs twice (the hour repeated when DST ends) is the later of its two instants, as
 * PostgreSQL reads it: the inactivity policy computes its deadline in SQL (db/ledger.ts
 * inactiveSince), and rolling expiry must agree with it to the millisecond. (Luxon alone keeps
 * the earlier instant when the starting offset was the summer one.) A time that does not occur
 * (the hour skipped in spring) moves forward by the gap, in both.
 */
export function monthsLater(at: Date, months: number, zone: string): Date {
  const t = DateTime.fromJSDate(at, { zone }).plus({ months });
  // After a fall-back within the next day the offset is smaller; the same wall-clock time then
  // occurs again that much later, if `t` lies in the repeated span.
  const after = t.plus({ hours: 25 }).offset;
  if (after >= t.offset) return t.toJSDate();
  const again = t.plus({ minutes: t.offset - after });
  return again.offset === after ? again.toJSDate() : t.toJSDate();
}

/**
 * When a lot earned at `earnedAt` expires under the policy, computed on the tenant's calendar.
 * Null when it does not expire by date (no expiry, or inactivity, which the expiry run decides).
 */
export function lotExpiresAt(expiry: ExpiryPolicy, earnedAt: Date, zone: string): Date | null {
  switch (expiry.kind) {
    case 'rolling':
      return monthsLater(earnedAt, expiry.months, zone);
    case 'fixed_date':
      // "End of 31 December" is the first instant of 1 January in the tenant's zone.
      return DateTime.fromObject(
        { year: DateTime.fromJSDate(earnedAt, { zone }).year + expiry.yearsAfter, month: expiry.month, day: expiry.day },
        { zone },
      ).plus({ days: 1 }).toJSDate();
    case 'none':
    case 'inactivity':
      return null;
  }
}
