// The job runner, on PGlite and on PostgreSQL: schedules installed at their next cron time, due
// jobs run and recorded, retries with a growing backoff, a crashed worker's lease running out,
// a settlement killed half way and finished by the next run, and expiry reminders once per lot.
// Jobs run across tenants, over the whole database, so every test opens a Laurel (a database)
// of its own: one test's time travel must not settle another's wallets or run its schedules.
// Every date below is worked out by hand; every test that touches the ledger ends with verify.
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { DomainError } from '../src/core/errors.js';
import { claimDueJob, failRun, finishRun, listOutbox, listRuns, listSchedules } from '../src/db/jobs.js';
import { settleDue } from '../src/db/settlement.js';
import { nextRun } from '../src/jobs/cron.js';
import { BUILT_IN_JOBS, type Job } from '../src/jobs/registry.js';
import { installSchedules, retryDelayMs, runDueJobs, runJobNow } from '../src/jobs/runner.js';
import { createHold, earn, getBalance, redeem } from '../src/services/ledger.js';
import { expectVerified, key, lotsOf, newMember, newProgram, openTestLaurel } from './support/laurel.js';

/** The ledger's jobs: these scenarios are about them and the runner, not the tier, grade or webhook jobs. */
const SETTLING = BUILT_IN_JOBS.filter((j) => j.name === 'settle' || j.name === 'expiry_reminders');

const MINUTE = 60_000;
const LEASE_MS = 30 * MINUTE;

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
const START = '2026-01-15T10:00:00Z';

/** Each test of the calling describe gets a fresh Laurel (its own database). */
function freshLaurelEachTest(): void {
  beforeEach(async () => { laurel = await openTestLaurel(START, {}, 5); });
  afterEach(async () => { await laurel?.close(); });
}

const iso = (d: Date | string | null | undefined): string | null => (d == null ? null : new Date(d).toISOString());
const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

/** A job's schedule, with dates as ISO strings. */
async function scheduleOf(job: string) {
  const s = (await listSchedules(laurel.db)).find((r) => r.job === job);
  if (!s) throw new Error(`no schedule for ${job}`);
  return { cron: s.cron, timeZone: s.time_zone, enabled: s.enabled, nextRunAt: iso(s.next_run_at), failures: s.failures, leasedUntil: iso(s.leased_until) };
}

/** A job's runs, oldest first (run ids are UUIDv7, increasing within the process). */
async function runsOf(job: string) {
  const rows = await listRuns(laurel.db, { job, limit: 1000 });
  return rows.reverse().map((r) => ({
    runId: r.run_id, trigger: r.trigger, status: r.status, worker: r.worker, startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at), stats: json(r.stats), error: r.error,
  }));
}

/** How many journal entries of `kind` each lot has (maturation names its lot). */
async function entriesPerLot(tenantId: string, kind: string): Promise<Map<string, number>> {
  const rows = await laurel.db.selectFrom('journal_entries').select(['lot_id', sql<number>`count(*)::int`.as('n')])
    .where('tenant_id', '=', tenantId).where('kind', '=', kind).groupBy('lot_id').execute();
  return new Map(rows.map((r) => [r.lot_id ?? 'none', r.n]));
}

async function lotIds(tenantId: string): Promise<string[]> {
  return (await laurel.db.selectFrom('lots').select('lot_id').where('tenant_id', '=', tenantId).orderBy('lot_id').execute()).map((r) => r.lot_id);
}

async function countEntries(tenantId: string, kind: string): Promise<number> {
  const row = await laurel.db.selectFrom('journal_entries').select(sql<number>`count(*)::int`.as('n'))
    .where('tenant_id', '=', tenantId).where('kind', '=', kind).executeTakeFirstOrThrow();
  return row.n;
}

const noSettlement = { wallets: 0, holdsReleased: 0, lotsMatured: 0, lotsExpired: 0, pointsExpired: 0, debtsRepaid: 0 };

/** A job that counts its runs; `fail(n)` says whether the n-th run (from 1) throws. */
function countingJob(name: string, cron: string, fail: (n: number) => boolean = () => false): Job & { calls: number } {
  const job = {
    name, description: `test job ${name}`, cron, timeZone: 'UTC', calls: 0,
    async run() {
      job.calls++;
      if (fail(job.calls)) throw new Error(`${name} failed on run ${job.calls}`);
      return { calls: job.calls };
    },
  };
  return job;
}

describe('schedules and scheduled runs', () => {
  freshLaurelEachTest();

  it('installSchedules sets each job to its next cron time; runDueJobs runs what is due, records it and moves it on', async () => {
    laurel.clock.set('2026-01-15T10:00:20Z');
    // P: 14-day return window (Paris), Q: no window, with a one-hour hold
    const p = await newProgram(laurel, { returnWindowDays: 14 });
    const q = await newProgram(laurel);
    const a = await newMember(laurel, p);
    const b = await newMember(laurel, q);
    await earn(laurel, { tenantId: p.tenantId, memberId: a, amount: 100, idempotencyKey: key() });
    await earn(laurel, { tenantId: q.tenantId, memberId: b, amount: 200, idempotencyKey: key() });
    await createHold(laurel, { tenantId: q.tenantId, memberId: b, amount: 50, ttlSeconds: 3600, idempotencyKey: key() });
    expect(await getBalance(laurel, p.tenantId, a)).toMatchObject({ available: 0n, pending: 100n });
    expect(await getBalance(laurel, q.tenantId, b)).toMatchObject({ available: 150n, held: 50n });

    await installSchedules(laurel, SETTLING);
    // '* * * * *' after 10:00:20 → 10:01:00; '*/15 * * * *' → 10:15:00
    expect(await scheduleOf('settle')).toEqual({ cron: '* * * * *', timeZone: 'UTC', enabled: true, nextRunAt: '2026-01-15T10:01:00.000Z', failures: 0, leasedUntil: null });
    expect(await scheduleOf('expiry_reminders')).toEqual({ cron: '*/15 * * * *', timeZone: 'UTC', enabled: true, nextRunAt: '2026-01-15T10:15:00.000Z', failures: 0, leasedUntil: null });

    // before the first cron time: nothing runs, nothing is recorded
    laurel.clock.set('2026-01-15T10:00:59.999Z');
    expect(await runDueJobs(laurel, { jobs: SETTLING, worker: 'w1' })).toEqual([]);
    expect(await listRuns(laurel.db, { limit: 10 })).toEqual([]);
    // installing again (a second worker starting) leaves the schedules as they are
    await installSchedules(laurel, SETTLING);
    expect((await scheduleOf('settle')).nextRunAt).toBe('2026-01-15T10:01:00.000Z');

    // at 10:01:00 settle is due (next_run_at <= now), the reminders are not
    laurel.clock.set('2026-01-15T10:01:00Z');
    const first = await runDueJobs(laurel, { jobs: SETTLING, worker: 'w1' });
    expect(first).toEqual([{ runId: expect.any(String), job: 'settle', status: 'succeeded', stats: noSettlement }]);
    expect(await runsOf('settle')).toEqual([{
      runId: first[0]!.runId, trigger: 'schedule', status: 'succeeded', worker: 'w1',
      startedAt: '2026-01-15T10:01:00.000Z', finishedAt: '2026-01-15T10:01:00.000Z', stats: noSettlement, error: null,
    }]);
    expect(await scheduleOf('settle')).toMatchObject({ nextRunAt: '2026-01-15T10:02:00.000Z', failures: 0, leasedUntil: null });
    expect(await scheduleOf('expiry_reminders')).toMatchObject({ nextRunAt: '2026-01-15T10:15:00.000Z' });
    expect(await runDueJobs(laurel, { jobs: SETTLING, worker: 'w1' })).toEqual([]);

    // 15 days on (2026-01-30T10:01:00Z): a's lot matured on 29 January at 11:00:20 Paris
    // (10:00:20Z) and b's hold ran out at 11:00:20Z on the 15th. Both jobs are due; settle has
    // been due longest (10:02 against 10:15 on the 15th), so it runs first.
    laurel.clock.advance(15 * DAY_MS);
    const second = await runDueJobs(laurel, { jobs: SETTLING, worker: 'w2' });
    expect(second).toEqual([
      { runId: expect.any(String), job: 'settle', status: 'succeeded', stats: { ...noSettlement, wallets: 2, holdsReleased: 1, lotsMatured: 1 } },
      { runId: expect.any(String), job: 'expiry_reminders', status: 'succeeded', stats: { reminders: 0 } },
    ]);
    expect((await runsOf('settle')).map((r) => [r.status, r.worker, r.startedAt, r.stats])).toEqual([
      ['succeeded', 'w1', '2026-01-15T10:01:00.000Z', noSettlement],
      ['succeeded', 'w2', '2026-01-30T10:01:00.000Z', { ...noSettlement, wallets: 2, holdsReleased: 1, lotsMatured: 1 }],
    ]);
    expect(await runsOf('expiry_reminders')).toEqual([{
      runId: second[1]!.runId, trigger: 'schedule', status: 'succeeded', worker: 'w2',
      startedAt: '2026-01-30T10:01:00.000Z', finishedAt: '2026-01-30T10:01:00.000Z', stats: { reminders: 0 }, error: null,
    }]);
    // each moved to its first cron time after now, not after its old due time
    expect(await scheduleOf('settle')).toMatchObject({ nextRunAt: '2026-01-30T10:02:00.000Z', failures: 0, leasedUntil: null });
    expect(await scheduleOf('expiry_reminders')).toMatchObject({ nextRunAt: '2026-01-30T10:15:00.000Z', failures: 0, leasedUntil: null });
    expect(await runDueJobs(laurel, { jobs: SETTLING, worker: 'w2' })).toEqual([]);

    expect(await getBalance(laurel, p.tenantId, a)).toMatchObject({ available: 100n, pending: 0n });
    expect(await getBalance(laurel, q.tenantId, b)).toMatchObject({ available: 200n, held: 0n });
    await expectVerified(laurel, p.tenantId);
    await expectVerified(laurel, q.tenantId);
  });
});

describe('cron', () => {
  it('a cron is read in its time zone', () => {
    // 03:00 in Paris is 02:00Z in winter and 01:00Z in summer
    expect(nextRun('0 3 * * *', 'Europe/Paris', new Date('2026-01-15T10:00:00Z')).toISOString()).toBe('2026-01-16T02:00:00.000Z');
    expect(nextRun('0 3 * * *', 'Europe/Paris', new Date('2026-07-15T10:00:00Z')).toISOString()).toBe('2026-07-16T01:00:00.000Z');
  });
});

describe('expiry reminders', () => {
  freshLaurelEachTest();

  it('queue a points.expiring message for each lot within expiryReminderDays of expiring, once per lot', async () => {
    // Both programs: lots expire 12 months after they are earned (tenant zone Europe/Paris).
    const r = await newProgram(laurel, { expiry: { kind: 'rolling', months: 12 }, expiryReminderDays: 30 });
    const n = await newProgram(laurel, { expiry: { kind: 'rolling', months: 12 } });
    expect(r.expiryReminderDays).toBe(30);
    expect(n.expiryReminderDays).toBeNull();
    const r1 = await newMember(laurel, r);
    const r2 = await newMember(laurel, r);
    const r3 = await newMember(laurel, r);
    const n1 = await newMember(laurel, n);
    const earnAt = async (at: string, tenantId: string, memberId: string, amount: number) => {
      laurel.clock.set(at);
      await earn(laurel, { tenantId, memberId, amount, idempotencyKey: key() });
    };
    await earnAt('2026-01-15T10:00:00Z', r.tenantId, r1, 100); // A, expires 2027-01-15T10:00Z
    await earnAt('2026-01-15T10:00:00Z', n.tenantId, n1, 100); //    the same, in the program without reminders
    await earnAt('2026-01-16T10:00:00Z', r.tenantId, r3, 40); //  G, expires 2027-01-16T10:00Z, spent below
    await earnAt('2026-01-20T10:00:00Z', r.tenantId, r2, 70); //  E, expires 2027-01-20T10:00Z
    await earnAt('2026-01-25T10:00:00Z', r.tenantId, r1, 200); // B, expires 2027-01-25T10:00:00Z
    await earnAt('2026-01-25T10:00:01Z', r.tenantId, r1, 300); // C, expires 2027-01-25T10:00:01Z
    await earnAt('2026-03-10T10:00:00Z', r.tenantId, r1, 400); // D, expires 2027-03-10T10:00Z (CET both years)
    // r1 spends 50: the soonest-expiring lot, A, pays; r3 spends all of G
    await redeem(laurel, { tenantId: r.tenantId, memberId: r1, amount: 50, idempotencyKey: key() });
    await redeem(laurel, { tenantId: r.tenantId, memberId: r3, amount: 40, idempotencyKey: key() });
    expect((await lotsOf(laurel, r.tenantId, r1)).map((l) => [l.remaining, l.expiresAt])).toEqual([
      [50n, '2027-01-15T10:00:00.000Z'], [200n, '2027-01-25T10:00:00.000Z'], [300n, '2027-01-25T10:00:01.000Z'], [400n, '2027-03-10T10:00:00.000Z'],
    ]);
    const lotOf = async (memberId: string, i: number) => (await laurel.db.selectFrom('lots').select('lot_id').where('tenant_id', '=', r.tenantId)
      .where('member_id', '=', memberId).orderBy('earned_at').orderBy('lot_id').execute())[i]!.lot_id;
    const [A, B, C, D, E] = [await lotOf(r1, 0), await lotOf(r1, 1), await lotOf(r1, 2), await lotOf(r1, 3), await lotOf(r2, 0)];
    const walletId = (await laurel.db.selectFrom('lots').select('wallet_id').where('lot_id', '=', A).executeTakeFirstOrThrow()).wallet_id;

    const reminders = async (tenantId: string) => (await listOutbox(laurel.db, tenantId, 'points.expiring')).map((o) => {
      const p = json(o.payload) as Record<string, unknown>;
      return { lotId: p.lotId, dedupeKey: o.dedupe_key, createdAt: iso(o.created_at), payload: { ...p, expiresAt: iso(p.expiresAt as string) } };
    });

    // 20 days before A expires: the window is (2026-12-26T10:00Z, 2027-01-25T10:00:00Z].
    // In: A (50 left), E, and B (on the edge). Out: C (a second late), D, G (spent), n1's lot.
    laurel.clock.set('2026-12-26T10:00:00Z');
    const first = await runJobNow(laurel, 'expiry_reminders');
    expect(first).toMatchObject({ job: 'expiry_reminders', status: 'succeeded', stats: { reminders: 3 } });
    const expected = (lotId: string, memberId: string, points: number, expiresAt: string, createdAt: string) => ({
      lotId, dedupeKey: `points.expiring:${lotId}`, createdAt,
      payload: { programId: r.programId, memberId, walletId: lotId === E ? expect.any(String) : walletId, lotId, points, expiresAt },
    });
    const firstBatch = [
      expected(A, r1, 50, '2027-01-15T10:00:00.000Z', '2026-12-26T10:00:00.000Z'),
      expected(E, r2, 70, '2027-01-20T10:00:00.000Z', '2026-12-26T10:00:00.000Z'),
      expected(B, r1, 200, '2027-01-25T10:00:00.000Z', '2026-12-26T10:00:00.000Z'),
    ];
    const byExpiry = <T extends { payload: { expiresAt: string | null } }>(xs: T[]) =>
      [...xs].sort((x, y) => String(x.payload.expiresAt).localeCompare(String(y.payload.expiresAt)));
    expect(byExpiry(await reminders(r.tenantId))).toEqual(firstBatch);

    // again, at once and a week later: nothing more
    expect((await runJobNow(laurel, 'expiry_reminders')).stats).toEqual({ reminders: 0 });
    laurel.clock.set('2027-01-02T09:00:00Z'); // window ends 2027-02-01T09:00Z: C is in now
    expect((await runJobNow(laurel, 'expiry_reminders')).stats).toEqual({ reminders: 1 });
    expect((await runJobNow(laurel, 'expiry_reminders')).stats).toEqual({ reminders: 0 });
    laurel.clock.set('2027-02-20T00:00:00Z'); // window ends 2027-03-22: D; A, B, C and E have expired
    expect((await runJobNow(laurel, 'expiry_reminders')).stats).toEqual({ reminders: 1 });
    expect(byExpiry(await reminders(r.tenantId))).toEqual([
      ...firstBatch,
      expected(C, r1, 300, '2027-01-25T10:00:01.000Z', '2027-01-02T09:00:00.000Z'),
      expected(D, r1, 400, '2027-03-10T10:00:00.000Z', '2027-02-20T00:00:00.000Z'),
    ]);
    expect(await reminders(n.tenantId)).toEqual([]);
    expect(await listOutbox(laurel.db, n.tenantId)).toEqual([]);

    // settle the expired lots; then nothing is left to remind, and the ledgers verify
    expect((await runJobNow(laurel, 'settle')).stats).toMatchObject({ lotsExpired: 5, pointsExpired: 50 + 70 + 200 + 300 + 100 });
    expect((await runJobNow(laurel, 'expiry_reminders')).stats).toEqual({ reminders: 0 });
    expect(await listOutbox(laurel.db, r.tenantId)).toHaveLength(5);
    expect((await runsOf('expiry_reminders')).map((x) => [x.trigger, x.status])).toEqual(Array(6).fill(['manual', 'succeeded']));
    await expectVerified(laurel, r.tenantId);
    await expectVerified(laurel, n.tenantId);
  });
});

describe('failures and backoff', () => {
  freshLaurelEachTest();

  it('a failed run is recorded and retried after 30 s, then 60 s, before its daily cron time; a success resets the count', async () => {
    const flaky = countingJob('flaky', '0 3 * * *', (n) => n <= 2);
    const jobs = [flaky];
    await installSchedules(laurel, jobs);
    expect(await scheduleOf('flaky')).toMatchObject({ nextRunAt: '2026-01-16T03:00:00.000Z', failures: 0 });

    laurel.clock.set('2026-01-16T03:00:05Z');
    expect(await runDueJobs(laurel, { jobs, worker: 'w' })).toEqual([
      { runId: expect.any(String), job: 'flaky', status: 'failed', stats: {}, error: 'flaky failed on run 1' },
    ]);
    // next cron time 2026-01-17T03:00Z; retry now + retryDelayMs(0) = 03:00:35: the retry first
    expect(retryDelayMs(0)).toBe(30_000);
    expect(await scheduleOf('flaky')).toMatchObject({ nextRunAt: '2026-01-16T03:00:35.000Z', failures: 1, leasedUntil: null });
    expect(await runsOf('flaky')).toEqual([{
      runId: expect.any(String), trigger: 'schedule', status: 'failed', worker: 'w', startedAt: '2026-01-16T03:00:05.000Z',
      finishedAt: '2026-01-16T03:00:05.000Z', stats: null, error: 'flaky failed on run 1',
    }]);

    laurel.clock.set('2026-01-16T03:00:34.999Z');
    expect(await runDueJobs(laurel, { jobs, worker: 'w' })).toEqual([]);
    laurel.clock.set('2026-01-16T03:00:35Z');
    expect(await runDueJobs(laurel, { jobs, worker: 'w' })).toMatchObject([{ status: 'failed', error: 'flaky failed on run 2' }]);
    expect(retryDelayMs(1)).toBe(60_000);
    expect(await scheduleOf('flaky')).toMatchObject({ nextRunAt: '2026-01-16T03:01:35.000Z', failures: 2, leasedUntil: null });

    laurel.clock.set('2026-01-16T03:01:34Z');
    expect(await runDueJobs(laurel, { jobs, worker: 'w' })).toEqual([]);
    laurel.clock.set('2026-01-16T03:01:35Z');
    expect(await runDueJobs(laurel, { jobs, worker: 'w' })).toMatchObject([{ status: 'succeeded', stats: { calls: 3 } }]);
    expect(await scheduleOf('flaky')).toMatchObject({ nextRunAt: '2026-01-17T03:00:00.000Z', failures: 0, leasedUntil: null });
    expect((await runsOf('flaky')).map((x) => [x.status, x.startedAt, x.error])).toEqual([
      ['failed', '2026-01-16T03:00:05.000Z', 'flaky failed on run 1'],
      ['failed', '2026-01-16T03:00:35.000Z', 'flaky failed on run 2'],
      ['succeeded', '2026-01-16T03:01:35.000Z', null],
    ]);
    expect(flaky.calls).toBe(3);
  });

  it('the backoff doubles up to an hour, and a cron time sooner than the retry stands', async () => {
    expect([0, 1, 2, 3, 6, 7, 20, 1000].map(retryDelayMs)).toEqual([30_000, 60_000, 120_000, 240_000, 1_920_000, 3_600_000, 3_600_000, 3_600_000]);

    const broken = countingJob('broken', '*/2 * * * *', () => true);
    await installSchedules(laurel, [broken]); // from 10:00:00: 10:02
    // each failure: the retry (now + 30 s · 2^(failures before)) against the next even minute
    const expected = [
      ['2026-01-15T10:02:00Z', '2026-01-15T10:02:30.000Z', 1], // retry 10:02:30 < cron 10:04
      ['2026-01-15T10:02:30Z', '2026-01-15T10:03:30.000Z', 2], // retry 10:03:30 < cron 10:04
      ['2026-01-15T10:03:30Z', '2026-01-15T10:04:00.000Z', 3], // retry 10:05:30 > cron 10:04: the cron
      ['2026-01-15T10:04:00Z', '2026-01-15T10:06:00.000Z', 4], // retry 10:08:00 > cron 10:06
    ] as const;
    for (const [at, next, failures] of expected) {
      laurel.clock.set(at);
      expect(await runDueJobs(laurel, { jobs: [broken], worker: 'w' })).toMatchObject([{ status: 'failed' }]);
      expect(await scheduleOf('broken')).toMatchObject({ nextRunAt: next, failures, leasedUntil: null });
    }
    expect((await runsOf('broken')).map((r) => r.status)).toEqual(['failed', 'failed', 'failed', 'failed']);
  });

  it('a manual run that fails is recorded but leaves the schedule alone; a schedule no worker knows is failed, not lost', async () => {
    const broken = countingJob('broken', '0 3 * * *', () => true);
    const other = countingJob('other', '0 4 * * *');
    await installSchedules(laurel, [broken, other]);
    const manual = await runJobNow(laurel, 'broken', () => {}, [broken]);
    expect(manual).toMatchObject({ job: 'broken', status: 'failed', error: 'broken failed on run 1' });
    expect(await runsOf('broken')).toMatchObject([{ runId: manual.runId, trigger: 'manual', status: 'failed', error: 'broken failed on run 1' }]);
    expect(await scheduleOf('broken')).toMatchObject({ nextRunAt: '2026-01-16T03:00:00.000Z', failures: 0 });

    // at 04:00 both are due; this worker knows only `broken`
    laurel.clock.set('2026-01-16T04:00:00Z');
    const outcomes = await runDueJobs(laurel, { jobs: [broken], worker: 'old' });
    expect(outcomes.map((o) => [o.job, o.status])).toEqual([['broken', 'failed']]);
    expect(await runsOf('other')).toMatchObject([{ trigger: 'schedule', status: 'failed', worker: 'old', error: 'this worker does not know job other' }]);
    expect(await scheduleOf('other')).toMatchObject({ nextRunAt: '2026-01-16T04:00:30.000Z', failures: 1, leasedUntil: null });
    expect(other.calls).toBe(0);
    // a worker that knows it runs it at the retry
    laurel.clock.set('2026-01-16T04:00:30Z');
    // (broken, failed again at 04:00, is due at its own retry, 04:00:30, too)
    const later = await runDueJobs(laurel, { jobs: [broken, other], worker: 'new' });
    expect(later.map((o) => [o.job, o.status]).sort()).toEqual([['broken', 'failed'], ['other', 'succeeded']]);
    expect(other.calls).toBe(1);
    expect(await scheduleOf('other')).toMatchObject({ nextRunAt: '2026-01-17T04:00:00.000Z', failures: 0 });
  });
});

describe('a crashed worker', () => {
  freshLaurelEachTest();

  it('keeps its job for the 30-minute lease; then the run is marked abandoned and another worker runs the job', async () => {
    const sweep = countingJob('sweep', '*/5 * * * *');
    await installSchedules(laurel, [sweep]); // 10:05
    laurel.clock.set('2026-01-15T10:05:00Z');
    // what a worker leaves when it dies right after claiming: the claim, and nothing after it
    const now = laurel.clock.now();
    const claimed = await claimDueJob(laurel.db, now, 'crashed', new Date(now.getTime() + LEASE_MS), (s) => nextRun(s.cron, s.timeZone, now));
    expect(claimed).toEqual({ runId: expect.any(String), job: 'sweep', failures: 0 });
    expect(await scheduleOf('sweep')).toMatchObject({ nextRunAt: '2026-01-15T10:10:00.000Z', leasedUntil: '2026-01-15T10:35:00.000Z' });
    expect(await runsOf('sweep')).toMatchObject([{ runId: claimed!.runId, status: 'running', worker: 'crashed', finishedAt: null }]);

    // due again since 10:10, but leased: nobody runs it
    for (const at of ['2026-01-15T10:10:00Z', '2026-01-15T10:34:59.999Z']) {
      laurel.clock.set(at);
      expect(await runDueJobs(laurel, { jobs: [sweep], worker: 'w2' })).toEqual([]);
    }
    expect(sweep.calls).toBe(0);

    laurel.clock.set('2026-01-15T10:35:00Z');
    expect(await runDueJobs(laurel, { jobs: [sweep], worker: 'w2' })).toMatchObject([{ job: 'sweep', status: 'succeeded' }]);
    expect(sweep.calls).toBe(1);
    expect(await runsOf('sweep')).toMatchObject([
      { runId: claimed!.runId, status: 'abandoned', worker: 'crashed', finishedAt: '2026-01-15T10:35:00.000Z', error: expect.stringMatching(/lease expired/) },
      { status: 'succeeded', worker: 'w2', startedAt: '2026-01-15T10:35:00.000Z', error: null },
    ]);
    expect(await scheduleOf('sweep')).toMatchObject({ nextRunAt: '2026-01-15T10:40:00.000Z', leasedUntil: null, failures: 0 });
    expect(await runDueJobs(laurel, { jobs: [sweep], worker: 'w2' })).toEqual([]);
  });

  it('a run that ends after its job was taken over stays abandoned and leaves the new run its lease', async () => {
    const sweep = countingJob('sweep', '*/5 * * * *');
    await installSchedules(laurel, [sweep]);
    const claim = async (worker: string) => {
      const now = laurel.clock.now();
      return (await claimDueJob(laurel.db, now, worker, new Date(now.getTime() + LEASE_MS), (s) => nextRun(s.cron, s.timeZone, now)))!;
    };
    laurel.clock.set('2026-01-15T10:05:00Z');
    const late = await claim('w1');
    laurel.clock.set('2026-01-15T10:40:00Z');
    const current = await claim('w2'); // w1's lease ran out at 10:35
    // w1 finishes at last: its record and the schedule are no longer its own
    await finishRun(laurel.db, { runId: late.runId, job: 'sweep', scheduled: true }, laurel.clock.now(), { done: 1 });
    await failRun(laurel.db, { runId: late.runId, job: 'sweep', scheduled: true }, laurel.clock.now(), 'late', laurel.clock.now());
    expect(await runsOf('sweep')).toMatchObject([
      { runId: late.runId, status: 'abandoned', stats: null },
      { runId: current.runId, status: 'running' },
    ]);
    expect(await scheduleOf('sweep')).toMatchObject({ nextRunAt: '2026-01-15T10:45:00.000Z', leasedUntil: '2026-01-15T11:10:00.000Z', failures: 0 });
  });

  it('runDueJobs holds the lease while its job runs', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    let started!: () => void;
    const running = new Promise<void>((resolve) => { started = resolve; });
    const slow: Job & { calls: number } = {
      name: 'slow', description: 'waits for the test', cron: '*/5 * * * *', timeZone: 'UTC', calls: 0,
      async run() { slow.calls++; started(); await gate; return {}; },
    };
    await installSchedules(laurel, [slow]);
    laurel.clock.set('2026-01-15T10:05:00Z');
    const first = runDueJobs(laurel, { jobs: [slow], worker: 'w1' });
    await running;
    expect(await scheduleOf('slow')).toMatchObject({ nextRunAt: '2026-01-15T10:10:00.000Z', leasedUntil: '2026-01-15T10:35:00.000Z' });
    laurel.clock.set('2026-01-15T10:20:00Z');
    expect(await runDueJobs(laurel, { jobs: [slow], worker: 'w2' })).toEqual([]);
    expect(slow.calls).toBe(1);
    release();
    // finished, w1 gives the lease back and polls on: the job, due since 10:10, runs again at once
    expect(await first).toMatchObject([{ job: 'slow', status: 'succeeded' }, { job: 'slow', status: 'succeeded' }]);
    expect(slow.calls).toBe(2);
    expect(await scheduleOf('slow')).toMatchObject({ nextRunAt: '2026-01-15T10:25:00.000Z', leasedUntil: null });
    expect((await runsOf('slow')).map((r) => [r.worker, r.status, r.startedAt])).toEqual([
      ['w1', 'succeeded', '2026-01-15T10:05:00.000Z'], ['w1', 'succeeded', '2026-01-15T10:20:00.000Z'],
    ]);
    expect(await runDueJobs(laurel, { jobs: [slow], worker: 'w2' })).toEqual([]);
  });
});

describe('a settlement killed half way', () => {
  freshLaurelEachTest();

  it('commits whole chunks only, and the next run settles the rest: each lot matures once, each hold is released once', async () => {
    const a = await newProgram(laurel, { returnWindowDays: 14 });
    const b = await newProgram(laurel);
    const aMembers: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const m = await newMember(laurel, a);
      aMembers.push(m);
      await earn(laurel, { tenantId: a.tenantId, memberId: m, amount: 100 * i, idempotencyKey: key() });
      await earn(laurel, { tenantId: a.tenantId, memberId: m, amount: 10 * i, idempotencyKey: key() });
    }
    const bMembers: string[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await newMember(laurel, b);
      bMembers.push(m);
      await earn(laurel, { tenantId: b.tenantId, memberId: m, amount: 500, idempotencyKey: key() });
      await createHold(laurel, { tenantId: b.tenantId, memberId: m, amount: 120, ttlSeconds: 3600, idempotencyKey: key() });
    }
    // 15 days on: 5 wallets with two lots to mature, 2 with a hold to release
    laurel.clock.advance(15 * DAY_MS);

    const chunks: number[] = [];
    const killed: Job = {
      name: 'settle', description: 'settles one wallet per chunk and dies after the first', cron: '* * * * *', timeZone: 'UTC',
      async run(l, now, progress) {
        await settleDue(l.db, now, 1, (total) => {
          chunks.push(total.wallets);
          progress({ done: total.wallets, unit: 'wallets' });
          throw new Error('killed after the first chunk');
        });
        return {};
      },
    };
    const progress: number[] = [];
    const outcome = await runJobNow(laurel, 'settle', (p) => progress.push(p.done), [killed]);
    expect(outcome).toMatchObject({ job: 'settle', status: 'failed', error: 'killed after the first chunk' });
    expect(chunks).toEqual([1]);
    expect(progress).toEqual([1]);
    // exactly one wallet settled, whole: its two lots matured, or its hold released
    const matured = await countEntries(a.tenantId, 'mature');
    const released = await countEntries(b.tenantId, 'release');
    expect([[2, 0], [0, 1]]).toContainEqual([matured, released]);
    await expectVerified(laurel, a.tenantId);
    await expectVerified(laurel, b.tenantId);

    const rerun = await runJobNow(laurel, 'settle');
    expect(rerun).toMatchObject({ status: 'succeeded', stats: { wallets: 6, lotsMatured: 10 - matured, holdsReleased: 2 - released, lotsExpired: 0 } });
    expect((await runsOf('settle')).map((r) => [r.runId, r.trigger, r.status])).toEqual([
      [outcome.runId, 'manual', 'failed'], [rerun.runId, 'manual', 'succeeded'],
    ]);
    // and once more: nothing is left
    expect((await runJobNow(laurel, 'settle')).stats).toEqual(noSettlement);

    const lots = await lotIds(a.tenantId);
    expect(lots).toHaveLength(10);
    const perLot = await entriesPerLot(a.tenantId, 'mature');
    expect(Object.fromEntries(lots.map((l) => [l, perLot.get(l)]))).toEqual(Object.fromEntries(lots.map((l) => [l, 1])));
    expect(perLot.size).toBe(10);
    const holds = await laurel.db.selectFrom('holds').select(['hold_id', 'status']).where('tenant_id', '=', b.tenantId).execute();
    expect(holds.map((h) => h.status)).toEqual(['expired', 'expired']);
    const releases = await laurel.db.selectFrom('journal_entries').select('hold_id').where('tenant_id', '=', b.tenantId).where('kind', '=', 'release').execute();
    expect(releases.map((r) => r.hold_id).sort()).toEqual(holds.map((h) => h.hold_id).sort());

    for (const [i, m] of aMembers.entries()) {
      expect(await getBalance(laurel, a.tenantId, m)).toMatchObject({ available: BigInt(110 * (i + 1)), pending: 0n, held: 0n });
    }
    for (const m of bMembers) expect(await getBalance(laurel, b.tenantId, m)).toMatchObject({ available: 500n, pending: 0n, held: 0n });
    await expectVerified(laurel, a.tenantId);
    await expectVerified(laurel, b.tenantId);
  });

  it('a scheduled settle that fails part way is retried 30 s later and finishes', async () => {
    const a = await newProgram(laurel, { returnWindowDays: 14 });
    const members: string[] = [];
    for (let i = 1; i <= 4; i++) {
      const m = await newMember(laurel, a);
      members.push(m);
      await earn(laurel, { tenantId: a.tenantId, memberId: m, amount: 10 * i, idempotencyKey: key() });
    }
    await installSchedules(laurel, SETTLING); // settle at 10:01 on the 15th
    laurel.clock.set('2026-01-30T12:00:00Z');
    let wallets = 0;
    const dying: Job = {
      ...BUILT_IN_JOBS.find((j) => j.name === 'settle')!,
      async run(l, now) {
        // two chunks of one wallet, then the worker dies
        await settleDue(l.db, now, 1, (total) => { wallets = total.wallets; if (total.wallets === 2) throw new Error('worker killed'); });
        return {};
      },
    };
    const jobs = [dying, ...SETTLING.filter((j) => j.name !== 'settle')];
    const first = await runDueJobs(laurel, { jobs, worker: 'dying' });
    expect(first.map((o) => [o.job, o.status])).toEqual([['settle', 'failed'], ['expiry_reminders', 'succeeded']]);
    expect(wallets).toBe(2);
    expect(await countEntries(a.tenantId, 'mature')).toBe(2);
    expect(await scheduleOf('settle')).toMatchObject({ nextRunAt: '2026-01-30T12:00:30.000Z', failures: 1, leasedUntil: null });

    laurel.clock.set('2026-01-30T12:00:30Z');
    expect(await runDueJobs(laurel, { jobs: SETTLING, worker: 'healthy' })).toMatchObject([{ job: 'settle', status: 'succeeded', stats: { wallets: 2, lotsMatured: 2 } }]);
    expect(await scheduleOf('settle')).toMatchObject({ nextRunAt: '2026-01-30T12:01:00.000Z', failures: 0 });
    const perLot = await entriesPerLot(a.tenantId, 'mature');
    expect([...perLot.values()]).toEqual([1, 1, 1, 1]);
    for (const [i, m] of members.entries()) expect(await getBalance(laurel, a.tenantId, m)).toMatchObject({ available: BigInt(10 * (i + 1)), pending: 0n });
    await expectVerified(laurel, a.tenantId);
  });
});

describe('runJobNow', () => {
  freshLaurelEachTest();

  it('of an unknown job is a not_found error naming job, and records nothing', async () => {
    const error = await runJobNow(laurel, 'no_such_job').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'not_found', field: 'job' });
    expect((error as Error).message).toMatch(/no_such_job/);
    // a job of the built-in list is unknown when the caller passes its own list
    await expect(runJobNow(laurel, 'settle', () => {}, [countingJob('other', '* * * * *')])).rejects.toMatchObject({ code: 'not_found', field: 'job' });
    expect(await listRuns(laurel.db, { limit: 10 })).toEqual([]);
  });
});
