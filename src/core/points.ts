// Points are bigint from the API edge to SQL: no floating point can touch them.
import { invalid } from './errors.js';

/** Largest amount one operation may move; keeps every sum far inside bigint and JSON-safe integers. */
export const MAX_POINTS = 1_000_000_000_000n;

export function positivePoints(value: bigint | number | string, field: string): bigint {
  let points: bigint;
  if (typeof value === 'bigint') points = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) points = BigInt(value);
  else if (typeof value === 'string' && /^-?\d{1,16}$/.test(value)) points = BigInt(value);
  else throw invalid(field, `${field} must be an integer number of points`);
  if (points <= 0n) throw invalid(field, `${field} must be greater than zero`);
  if (points > MAX_POINTS) throw invalid(field, `${field} must be at most ${MAX_POINTS}`);
  return points;
}

export const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);
export const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);
export const sumBig = (values: Iterable<bigint>): bigint => {
  let total = 0n;
  for (const v of values) total += v;
  return total;
};
