// Event types, and the integer check every event and rule field uses.
import { invalid } from '../errors.js';

/** Event types: purchase, return, and any action name a brand defines (review, survey_completed…). */
export const EVENT_TYPE = /^[a-z][a-z0-9_]{0,63}$/;

export function integerIn(value: unknown, min: bigint, max: bigint, field: string): bigint {
  const n = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : null;
  if (n === null || n < min || n > max) throw invalid(field, `${field} must be an integer from ${min} to ${max}`);
  return n;
}

