// A tenant's wall clock, fast: the event path asks it for every purchase (the day a streak counts,
// the date rules see, the end of the return window), and building a Luxon DateTime for each answer
// was a tenth of a purchase's CPU. Offsets come from Luxon's own zones, once per zone and hour, so
// every answer here is the one Luxon gives; near a change of offset the answer is Luxon's own.
import { DateTime, Info, type Zone } from 'luxon';

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Hours remembered per zone before the zone's memory starts again: about eleven years of hours. */
const HOURS_KEPT = 100_000;

interface ZoneHours {
  zone: Zone;
  /** hour index → the offset in minutes through that whole hour; null when it changes within it */
  offsets: Map<number, number | null>;
}

const zones = new Map<string, ZoneHours>();

function hoursOf(timeZone: string): ZoneHours {
  let z = zones.get(timeZone);
  if (!z) {
    z = { zone: Info.normalizeZone(timeZone), offsets: new Map() };
    zones.set(timeZone, z);
  }
  return z;
}

/**
 * The zone's offset from UTC at `t` (ms since the epoch), in minutes, as Luxon computes it. An hour
 * whose first and last milliseconds share an offset has it throughout: offsets change at most once
 * an hour. Whole minutes only; a historical offset in seconds (local mean time) is Luxon's own answer.
 */
function offsetAt(z: ZoneHours, t: number): number {
  const hour = Math.floor(t / HOUR);
  let offset = z.offsets.get(hour);
  if (offset === undefined) {
    const first = z.zone.offset(hour * HOUR);
    offset = first === z.zone.offset(hour * HOUR + HOUR - 1) && Number.isInteger(first) ? first : null;
    if (z.offsets.size >= HOURS_KEPT) z.offsets.clear();
    z.offsets.set(hour, offset);
  }
  return offset ?? z.zone.offset(t);
}

/** The calendar fields of an instant on the zone's wall clock (weekday 1 = Monday … 7 = Sunday), as Luxon's DateTime has them. */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  weekday: number;
  hour: number;
  minute: number;
}

/** An instant on the zone's wall clock. */
export function localTime(at: Date, timeZone: string): LocalTime {
  const z = hoursOf(timeZone);
  const offset = offsetAt(z, at.getTime());
  if (!Number.isInteger(offset)) {
    const d = DateTime.fromJSDate(at, { zone: z.zone });
    return { year: d.year, month: d.month, day: d.day, weekday: d.weekday, hour: d.hour, minute: d.minute };
  }
  const local = new Date(at.getTime() + offset * 60_000);
  const weekday = local.getUTCDay();
  return {
    year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate(), weekday: weekday === 0 ? 7 : weekday,
    hour: local.getUTCHours(), minute: local.getUTCMinutes(),
  };
}

/** Days since 1970-01-01 of the local date: a calendar day, whatever DST does to its length. */
export function localDay(at: Date, timeZone: string): number {
  const z = hoursOf(timeZone);
  const offset = offsetAt(z, at.getTime());
  if (Number.isInteger(offset)) return Math.floor((at.getTime() + offset * 60_000) / DAY);
  const d = DateTime.fromJSDate(at, { zone: z.zone });
  return Math.round(Date.UTC(d.year, d.month - 1, d.day) / DAY);
}

/**
 * The same wall-clock time `days` calendar days later, as Luxon's `plus({ days })` gives it: a
 * time the change to summer time skips moves forward by the gap, and a time that occurs twice is
 * the one with the offset the start had, when it has it (Luxon's fixOffset, repeated here on the
 * cached offsets).
 */
export function plusLocalDays(at: Date, days: number, timeZone: string): Date {
  const z = hoursOf(timeZone);
  const offset = offsetAt(z, at.getTime());
  if (!Number.isInteger(offset) || !Number.isInteger(days)) return DateTime.fromJSDate(at, { zone: z.zone }).plus({ days }).toJSDate();
  const wall = at.getTime() + offset * 60_000 + days * DAY;
  let guess = wall - offset * 60_000;
  const o2 = offsetAt(z, guess);
  if (o2 === offset) return new Date(guess);
  guess -= (o2 - offset) * 60_000;
  const o3 = offsetAt(z, guess);
  if (o2 === o3) return new Date(guess);
  return new Date(wall - Math.min(o2, o3) * 60_000);
}

/** The local date as ISO 8601 (2026-12-07), as Luxon's toISODate writes it: six digits and a sign for a year past 9999 or before 0. */
export function isoDate(local: Pick<LocalTime, 'year' | 'month' | 'day'>): string {
  const long = local.year > 9999 || local.year < 0;
  const year = (local.year < 0 ? '-' : long ? '+' : '') + String(Math.abs(local.year)).padStart(long ? 6 : 4, '0');
  return `${year}-${String(local.month).padStart(2, '0')}-${String(local.day).padStart(2, '0')}`;
}
