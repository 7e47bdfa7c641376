// Small input checks shared by the services; each names the field it checks.
import { invalid } from '../core/errors.js';
import { isUuid } from '../core/ids.js';

export function requireId(value: unknown, field: string, what: string): string {
  if (typeof value !== 'string') throw invalid(field, `${field} must be an id`);
  if (!isUuid(value)) throw invalid(field, `${field} must be a UUID (no ${what} has this id)`);
  return value.toLowerCase();
}

export function optionalText(value: unknown, field: string, max = 500): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > max) throw invalid(field, `${field} must be text of at most ${max} characters`);
  return value;
}

export function requireText(value: unknown, field: string, max = 500): string {
  const text = optionalText(value, field, max);
  if (text === null || text.trim() === '') throw invalid(field, `${field} is required`);
  return text;
}

/** A date-time from 1970 to 9999, as events take them: outside, the database cannot store it (year 0), or a date derived from it (a year past 9999). */
export function requireDate(value: unknown, field: string): Date {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw invalid(field, `${field} must be a date-time`);
  if (date.getUTCFullYear() < 1970 || date.getUTCFullYear() > 9999) throw invalid(field, `${field} must be between 1970 and 9999`);
  return date;
}
