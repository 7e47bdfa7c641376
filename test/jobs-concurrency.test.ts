// Jobs raced on PostgreSQL: several workers (runDueJobs / runJobNow with their own names, each
// call on its own pooled connections, as separate `laurel worker` processes would be) over one
// database, at once. Each due job runs once, and every job's effect happens once: each lot
// matures or expires once, each reminder is queued once. Every scenario ends with `laurel verify`.
// PGlite has one connection and serialises everything, so there the file is skipped.
// Jobs run over the whole database, so each test opens a Laurel (a database) of its own.
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { listOutbox, queueExpiryReminders } from '../src/db/jobs.js';
import { settleDue } from '../src/db/settlement.js';
import { BUILT_IN_JOBS, type Job } from '../src/jobs/registry.js';
import { installSchedules, runDueJobs, runJobNow, type RunOutcome } from '../src/jobs/runner.js';
import { createHold, earn, getBalance } from '../src/services/ledger.js';
import type { Program } from '../src/services/tenants.js';
import { expectVerified, key, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

/** Connections of this file: 4 workers and the set-up's parallel requests need no more. */
const CONNECTIONS = 12;
const WORKERS = 4;
let laurel: Awaited<ReturnType<typeof openTestLaurel>>;

const times = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));

/** Runs make(0…n-1), `width` at a time. */
async function inParallel<T>(n: number, width: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(times(width, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await make(i);
    }
  }));
  return out;
}

/** `WORKERS` workers at once; every one must finish without an error. */
async function allAtOnce<T>(work: (worker: string) => Promise<T>): Promise<T[]> {
  return Promise.all(times(WORKERS, (i) => work(`worker-${i + 1}`)));
}

const sumOf = (outcomes: RunOutcome[], stat: string): number => outcomes.reduce((s, o) => s + (o.stats[stat] ?? 0), 0);

async function membersWith(program: Program, n: number, amount: (i: number) => number): Promise<string[]> {
  return inParallel(n, 8, async (i) => {
    const m = await newMember(laurel, program);
    await earn(laurel, { tenantId: program.tenantId, memberId: m, amount: amount(i), idempotencyKey: key() });
    return m;
  });
}

/** Runs of each job: how many, and in which states. */
async function runCounts(): Promise<Record<string, Record<string, number>>> {
  const rows = await laurel.db.selectFrom('job_runs').select(['job', 'status', sql<number>`count(*)::int`.as('n')])
    .groupBy(['job', 'status']).execute();
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) (out[r.job] ??= {})[r.status] = r.n;
  return out;
}

/** For each lot of the tenant, how many lot movements belong to a journal entry of `kind`. */
async function movementsPerLot(tenantId: string, kind: string): Promise<number[]> {
  const { rows } = await sql<{ n: number }>`
    select (select count(*)::int from lot_movements m join journal_entries e on e.tenant_id = m.tenant_id and e.entry_id = m.entry_id
            where m.tenant_id = l.tenant_id and m.lot_id = l.lot_id and e.kind = ${kind}) as n
    from lots l where l.tenant_id = ${tenantId}`.execute(laurel.db);
  return rows.map((r) => r.n);
}

/** For each lot of the tenant, how many expiries took from it (an expire entry's row lists its lots). */
async function expiriesPerLot(tenantId: string): Promise<number[]> {
  const { rows } = await sql<{ n: number }>`
    select (select count(*)::int from lot_expiries x where x.tenant_id = l.tenant_id and l.lot_id = any(x.lot_ids)) as n
    from lots l where l.tenant_id = ${tenantId}`.execute(laurel.db);
  return rows.map((r) => r.n);
}

describe.skipIf(!onPostgres)('jobs raced by several workers on PostgreSQL', () => {
  beforeEach(async () => {
    laurel = await openTestLaurel('2026-01-15T10:00:00Z', {}, CONNECTIONS);
    await Promise.all(times(CONNECTIONS, () => sql`select pg_sleep(0.05)`.execute(laurel.db)));
  });
  afterEach(async () => { await laurel?.close(); });

  it('10 due jobs polled by 4 workers at once, three rounds: each job runs once a round, and its effect happens once', async () => {
    // settle's work: 40 wallets with points pending for 14 days
    const p = await newProgram(laurel, { returnWindowDays: 14 });
    const pending = await membersWith(p, 40, (i) => 10 + i);
    // 8 jobs of the test's own, each earning 10 points for a member of its own with a fresh key:
    // an effect that is not idempotent, so a second run of a job would show in its member's balance
    const q = await newProgram(laurel);
    const calls = new Map<string, number>();
    const ticks: (Job & { memberId: string })[] = await inParallel(8, 8, async (k) => {
      const memberId = await newMember(laurel, q);
      const name = `tick_${k}`;
      return {
        name, description: 'earns 10 points', cron: '*/10 * * * *', timeZone: 'UTC', memberId,
        async run(l) {
          calls.set(name, (calls.get(name) ?? 0) + 1);
          await sql`select pg_sleep(0.02)`.execute(l.db); // long enough for the workers to overlap
          await earn(l, { tenantId: q.tenantId, memberId, amount: 10, idempotencyKey: key() });
          return { earned: 10 };
        },
      };
    });
    // the ledger's two jobs, due at each round's time, and the ticks (the other built-in jobs run on schedules of their own)
    const jobs = [...BUILT_IN_JOBS.filter((j) => j.name === 'settle' || j.name === 'expiry_reminders'), ...ticks];

    laurel.clock.set('2026-01-30T11:00:00Z');
    await allAtOnce(() => installSchedules(laurel, jobs)); // every worker installs on start
    expect((await laurel.db.selectFrom('job_schedules').select('job').execute()).length).toBe(10);

    for (let round = 0; round < 3; round++) {
      // 11:20, 11:40, 12:00: settle (every minute), reminders (quarter hours) and the ticks (every 10 min) are all due
      laurel.clock.set(new Date(Date.parse('2026-01-30T11:20:00Z') + round * 20 * 60_000));
      const outcomes = (await allAtOnce((worker) => runDueJobs(laurel, { jobs, worker }))).flat();
      expect(outcomes.map((o) => o.job).sort()).toEqual(jobs.map((j) => j.name).sort());
      expect(outcomes.filter((o) => o.status !== 'succeeded')).toEqual([]);
      const settle = outcomes.find((o) => o.job === 'settle')!;
      expect(settle.stats).toMatchObject(round === 0 ? { wallets: 40, lotsMatured: 40 } : { wallets: 0, lotsMatured: 0 });
      // nothing is due any more, and nothing is leased
      expect(await allAtOnce((worker) => runDueJobs(laurel, { jobs, worker }))).toEqual(times(WORKERS, () => []));
      const schedules = await laurel.db.selectFrom('job_schedules').selectAll().execute();
      expect(schedules.filter((s) => s.leased_until !== null || s.failures !== 0 || s.next_run_at <= laurel.clock.now())).toEqual([]);
    }

    expect(await runCounts()).toEqual(Object.fromEntries(jobs.map((j) => [j.name, { succeeded: 3 }])));
    expect(Object.fromEntries(calls)).toEqual(Object.fromEntries(ticks.map((t) => [t.name, 3])));
    for (const t of ticks) {
      expect(await getBalance(laurel, q.tenantId, t.memberId)).toMatchObject({ available: 30n, lifetimeEarned: 30n });
    }
    expect(await movementsPerLot(p.tenantId, 'earn')).toEqual(times(40, () => 1));
    const matures = await laurel.db.selectFrom('journal_entries').select(['lot_id', sql<number>`count(*)::int`.as('n')])
      .where('tenant_id', '=', p.tenantId).where('kind', '=', 'mature').groupBy('lot_id').execute();
    expect(matures).toHaveLength(40);
    expect(matures.every((m) => m.n === 1 && m.lot_id !== null)).toBe(true);
    for (const [i, m] of pending.entries()) {
      expect(await getBalance(laurel, p.tenantId, m)).toMatchObject({ available: BigInt(10 + i), pending: 0n });
    }
    await expectVerified(laurel, p.tenantId);
    await expectVerified(laurel, q.tenantId);
  });

  it("runJobNow('settle') from 4 workers at once over 200 wallets due to expire: each lot expires once", async () => {
    // lots expire 12 months after they are earned; every 4th wallet also has a one-hour hold of 1 point
    const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 12 } });
    const members = await membersWith(p, 200, (i) => i + 1);
    await inParallel(50, 8, (j) => createHold(laurel, { tenantId: p.tenantId, memberId: members[4 * j]!, amount: 1, ttlSeconds: 3600, idempotencyKey: key() }));
    const total = (200 * 201) / 2; // 20,100

    laurel.clock.set('2027-01-16T10:00:00Z');
    const outcomes = await allAtOnce(() => runJobNow(laurel, 'settle'));
    expect(outcomes.filter((o) => o.status !== 'succeeded')).toEqual([]);
    // Each wallet is counted by the one worker that settled it, even when a worker's lock
    // reached rows another had just settled (settleDue drops those before counting).
    expect(sumOf(outcomes, 'wallets')).toBe(200);
    expect(sumOf(outcomes, 'lotsExpired')).toBe(200);
    expect(sumOf(outcomes, 'holdsReleased')).toBe(50);
    expect(sumOf(outcomes, 'pointsExpired')).toBe(total);
    expect(await runCounts()).toEqual({ settle: { succeeded: 4 } });

    // one expiry per lot, one expiry entry (per wallet) per member, nothing left
    expect(await expiriesPerLot(p.tenantId)).toEqual(times(200, () => 1));
    const perMember = await laurel.db.selectFrom('journal_entries').select(['member_id', 'amount'])
      .where('tenant_id', '=', p.tenantId).where('kind', '=', 'expire').execute();
    expect(perMember).toHaveLength(200);
    expect(new Set(perMember.map((e) => e.member_id)).size).toBe(200);
    const left = await laurel.db.selectFrom('lots').select(sql<number>`count(*)::int`.as('n')).where('tenant_id', '=', p.tenantId)
      .where('remaining', '<>', 0n).executeTakeFirstOrThrow();
    expect(left.n).toBe(0);
    for (const i of [0, 1, 99, 199]) {
      expect(await getBalance(laurel, p.tenantId, members[i]!)).toMatchObject({ available: 0n, held: 0n, expired: BigInt(i + 1) });
    }
    const holds = await laurel.db.selectFrom('holds').select('status').where('tenant_id', '=', p.tenantId).execute();
    expect(holds.map((h) => h.status)).toEqual(times(50, () => 'expired'));
    expect((await runJobNow(laurel, 'settle')).stats).toMatchObject({ wallets: 0 });
    await expectVerified(laurel, p.tenantId);
  });

  it('4 workers settling in chunks of 7 wallets at once: 105 wallets, each lot expires once', async () => {
    const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 1 } });
    const members = await membersWith(p, 105, (i) => 100 + i);
    const chunked: Job = {
      ...BUILT_IN_JOBS.find((j) => j.name === 'settle')!,
      async run(l, now) {
        const chunks: number[] = [];
        let before = 0;
        const r = await settleDue(l.db, now, 7, (t) => { chunks.push(t.wallets - before); before = t.wallets; });
        return { wallets: r.wallets, lotsExpired: r.lotsExpired, pointsExpired: Number(r.pointsExpired), chunks: chunks.length };
      },
    };
    laurel.clock.set('2026-02-16T10:00:00Z');
    const outcomes = await allAtOnce(() => runJobNow(laurel, 'settle', () => {}, [chunked]));
    expect(outcomes.filter((o) => o.status !== 'succeeded')).toEqual([]);
    expect(sumOf(outcomes, 'wallets')).toBe(105);
    expect(sumOf(outcomes, 'lotsExpired')).toBe(105);
    expect(sumOf(outcomes, 'pointsExpired')).toBe(105 * 100 + (104 * 105) / 2);
    expect(await expiriesPerLot(p.tenantId)).toEqual(times(105, () => 1));
    expect(await getBalance(laurel, p.tenantId, members[104]!)).toMatchObject({ available: 0n, expired: 204n });
    expect((await runJobNow(laurel, 'settle')).stats).toMatchObject({ wallets: 0 });
    await expectVerified(laurel, p.tenantId);
  });

  it("runJobNow('expiry_reminders') from 4 workers at once over 300 lots: exactly 300 reminders", async () => {
    const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 12 }, expiryReminderDays: 30 });
    const members = await inParallel(100, 8, () => newMember(laurel, p));
    // three lots each, earned 15, 16 and 17 January 2026: they expire 15–17 January 2027
    for (let d = 0; d < 3; d++) {
      laurel.clock.set(new Date(Date.parse('2026-01-15T10:00:00Z') + d * DAY_MS));
      await inParallel(100, 8, (i) => earn(laurel, { tenantId: p.tenantId, memberId: members[i]!, amount: 1 + i + d, idempotencyKey: key() }));
    }
    laurel.clock.set('2026-12-26T10:00:00Z'); // reminders for everything expiring by 2027-01-25T10:00Z
    const outcomes = await allAtOnce(() => runJobNow(laurel, 'expiry_reminders'));
    expect(outcomes.filter((o) => o.status !== 'succeeded')).toEqual([]);
    expect(sumOf(outcomes, 'reminders')).toBe(300);

    const outbox = await listOutbox(laurel.db, p.tenantId, 'points.expiring');
    expect(outbox).toHaveLength(300);
    const lotsReminded = outbox.map((o) => (typeof o.payload === 'string' ? JSON.parse(o.payload) : o.payload).lotId as string);
    const lots = await laurel.db.selectFrom('lots').select('lot_id').where('tenant_id', '=', p.tenantId).execute();
    expect(lotsReminded.sort()).toEqual(lots.map((l) => l.lot_id).sort());
    expect((await runJobNow(laurel, 'expiry_reminders')).stats).toEqual({ reminders: 0 });
    expect(await listOutbox(laurel.db, p.tenantId)).toHaveLength(300);
    await expectVerified(laurel, p.tenantId);
  });

  it('4 workers queueing reminders in chunks of 7 at once: each lot reminded once', async () => {
    const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 12 }, expiryReminderDays: 30 });
    await membersWith(p, 150, (i) => i + 1);
    const chunked: Job = {
      ...BUILT_IN_JOBS.find((j) => j.name === 'expiry_reminders')!,
      async run(l, now) {
        let queued = 0;
        for (;;) {
          const n = await queueExpiryReminders(l.db, now, 7);
          queued += n;
          if (n < 7) return { reminders: queued };
        }
      },
    };
    laurel.clock.set('2026-12-26T10:00:00Z');
    const outcomes = await allAtOnce(() => runJobNow(laurel, 'expiry_reminders', () => {}, [chunked]));
    expect(outcomes.filter((o) => o.status !== 'succeeded')).toEqual([]);
    const raced = sumOf(outcomes, 'reminders');
    // A worker whose chunk meets rows another worker has just queued inserts fewer than 7 and
    // stops, leaving the rest to the others; whatever the race may leave, one more run queues it,
    // and no lot is ever reminded twice.
    const after = (await runJobNow(laurel, 'expiry_reminders', () => {}, [chunked])).stats.reminders!;
    expect(raced + after).toBe(150);
    const outbox = await listOutbox(laurel.db, p.tenantId, 'points.expiring');
    expect(outbox).toHaveLength(150);
    expect(new Set(outbox.map((o) => o.dedupe_key)).size).toBe(150);
    await expectVerified(laurel, p.tenantId);
  });
});
