// The jobs Laurel runs on schedule. Each is set-based SQL over every due row (in chunks, each
// its own transaction), idempotent when run twice or by two workers at once, and resumable: a
// run cut short leaves its finished chunks done and the next run does the rest.
import { queueExpiryReminders } from '../db/jobs.js';
import { settleDue } from '../db/settlement.js';
import { runBackfills } from '../services/achievements.js';
import type { Laurel } from '../services/context.js';
import { sendBirthdays } from '../services/birthdays.js';
import { issueAllAllowances } from '../services/recognition.js';
import { recomputeAll } from '../services/grades.js';
import { settleReferrals } from '../services/referrals.js';
import { expireMemberships } from '../services/memberships.js';
import { expireRewards } from '../services/rewards.js';
import { reviewTiers } from '../services/tiers.js';
import { deliverWebhooks, relayOutbox } from '../services/webhooks.js';
import { sendDueWelcomes } from '../services/welcomes.js';

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
  {
    name: 'tier_reviews',
    description: "review every member whose tier review date has come: keep, start a grace, or move down one level (and place members new to a ladder)",
    // Reviews fall at local midnight in each tenant's zone: hourly catches every zone's midnight within the hour.
    cron: '5 * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      const { programs, members, placed, up, down, graceStarted } = await reviewTiers(laurel, now, (done) => progress({ done, unit: 'members' }));
      return { programs, members, placed, up, down, graceStarted };
    },
  },
  {
    name: 'grades',
    description: 'recompute the customer grade of every active member of each program with a grading scheme (RFM or expressions); only changes are written, each with its history',
    // Daily: RFM ranks everyone against everyone, and the window moves a day at a time.
    cron: '0 3 * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      const { programs, members, changed } = await recomputeAll(laurel, now, (done) => progress({ done, unit: 'members' }));
      return { programs, members, changed };
    },
  },
  {
    name: 'reward_expiry',
    description: 'settle reward instances reserved by holds that ended, expire unused instances past their date (their points back if the program refunds them), and queue reward.expiring reminders',
    cron: '*/5 * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      return expireRewards(laurel, now, (done) => progress({ done, unit: 'instances' }));
    },
  },
  {
    name: 'referrals',
    description: 'mark rewarded the qualified referrals whose hold (the qualifying order\'s return window) has ended, and reject (window_passed, with a referral.rejected message) pending referrals whose qualifying window closed',
    cron: '*/5 * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      return settleReferrals(laurel, now, (done) => progress({ done, unit: 'referrals' }));
    },
  },
  {
    name: 'birthdays',
    description: "send a birthday event, through the program's rules, to each active member whose birthday it is today in the tenant's time zone, in programs with a birthday rule; once per member and year (29 February: on 28 February in common years)",
    // Hourly, as tier reviews: each zone's midnight is caught within the hour.
    cron: '10 * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      return sendBirthdays(laurel, now, (done) => progress({ done, unit: 'members' }));
    },
  },
  {
    name: 'welcomes',
    description: "send again the welcome (signup event) of each member whose welcome failed after they were enrolled; once each, dropped if the member was suspended or erased since",
    cron: '* * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      return sendDueWelcomes(laurel, now, (done) => progress({ done, unit: 'members' }));
    },
  },
  {
    name: 'membership_expiry',
    description: 'expire every paid membership whose benefits ended (period over without payment, past_due past its grace, cancelled at period end), with its transition and a membership.expired message',
    cron: '*/5 * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      return expireMemberships(laurel, now, (done) => progress({ done, unit: 'memberships' }));
    },
  },
  {
    name: 'recognition_allowances',
    description: "credit this period's giving allowance to every active member of each recognition program who has not had it (periods start at midnight in the tenant's zone); unspent allowance lapses through the settle job",
    // Hourly, as tier reviews: each zone's period start is caught within the hour.
    cron: '15 * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      const { members, points } = await issueAllAllowances(laurel, now, undefined, (done) => progress({ done, unit: 'members' }));
      return { members, points: Number(points) };
    },
  },
  {
    name: 'achievement_backfill',
    description: "recompute achievement progress from the events for the backfills an admin asked for (POST /v1/achievements/{id}/backfills), a chunk of members per transaction, resumable",
    cron: '* * * * *',
    timeZone: 'UTC',
    async run(laurel, _now, progress) {
      return { members: await runBackfills(laurel, (done) => progress({ done, unit: 'members' })) };
    },
  },
  {
    name: 'webhooks',
    description: 'relay new outbox messages to the webhook endpoints that take them, then send every due delivery, signed (Standard Webhooks) and retried with backoff',
    cron: '* * * * *',
    timeZone: 'UTC',
    async run(laurel, now, progress) {
      const { messages } = await relayOutbox(laurel, now, (done) => progress({ done, unit: 'messages' }));
      const { sent, delivered, failed, retrying } = await deliverWebhooks(laurel, now, (done) => progress({ done, unit: 'deliveries' }));
      return { relayed: messages, sent, delivered, failed, retrying };
    },
  },
];
