// Reporting periods on the tenant's calendar: a month (2027-03), a quarter (2027-Q1) or a year
// (2027), from local midnight of its first day to local midnight of the next period's, half-open.
import { DateTime } from 'luxon';
import { invalid } from '../errors.js';

export type PeriodKind = 'month' | 'quarter' | 'year';

export interface Period {
  label: string;
  kind: PeriodKind;
  start: Date;
  end: Date;
  /** the months it is made of, YYYY-MM */
  months: string[];
}

const FORMAT = /^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$/;

export function parsePeriod(label: unknown, timeZone: string, field = 'period'): Period {
  const m = typeof label === 'string' ? FORMAT.exec(label) : null;
  if (!m) throw invalid(field, `${field} must be a month (2027-03), a quarter (2027-Q1) or a year (2027)`);
  const year = Number(m[1]);
  if (year < 1970 || year > 9999) throw invalid(field, `${field} must be a year from 1970`);
  const [kind, firstMonth, count]: [PeriodKind, number, number] = m[2] ? ['month', Number(m[2]), 1]
    : m[3] ? ['quarter', (Number(m[3]) - 1) * 3 + 1, 3] : ['year', 1, 12];
  const first = DateTime.fromObject({ year, month: firstMonth, day: 1 }, { zone: timeZone });
  const months = Array.from({ length: count }, (_, i) => first.plus({ months: i }).toFormat('yyyy-MM'));
  return { label: label as string, kind, start: first.toJSDate(), end: first.plus({ months: count }).toJSDate(), months };
}

/** The month holding an instant, in the tenant's zone. */
export function monthOf(at: Date, timeZone: string): Period {
  return parsePeriod(DateTime.fromJSDate(at, { zone: timeZone }).toFormat('yyyy-MM'), timeZone);
}

/** The month before a YYYY-MM month. */
export const previousMonth = (month: string): string =>
  DateTime.fromFormat(month, 'yyyy-MM', { zone: 'UTC' }).minus({ months: 1 }).toFormat('yyyy-MM');
