// Integer division with an explicit rounding mode: the one place points are rounded.
import { invalid } from '../errors.js';

export type RoundingMode = 'down' | 'half_up' | 'up';
export const ROUNDING_MODES: readonly RoundingMode[] = ['down', 'half_up', 'up'];

/** numerator / denominator for a non-negative numerator and a positive denominator, rounded as asked. */
export function divide(numerator: bigint, denominator: bigint, mode: RoundingMode): bigint {
  if (numerator <= 0n) return 0n;
  const q = numerator / denominator;
  const r = numerator % denominator;
  if (r === 0n) return q;
  if (mode === 'up') return q + 1n;
  if (mode === 'half_up') return r * 2n >= denominator ? q + 1n : q;
  return q;
}

/** A non-negative rational such as a multiplier (2, 1.5) or a percentage (10, 2.25), kept exact. */
export interface Ratio {
  numerator: bigint;
  denominator: bigint;
}

const DECIMAL = /^(\d{1,9})(?:\.(\d{1,4}))?$/;

/** Reads 2, 1.5, "1.5" (at most 4 decimals) as an exact ratio; floats never reach arithmetic. */
export function parseDecimal(value: unknown, field: string, min: Ratio, max: Ratio): Ratio {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value : '';
  const m = DECIMAL.exec(text);
  if (!m) throw invalid(field, `${field} must be a decimal number with at most 4 decimals, such as 2 or "1.5"`);
  const decimals = m[2] ?? '';
  const ratio = { numerator: BigInt(m[1]! + decimals), denominator: 10n ** BigInt(decimals.length) };
  if (compare(ratio, min) < 0 || compare(ratio, max) > 0) throw invalid(field, `${field} must be from ${show(min)} to ${show(max)}`);
  return ratio;
}

const compare = (a: Ratio, b: Ratio): number => {
  const d = a.numerator * b.denominator - b.numerator * a.denominator;
  return d < 0n ? -1 : d > 0n ? 1 : 0;
};

export function show(r: Ratio): string {
  const whole = r.numerator / r.denominator;
  const rest = r.numerator % r.denominator;
  if (rest === 0n) return String(whole);
  const digits = String(r.denominator).length - 1;
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}
