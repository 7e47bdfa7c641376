// Windows and review dates live on the tenant's calendar. Every expectation below is computed by
// hand from the zone's offset on that date (noted beside it), never by the code under test.
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import type { TierLadder, TierWindow } from './ladder.js';
import { inWindow, nextReviewAt, reviewCalendar, reviewWindow, windowAt } from './windows.js';

const d = (iso: string) => new Date(iso);
const YEAR: TierWindow = { kind: 'calendar_year' };
const rolling = (months: number): TierWindow => ({ kind: 'rolling_months', months });
const LIFETIME: TierWindow = { kind: 'lifetime' };
const LA = 'America/Los_Angeles';
const AKL = 'Pacific/Auckland';
const PARIS = 'Europe/Paris';

describe('windowAt: the calendar year of the tenant', () => {
  // at, zone, start, end
  const table: [string, string, string, string, string][] = [
    // 31 Dec 2026 23:30 PST (−8) is already 1 January in UTC: it still counts for 2026
    ['23:30 on 31 December in Los Angeles', '2027-01-01T07:30:00Z', LA, '2026-01-01T08:00:00Z', '2027-01-01T08:00:00Z'],
    ['00:00 on 1 January in Los Angeles', '2027-01-01T08:00:00Z', LA, '2027-01-01T08:00:00Z', '2028-01-01T08:00:00Z'],
    // 31 Dec 2026 23:30 NZDT (+13) is 10:30 UTC the same day
    ['23:30 on 31 December in Auckland', '2026-12-31T10:30:00Z', AKL, '2025-12-31T11:00:00Z', '2026-12-31T11:00:00Z'],
    // 1 Jan 2027 00:30 NZDT is still 31 December in UTC: it counts for 2027
    ['00:30 on 1 January in Auckland', '2026-12-31T11:30:00Z', AKL, '2026-12-31T11:00:00Z', '2027-12-31T11:00:00Z'],
    // 31 Dec 23:30 CET (+1) is 22:30 UTC
    ['23:30 on 31 December in Paris', '2026-12-31T22:30:00Z', PARIS, '2025-12-31T23:00:00Z', '2026-12-31T23:00:00Z'],
    // 31 Dec 23:30 at +14: 09:30 UTC
    ['23:30 on 31 December in Kiritimati (+14)', '2026-12-31T09:30:00Z', 'Pacific/Kiritimati', '2025-12-31T10:00:00Z', '2026-12-31T10:00:00Z'],
    ['the same instant in UTC', '2026-12-31T22:30:00Z', 'UTC', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'],
    // a leap year in summer time: still 1 January to 1 January (CET at both ends)
    ['a July day in Paris', '2028-07-14T12:00:00Z', PARIS, '2027-12-31T23:00:00Z', '2028-12-31T23:00:00Z'],
  ];
  it.each(table)('%s', (_, at, zone, start, end) => {
    const w = windowAt(YEAR, d(at), zone);
    expect(w).toEqual({ start: d(start), end: d(end) });
    expect(inWindow(w, d(at))).toBe(true);
  });
});

describe('windowAt: rolling months of whole local days, today included', () => {
  // window, at, zone, start, end
  const table: [string, TierWindow, string, string, string, string][] = [
    // 15 Mar 2027 11:00 CET: the window ends at 16 Mar 2027 00:00 CET and starts 12 months before (CET both)
    ['12 months on 15 March in Paris', rolling(12), '2027-03-15T10:00:00Z', PARIS, '2026-03-15T23:00:00Z', '2027-03-15T23:00:00Z'],
    ['the last minute of that day: the same window', rolling(12), '2027-03-15T22:59:00Z', PARIS, '2026-03-15T23:00:00Z', '2027-03-15T23:00:00Z'],
    ['midnight: the window moves on a day', rolling(12), '2027-03-15T23:00:00Z', PARIS, '2026-03-16T23:00:00Z', '2027-03-16T23:00:00Z'],
    // 20 Mar 2027 12:00 PDT (−7, summer time since 14 March); 21 Mar 2026 was PDT too (since 8 March)
    ['12 months in Los Angeles', rolling(12), '2027-03-20T19:00:00Z', LA, '2026-03-21T07:00:00Z', '2027-03-21T07:00:00Z'],
    // 10 Apr 2027 12:00 NZST (+12, summer time ended 4 April); 11 January was NZDT (+13): both ends at local midnight
    ['3 months across the end of summer time in Auckland', rolling(3), '2027-04-10T00:00:00Z', AKL, '2027-01-10T11:00:00Z', '2027-04-10T12:00:00Z'],
    // 30 Mar 2027 14:00 CEST: ends 31 Mar 00:00 CEST (+2); 31 February does not exist, so it starts 28 Feb 00:00 CET (+1)
    ['1 month from a day the month before lacks', rolling(1), '2027-03-30T12:00:00Z', PARIS, '2027-02-27T23:00:00Z', '2027-03-30T22:00:00Z'],
    // counted back from 1 June, 3 months is 1 March, not 28 February
    ['3 months on the last day of May', rolling(3), '2027-05-31T10:00:00Z', PARIS, '2027-02-28T23:00:00Z', '2027-05-31T22:00:00Z'],
    ['120 months in UTC', rolling(120), '2027-05-31T10:00:00Z', 'UTC', '2017-06-01T00:00:00Z', '2027-06-01T00:00:00Z'],
  ];
  it.each(table)('%s', (_, window, at, zone, start, end) => {
    const w = windowAt(window, d(at), zone);
    expect(w).toEqual({ start: d(start), end: d(end) });
    expect(inWindow(w, d(at))).toBe(true);
  });

  it('holds its first instant and not its end: half-open, for SQL `>= start and < end`', () => {
    const w = windowAt(rolling(12), d('2027-03-15T10:00:00Z'), PARIS);
    expect(inWindow(w, d('2026-03-15T23:00:00.000Z'))).toBe(true); // 16 Mar 2026 00:00 CET
    expect(inWindow(w, d('2026-03-15T22:59:59.999Z'))).toBe(false);
    expect(inWindow(w, d('2027-03-15T22:59:59.999Z'))).toBe(true); // 15 Mar 2027 23:59:59.999 CET
    expect(inWindow(w, d('2027-03-15T23:00:00.000Z'))).toBe(false);
  });
});

describe('windowAt: lifetime and the anchor', () => {
  it('a lifetime window is open at both ends, or starts at the anchor', () => {
    expect(windowAt(LIFETIME, d('2027-03-15T10:00:00Z'), PARIS)).toEqual({ start: null, end: null });
    expect(windowAt(LIFETIME, d('2027-03-15T10:00:00Z'), PARIS, d('2024-02-29T10:00:00Z'))).toEqual({ start: d('2024-02-29T10:00:00Z'), end: null });
  });

  it('no window starts before the anchor; an anchor before the window changes nothing', () => {
    expect(windowAt(YEAR, d('2026-08-01T10:00:00Z'), PARIS, d('2026-05-03T08:00:00Z'))).toEqual({ start: d('2026-05-03T08:00:00Z'), end: d('2026-12-31T23:00:00Z') });
    expect(windowAt(YEAR, d('2026-08-01T10:00:00Z'), PARIS, d('2020-05-03T08:00:00Z'))).toEqual({ start: d('2025-12-31T23:00:00Z'), end: d('2026-12-31T23:00:00Z') });
  });

  it('refuses an unknown zone rather than read it as UTC', () => {
    expect(() => windowAt(YEAR, d('2026-08-01T10:00:00Z'), 'Mars/Olympus_Mons')).toThrow(expect.objectContaining({ code: 'validation', field: 'timeZone' }));
  });
});

describe('reviewWindow: the window that closes at the review', () => {
  it('at 1 January 00:00 in Paris, the year that just ended (not the one that starts)', () => {
    expect(reviewWindow(YEAR, d('2026-12-31T23:00:00Z'), PARIS)).toEqual({ start: d('2025-12-31T23:00:00Z'), end: d('2026-12-31T23:00:00Z') });
  });

  it('on an anniversary at 15 March 00:00 CET, the twelve months before it', () => {
    expect(reviewWindow(rolling(12), d('2027-03-14T23:00:00Z'), PARIS)).toEqual({ start: d('2026-03-14T23:00:00Z'), end: d('2027-03-14T23:00:00Z') });
  });
});

describe('nextReviewAt', () => {
  const ladder = (window: TierWindow, review: TierLadder['review']['kind']): Pick<TierLadder, 'window' | 'review'> => ({ window, review: { kind: review } });
  const enrolled = d('2020-06-01T10:00:00Z');
  const since = d('2026-05-20T09:00:00Z'); // 20 May 2026 11:00 CEST

  // ladder, enrolled, tier since, now, zone, next review
  const table: [string, Pick<TierLadder, 'window' | 'review'>, Date, Date, string, string, string][] = [
    ['calendar year: next 1 January 00:00 NZDT (+13)', ladder(YEAR, 'period_end'), enrolled, since, '2026-06-01T00:00:00Z', AKL, '2026-12-31T11:00:00Z'],
    ['calendar year: a millisecond before it, still it', ladder(YEAR, 'period_end'), enrolled, since, '2026-12-31T10:59:59.999Z', AKL, '2026-12-31T11:00:00Z'],
    ['calendar year: at it, the one after (strictly after now)', ladder(YEAR, 'period_end'), enrolled, since, '2026-12-31T11:00:00Z', AKL, '2027-12-31T11:00:00Z'],
    // 31 Dec 2026 23:30 PST: the review is half an hour away, though UTC is already in 2027
    ['calendar year at 23:30 on 31 December in Los Angeles', ladder(YEAR, 'period_end'), enrolled, since, '2027-01-01T07:30:00Z', LA, '2027-01-01T08:00:00Z'],
    ['lifetime at period end: yearly, 1 January 00:00 CET', ladder(LIFETIME, 'period_end'), enrolled, since, '2026-06-01T00:00:00Z', PARIS, '2026-12-31T23:00:00Z'],
    // rolling at period end: 12 months from the local day the tier was reached, at 00:00 CEST (+2)
    ['rolling: a year after the tier was reached', ladder(rolling(12), 'period_end'), enrolled, since, '2026-06-01T00:00:00Z', PARIS, '2027-05-19T22:00:00Z'],
    ['rolling: at that review, the next year', ladder(rolling(12), 'period_end'), enrolled, since, '2027-05-19T22:00:00Z', PARIS, '2028-05-19T22:00:00Z'],
    ['rolling: years later, the next yearly date', ladder(rolling(12), 'period_end'), enrolled, since, '2030-01-01T00:00:00Z', PARIS, '2030-05-19T22:00:00Z'],
    ['rolling 3 months: still yearly, not quarterly', ladder(rolling(3), 'period_end'), enrolled, since, '2026-06-01T00:00:00Z', PARIS, '2027-05-19T22:00:00Z'],
    // tier reached on 29 Feb 2024: reviewed on 28 Feb 2025 00:00 CET
    ['rolling: tier reached on 29 February', ladder(rolling(12), 'period_end'), enrolled, d('2024-02-29T12:00:00Z'), '2024-03-01T00:00:00Z', PARIS, '2025-02-27T23:00:00Z'],
  ];
  it.each(table)('%s', (_, l, enrolledAt, tierSince, now, zone, next) => {
    expect(nextReviewAt(l, enrolledAt, tierSince, d(now), zone)).toEqual(d(next));
  });

  describe('anniversary', () => {
    const anniversary = ladder(rolling(12), 'anniversary');
    // Enrolled 29 Feb 2024 11:00 CET. Choice: in other years the anniversary is 28 February (the last
    // day of February, as luxon adds years), and 29 February again in leap years.
    const leapDay = d('2024-02-29T10:00:00Z');
    const table: [string, string, string][] = [
      ['the first one falls on 28 Feb 2025 00:00 CET', '2024-03-01T00:00:00Z', '2025-02-27T23:00:00Z'],
      ['at it, 28 Feb 2026', '2025-02-27T23:00:00Z', '2026-02-27T23:00:00Z'],
      ['in 2027, the next is 29 Feb 2028 again', '2027-03-01T00:00:00Z', '2028-02-28T23:00:00Z'],
      ['at 29 Feb 2028, 28 Feb 2029', '2028-02-28T23:00:00Z', '2029-02-27T23:00:00Z'],
    ];
    it.each(table)('enrolled on 29 February: %s', (_, now, next) => {
      expect(nextReviewAt(anniversary, leapDay, since, d(now), PARIS)).toEqual(d(next));
    });

    it('is the local day of enrolment, not the UTC one', () => {
      // 15 Mar 2026 11:30 UTC is 16 Mar 00:30 NZDT: the anniversary is 16 March, 00:00 NZDT (+13) = 15 Mar 11:00 UTC
      expect(nextReviewAt(anniversary, d('2026-03-15T11:30:00Z'), since, d('2026-06-01T00:00:00Z'), AKL)).toEqual(d('2027-03-15T11:00:00Z'));
      // 1 Jan 2026 07:30 UTC is 31 Dec 2025 23:30 PST: the anniversary is 31 December, 00:00 PST (−8)
      expect(nextReviewAt(anniversary, d('2026-01-01T07:30:00Z'), since, d('2026-06-01T00:00:00Z'), LA)).toEqual(d('2026-12-31T08:00:00Z'));
    });

    it('does not move with the tier, and applies to lifetime windows too', () => {
      expect(nextReviewAt(anniversary, leapDay, d('2026-11-11T11:00:00Z'), d('2026-12-01T00:00:00Z'), PARIS)).toEqual(d('2027-02-27T23:00:00Z'));
      expect(nextReviewAt(ladder(LIFETIME, 'anniversary'), leapDay, since, d('2026-12-01T00:00:00Z'), PARIS)).toEqual(d('2027-02-27T23:00:00Z'));
    });
  });

  describe('with a grace', () => {
    const l = ladder(YEAR, 'period_end');
    const now = d('2027-01-10T00:00:00Z');
    it('the end of the grace, when it comes before the regular review', () => {
      expect(nextReviewAt(l, enrolled, since, now, PARIS, d('2027-03-31T22:00:00Z'))).toEqual(d('2027-03-31T22:00:00Z'));
    });
    it('the regular review, when the grace ends after it or has ended', () => {
      expect(nextReviewAt(l, enrolled, since, now, PARIS, d('2028-03-31T22:00:00Z'))).toEqual(d('2027-12-31T23:00:00Z'));
      expect(nextReviewAt(l, enrolled, since, now, PARIS, d('2027-01-10T00:00:00Z'))).toEqual(d('2027-12-31T23:00:00Z'));
    });
  });
});

describe('properties', () => {
  const zones = [LA, AKL, PARIS, 'UTC', 'Pacific/Kiritimati', 'Asia/Kolkata', 'America/St_Johns', 'Australia/Lord_Howe'];
  const instant = fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2090, 0, 1) }).map((ms) => new Date(ms));
  const windowArb = fc.oneof(
    fc.constant(YEAR),
    fc.integer({ min: 1, max: 120 }).map(rolling),
  );
  const atLocalMidnight = (t: Date | null, zone: string) => {
    const l = DateTime.fromJSDate(t!, { zone });
    return l.toMillis() === l.startOf('day').toMillis();
  };

  it('a window holds the instant asked for and starts and ends at local midnight', () => {
    fc.assert(fc.property(windowArb, instant, fc.constantFrom(...zones), (window, at, zone) => {
      const w = windowAt(window, at, zone);
      expect(inWindow(w, at)).toBe(true);
      expect(atLocalMidnight(w.start, zone) && atLocalMidnight(w.end, zone)).toBe(true);
      // the review at the window's end judges exactly this window
      expect(reviewWindow(window, w.end!, zone)).toEqual(w);
    }));
  });

  it('the next review is after now, at local midnight, and within a year', () => {
    const kinds: Pick<TierLadder, 'window' | 'review'>[] = [
      { window: YEAR, review: { kind: 'period_end' } },
      { window: rolling(12), review: { kind: 'period_end' } },
      { window: rolling(6), review: { kind: 'anniversary' } },
      { window: LIFETIME, review: { kind: 'anniversary' } },
    ];
    fc.assert(fc.property(fc.constantFrom(...kinds), instant, instant, fc.integer({ min: 0, max: 20 * 366 }), fc.constantFrom(...zones), (l, enrolledAt, tierSince, days, zone) => {
      const now = new Date(Math.max(enrolledAt.getTime(), tierSince.getTime()) + days * 86_400_000);
      const next = nextReviewAt(l, enrolledAt, tierSince, now, zone);
      expect(next > now).toBe(true);
      expect(atLocalMidnight(next, zone)).toBe(true);
      expect(next <= DateTime.fromJSDate(now, { zone }).plus({ years: 1 }).toJSDate()).toBe(true);
    }));
  });
});

describe('reviewCalendar', () => {
  it('answers what reviewWindow and nextReviewAt answer, however many members share an instant', () => {
    const instant = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-12-31T00:00:00Z'), noInvalidDate: true });
    const ladders: Pick<TierLadder, 'window' | 'review'>[] = [
      { window: YEAR, review: { kind: 'period_end' } }, { window: rolling(12), review: { kind: 'period_end' } },
      { window: rolling(6), review: { kind: 'anniversary' } }, { window: { kind: 'lifetime' }, review: { kind: 'anniversary' } },
    ];
    fc.assert(fc.property(fc.constantFrom(...ladders), fc.array(fc.tuple(instant, instant, fc.option(instant)), { minLength: 1, maxLength: 20 }), instant,
      (ladder, members, at) => {
        const calendar = reviewCalendar(ladder, 'Europe/Paris');
        for (const [enrolled, since, grace] of members) {
          expect(calendar.window(at)).toEqual(reviewWindow(ladder.window, at, 'Europe/Paris'));
          expect(calendar.next(enrolled, since, at, grace)).toEqual(nextReviewAt(ladder, enrolled, since, at, 'Europe/Paris', grace));
        }
      }), { numRuns: 200 });
  });
});
