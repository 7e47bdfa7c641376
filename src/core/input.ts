// Reading a client's JSON: the small checks every validator shares. Each problem names its field.
import { DateTime } from 'luxon';
import { invalid } from './errors.js';
import { storableText } from './events/event.js';

export type Input = Record<string, unknown>;

export const isObject = (v: unknown): v is Input => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Refuses fields the object does not have: a typo is an error, not a silently ignored field. */
export function only(input: Input, allowed: readonly string[], prefix: string): void {
  for (const k of Object.keys(input)) if (!allowed.includes(k)) throw invalid(`${prefix}${k}`, `${prefix}${k} is not a field of this object`);
}

export function text(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) throw invalid(field, `${field} must be text of 1 to ${max} characters`);
  return storableText(value, field);
}

export const optional = <T>(value: unknown, read: (v: unknown) => T): T | null => (value === undefined || value === null ? null : read(value));

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A date-time with its offset: without one it would mean the server's zone; 30 February is refused, not rolled over. */
export function dateTime(value: unknown, field: string): Date | null {
  if (value === undefined || value === null) return null;
  const parsed = typeof value === 'string' && DATE_TIME.test(value) ? DateTime.fromISO(value, { setZone: true }) : null;
  if (!parsed?.isValid) throw invalid(field, `${field} must be a date-time with its offset, such as 2026-12-01T00:00:00+01:00`);
  return parsed.toJSDate();
}

const MAX_LIST = 100;

/** A non-empty list of names (channels, locations); absent: null, meaning any. */
export function names(value: unknown, field: string): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LIST) throw invalid(field, `${field} must be a list of 1 to ${MAX_LIST} names`);
  return value.map((v, i) => text(v, `${field}[${i}]`, 200));
}

/** [validFrom, validTo), each optional; validTo after validFrom. */
export function validityWindow(input: Input, prefix: string): { validFrom: Date | null; validTo: Date | null } {
  const validFrom = dateTime(input.validFrom, `${prefix}validFrom`);
  const validTo = dateTime(input.validTo, `${prefix}validTo`);
  if (validFrom && validTo && validTo <= validFrom) throw invalid(`${prefix}validTo`, `${prefix}validTo must be after ${prefix}validFrom`);
  return { validFrom, validTo };
}
