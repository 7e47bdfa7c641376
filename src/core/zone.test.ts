import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { isoDate, localDay, localTime, plusLocalDays } from './zone.js';

// Zones with DST at odd hours and sizes (Lord Howe moves 30 minutes, Kathmandu sits at +5:45),
// both hemispheres, a zone with history in seconds (Amsterdam's local mean time until 1937), and fixed offsets.
const ZONES = ['Europe/Paris', 'Europe/Istanbul', 'Pacific/Auckland', 'America/New_York', 'America/Sao_Paulo', 'Australia/Lord_Howe',
  'Asia/Kathmandu', 'Europe/Amsterdam', 'Africa/Casablanca', 'UTC', 'UTC+3'];

const FROM = Date.UTC(1850, 0, 1);
const TO = Date.UTC(2110, 0, 1);
/** Instants anywhere in 260 years, and instants within a day of a change of offset (the hard ones). */
const instant = fc.oneof(
  fc.integer({ min: FROM, max: TO }),
  fc.tuple(fc.constantFrom(...ZONES), fc.integer({ min: 1900, max: 2100 }), fc.integer({ min: -86_400_000, max: 86_400_000 }))
    .map(([zone, year, shift]) => nearChange(zone, year) + shift),
);

const changes = new Map<string, number>();

/** The first change of the zone's offset in the year (Luxon's answer, searched a day at a time), or the year's start when it has none. */
function nearChange(zone: string, year: number): number {
  const key = `${zone} ${year}`;
  let found = changes.get(key);
  if (found === undefined) {
    const start = Date.UTC(year, 0, 1);
    const offset = (t: number) => DateTime.fromMillis(t, { zone }).offset;
    found = start;
    for (let t = start; t < Date.UTC(year + 1, 0, 1); t += 86_400_000) {
      if (offset(t) !== offset(start)) {
        found = t;
        break;
      }
    }
    changes.set(key, found);
  }
  return found;
}

describe('a time zone\'s wall clock', () => {
  it('gives the local fields, day and ISO date Luxon gives, at any instant', () => {
    fc.assert(fc.property(fc.constantFrom(...ZONES), instant, (zone, t) => {
      const at = new Date(t);
      const d = DateTime.fromJSDate(at, { zone });
      expect(localTime(at, zone)).toEqual({ year: d.year, month: d.month, day: d.day, weekday: d.weekday, hour: d.hour, minute: d.minute });
      expect(localDay(at, zone)).toBe(Math.round(Date.UTC(d.year, d.month - 1, d.day) / 86_400_000));
      expect(isoDate(localTime(at, zone))).toBe(d.toISODate());
    }), { numRuns: 2000 });
  });

  it('moves calendar days as Luxon\'s plus({ days }) does, across gaps and repeated hours', () => {
    fc.assert(fc.property(fc.constantFrom(...ZONES), instant, fc.integer({ min: -400, max: 400 }), (zone, t, days) => {
      const at = new Date(t);
      expect(plusLocalDays(at, days, zone).getTime()).toBe(DateTime.fromJSDate(at, { zone }).plus({ days }).toMillis());
    }), { numRuns: 2000 });
  });

  it('keeps the wall-clock time over a change to summer time, and the offset the start had in a repeated hour', () => {
    // Paris went to summer time on 2026-03-29 at 02:00 and back on 2026-10-25 at 03:00.
    expect(plusLocalDays(new Date('2026-03-28T09:30:00+01:00'), 1, 'Europe/Paris').toISOString()).toBe('2026-03-29T07:30:00.000Z');
    expect(plusLocalDays(new Date('2026-03-28T02:30:00+01:00'), 1, 'Europe/Paris').toISOString()).toBe('2026-03-29T01:30:00.000Z');
    expect(plusLocalDays(new Date('2026-10-24T02:30:00+02:00'), 1, 'Europe/Paris').toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(localTime(new Date('2026-10-25T00:30:00Z'), 'Europe/Paris')).toMatchObject({ day: 25, hour: 2, minute: 30 });
    expect(localTime(new Date('2026-10-25T01:30:00Z'), 'Europe/Paris')).toMatchObject({ day: 25, hour: 2, minute: 30 });
  });

  it('sees a change of offset in the middle of an hour', () => {
    // Kathmandu went from +5:30 to +5:45 at 18:30 UTC; Lord Howe goes to summer time (+10:30 to +11:00) at 15:30 UTC.
    expect(localTime(new Date('1985-12-31T18:20:00Z'), 'Asia/Kathmandu')).toMatchObject({ year: 1985, day: 31, hour: 23, minute: 50 });
    expect(localTime(new Date('1985-12-31T18:40:00Z'), 'Asia/Kathmandu')).toMatchObject({ year: 1986, day: 1, hour: 0, minute: 25 });
    expect(localTime(new Date('2026-10-03T15:20:00Z'), 'Australia/Lord_Howe')).toMatchObject({ day: 4, hour: 1, minute: 50 });
    expect(localTime(new Date('2026-10-03T15:40:00Z'), 'Australia/Lord_Howe')).toMatchObject({ day: 4, hour: 2, minute: 40 });
  });
});
