// Cron expressions, read in a time zone: "0 3 * * *" in Europe/Paris is 03:00 Paris time, summer
// and winter alike.
import { Cron } from 'croner';
import { invalid } from '../core/errors.js';
import { isValidTimeZone } from '../core/program.js';

/** The first time after `after` that the schedule fires. */
export function nextRun(cron: string, timeZone: string, after: Date): Date {
  const next = new Cron(cron, { timezone: timeZone, paused: true }).nextRun(after);
  if (!next) throw new Error(`cron ${cron} never fires again`);
  return next;
}

export function validateCron(cron: string, timeZone: string): void {
  if (!isValidTimeZone(timeZone)) throw invalid('timeZone', 'timeZone must be an IANA time zone such as Europe/Paris');
  try {
    nextRun(cron, timeZone, new Date());
  } catch (e) {
    throw invalid('cron', `cron is not a valid schedule: ${(e as Error).message}`);
  }
}
