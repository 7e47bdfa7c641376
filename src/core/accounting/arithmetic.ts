// Integer arithmetic for accounting figures: money in minor units and points are bigint, rates are
// basis points (1/10,000), and every division says how it rounds. No floating point.
import { invalid } from '../errors.js';

export const BPS = 10_000n;
/** Fractions of a minor unit are carried in millionths. */
export const MICRO = 1_000_000n;

/** floor(n / d) for any sign of n; d > 0. */
export function divFloor(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d !== 0n && n < 0n ? q - 1n : q;
}

/** n / d rounded to the nearest integer, halves up (towards +∞); d > 0. */
export const divRound = (n: bigint, d: bigint): bigint => divFloor(2n * n + d, 2n * d);

const RATE = /^(0(\.\d{1,4})?|1(\.0{1,4})?)$/;

/** A rate written as a decimal ("0.95", "1") in basis points; more than 4 decimals is refused, not rounded. */
export function parseRate(value: unknown, field: string): number {
  if (typeof value !== 'string' || !RATE.test(value)) throw invalid(field, `${field} must be a decimal string from 0.0001 to 1 with at most 4 decimals, such as "0.95"`);
  const [whole, frac = ''] = value.split('.');
  const bps = Number(whole) * 10_000 + Number(frac.padEnd(4, '0'));
  if (bps < 1) throw invalid(field, `${field} must be above 0: a point nobody is expected to redeem has no selling price`);
  return bps;
}

/** Basis points as a decimal string: 9500 → "0.95". */
export function formatRate(bps: number | bigint): string {
  return ratio(BigInt(bps), BPS, 4);
}

/** n / d as a decimal string with `digits` decimals, rounded half up; "0" when d is 0. Trailing zeros dropped. */
export function ratio(n: bigint, d: bigint, digits = 4): string {
  if (d === 0n) return '0';
  const scale = 10n ** BigInt(digits);
  const negative = (n < 0n) !== (d < 0n) && n !== 0n;
  const v = divRound((negative ? -1n : 1n) * (n < 0n ? -n : n) * scale, d < 0n ? -d : d);
  const abs = v < 0n ? -v : v;
  const whole = abs / scale;
  const frac = (abs % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return `${v < 0n ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

export const minB = (a: bigint, b: bigint): bigint => (a < b ? a : b);
export const maxB = (a: bigint, b: bigint): bigint => (a > b ? a : b);
