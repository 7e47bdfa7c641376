// Tier windows and review dates, on the tenant's calendar: the year, the month and the day of an
// instant are those of the tenant's zone, never UTC's. Time is an input; nothing here reads a clock.
//
// Every window is half-open, [start, end), and holds the instant it was asked for, so a caller
// sums activity with `occurredAt >= start and occurredAt < end` and the event being processed is
// already inside. Reviews fall at local midnight, so a daily review job finds them whatever hour it runs.
import { DateTime } from 'luxon';
import { invalid } from '../errors.js';
import type { TierLadder, TierWindow } from './ladder.js';

export interface TierPeriod {
  /** first instant of the window; null: since the beginning */
  start: Date | null;
  /** first instant after the window; null: open-ended */
  end: Date | null;
}

/** Rolling windows under period-end reviews: a member's tier is reviewed every this many months from the day they reached it. */
export const ROLLING_REVIEW_MONTHS = 12;

/** `at` in the tenant's zone; an unknown zone is refused rather than read as UTC. */
export function local(at: Date, timeZone: string): DateTime {
  const t = DateTime.fromJSDate(at, { zone: timeZone });
  if (!t.isValid) throw invalid('timeZone', `${timeZone} is not an IANA time zone (or the date is invalid)`);
  return t;
}

/**
 * The window holding `at`:
 * - calendar_year: 1 January 00:00 to the next 1 January 00:00 in the tenant's zone, so 23:30 on
 *   31 December counts for that year wherever UTC has already moved on;
 * - rolling_months: the last N months of whole local days, the day of `at` included: on 15 March
 *   2027 (any hour) with 12 months, from 16 March 2026 00:00 to 16 March 2027 00:00. Whole days keep
 *   the window on the calendar members read ("since 16 March"); where N months back is a day the month
 *   lacks (31 March − 1 month) luxon takes the month's last day, so the window is a few days longer,
 *   never shorter;
 * - lifetime: open at both ends.
 * `anchor` (the member's enrolment) is where a lifetime window starts, and no window starts before it.
 */
export function windowAt(window: TierWindow, at: Date, timeZone: string, anchor?: Date): TierPeriod {
  const t = local(at, timeZone);
  let start: Date | null;
  let end: Date | null;
  switch (window.kind) {
    case 'calendar_year': {
      const year = t.startOf('year');
      start = year.toJSDate();
      end = year.plus({ years: 1 }).toJSDate();
      break;
    }
    case 'rolling_months': {
      // Months are counted back from the end (tomorrow 00:00): from the day after, 31 May − 3 months
      // would clamp to 28 February and lose the first days of March.
      const tomorrow = t.startOf('day').plus({ days: 1 });
      start = tomorrow.minus({ months: window.months }).toJSDate();
      end = tomorrow.toJSDate();
      break;
    }
    case 'lifetime':
      start = null;
      end = null;
      break;
  }
  if (anchor && (start === null || anchor > start)) start = anchor;
  return { start, end };
}

/**
 * The window a review at `reviewAt` judges: the one holding the last instant before it. For a review
 * at period end that is the year that just closed; on an anniversary with a rolling window, the N
 * months before it; at the end of a grace, the window the member has been trying to requalify in.
 */
export function reviewWindow(window: TierWindow, reviewAt: Date, timeZone: string, anchor?: Date): TierPeriod {
  return windowAt(window, new Date(reviewAt.getTime() - 1), timeZone, anchor);
}

/** Whether `at` is inside the window: start ≤ at < end. */
export function inWindow(period: TierPeriod, at: Date): boolean {
  return (period.start === null || at >= period.start) && (period.end === null || at < period.end);
}

/** The first of from + k × step (k ≥ 1) strictly after `now`, counted from `from` each time so 29 February comes back in leap years. */
function firstAfter(from: DateTime, stepMonths: number, now: Date): Date {
  const elapsed = (now.getTime() - from.toMillis()) / (30.4 * 86_400_000 * stepMonths);
  // Start a step or two short of the estimate and walk forward: exact, and a handful of iterations.
  let k = Math.max(1, Math.floor(elapsed) - 1);
  let next = from.plus({ months: k * stepMonths });
  while (next.toJSDate() <= now) next = from.plus({ months: ++k * stepMonths });
  return next.toJSDate();
}

/**
 * When the member's tier is next reviewed, the first review strictly after `now` (a job that has
 * just run the review due at `now` asks for the next one):
 * - period_end with a calendar-year or lifetime window: the next 1 January 00:00 in the tenant's
 *   zone (a lifetime window has no period of its own; a yearly review is where returns that took
 *   qualifying activity back are counted);
 * - period_end with a rolling window: every 12 months from the local day the member reached the
 *   current tier (`currentTierSince`). A rolling window never ends; reviewing each tier a year after
 *   it was reached gives every member a full year on it, whatever the window's length;
 * - anniversary: the next anniversary of the local day of enrolment, at 00:00. Enrolled on
 *   29 February, the anniversary is 28 February in other years (the last day of February, as
 *   luxon adds years), and 29 February again in leap years.
 * `graceUntil`: a member in grace is reviewed again when it ends, if that comes first.
 */
export function nextReviewAt(
  ladder: Pick<TierLadder, 'window' | 'review'>,
  memberEnrolledAt: Date,
  currentTierSince: Date,
  now: Date,
  timeZone: string,
  graceUntil: Date | null = null,
): Date {
  let regular: Date;
  if (ladder.review.kind === 'anniversary') {
    regular = firstAfter(local(memberEnrolledAt, timeZone).startOf('day'), 12, now);
  } else if (ladder.window.kind === 'rolling_months') {
    regular = firstAfter(local(currentTierSince, timeZone).startOf('day'), ROLLING_REVIEW_MONTHS, now);
  } else {
    regular = local(now, timeZone).startOf('year').plus({ years: 1 }).toJSDate();
  }
  return graceUntil !== null && graceUntil > now && graceUntil < regular ? graceUntil : regular;
}

/**
 * reviewWindow and nextReviewAt for one ladder and zone, remembering their answers: calendar
 * arithmetic in a zone costs tens of microseconds a call, and a review job asks the same of
 * thousands of members due at one instant. The key holds only what each answer depends on.
 */
export function reviewCalendar(ladder: Pick<TierLadder, 'window' | 'review'>, timeZone: string) {
  const windows = new Map<number, TierPeriod>();
  const nexts = new Map<string, Date>();
  const readsEnrolment = ladder.review.kind === 'anniversary';
  const readsSince = !readsEnrolment && ladder.window.kind === 'rolling_months';
  return {
    window(reviewAt: Date): TierPeriod {
      let found = windows.get(reviewAt.getTime());
      if (!found) windows.set(reviewAt.getTime(), (found = reviewWindow(ladder.window, reviewAt, timeZone)));
      return found;
    },
    next(enrolledAt: Date, since: Date, now: Date, graceUntil: Date | null = null): Date {
      const key = `${readsEnrolment ? enrolledAt.getTime() : ''}|${readsSince ? since.getTime() : ''}|${now.getTime()}|${graceUntil?.getTime() ?? ''}`;
      let found = nexts.get(key);
      if (!found) nexts.set(key, (found = nextReviewAt(ladder, enrolledAt, since, now, timeZone, graceUntil)));
      return found;
    },
  };
}
