// The jobs Laurel runs on schedule. Each is set-based SQL over every due row (in chunks, each
// its own transaction), idempotent when run twice or by two workers at once, and resumable: a
// run cut short leaves its finished chunks done and the next run does the rest.
import { queueExpiryReminders } from '../db/jobs.js';
import { settleDue } from '../db/settlement.js';
import type { Laurel } from '../services/context.js';

export interface Progress {
  /** rows (wallets, reminders…) done so far */
  done: number;
  unit: string;
}

export interface Job {
  name: string;
  description: string;
  /** the schedule a new deployment starts with (an operator may change it: laurel jobs schedule) */
  cron: string;
  timeZone: string;
  run(laurel: Laurel, now: Date, progress: (p: Progress) => void): Promise<Record<string, number>>;
}

const REMINDER_CHUNK = 10_000;

export const BUILT_IN_JOBS: readonly Job[] = [
  {
    name: 'settle',
    description: 'mature pending points, expire lots, release expired holds and repay debts, for every wallet due',
    cron: '* * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      const r = await settleDue(laurel.db, now, 5000, (total) => progress({ done: total.wallets, unit: 'wallets' }));
      return { ...r, pointsExpired: Number(r.pointsExpired) };
    },
  },
  {
    name: 'expiry_reminders',
    description: "queue a points.expiring message for each lot expiring within its program's expiryReminderDays, once per lot",
    cron: '*/15 * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      let queued = 0;
      for (;;) {
        const n = await queueExpiryReminders(laurel.db, now, REMINDER_CHUNK);
        queued += n;
        progress({ done: queued, unit: 'reminders' });
        if (n < REMINDER_CHUNK) return { reminders: queued };
      }
    },
  },
];
