// Job schedules, runs and the outbox. A worker claims a due job with FOR UPDATE SKIP LOCKED
// (other workers skip the row), moves its next run on and takes a lease, all in one short
// transaction; the job then runs in transactions of its own. A lease that runs out marks a
// crashed run abandoned, and the job is due again.
import { sql } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import type { Db } from './schema.js';

export interface ScheduleSpec {
  job: string;
  cron: string;
  timeZone: string;
}

/** Adds the schedules of jobs that have none yet; a schedule an operator changed is left as it is. */
export async function ensureSchedules(db: Db, specs: readonly ScheduleSpec[], firstRunAt: (spec: ScheduleSpec) => Date): Promise<void> {
  if (specs.length === 0) return;
  await db.insertInto('job_schedules')
    .values(specs.map((s) => ({ job: s.job, cron: s.cron, time_zone: s.timeZone, next_run_at: firstRunAt(s) })))
    .onConflict((oc) => oc.column('job').doNothing()).execute();
}

export interface Claimed {
  runId: string;
  job: string;
  failures: number;
}

/**
 * Claims the job that has been due longest, if any: its next run is set by `nextRunAt` (its cron
 * after now) and it is leased until `leaseUntil`; the run is recorded as running.
 */
export async function claimDueJob(db: Db, now: Date, worker: string, leaseUntil: Date,
  nextRunAt: (schedule: { cron: string; timeZone: string }) => Date): Promise<Claimed | null> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('job_schedules').selectAll()
      .where('enabled', '=', true).where('next_run_at', '<=', now)
      .where((eb) => eb.or([eb('leased_until', 'is', null), eb('leased_until', '<=', now)]))
      .orderBy('next_run_at').limit(1).forUpdate().skipLocked().executeTakeFirst();
    if (!row) return null;
    if (row.leased_until !== null) {
      await trx.updateTable('job_runs').set({ status: 'abandoned', finished_at: now, error: 'the worker stopped before the run finished (lease expired)' })
        .where('job', '=', row.job).where('status', '=', 'running').execute();
    }
    await trx.updateTable('job_schedules')
      .set({ next_run_at: nextRunAt({ cron: row.cron, timeZone: row.time_zone }), leased_until: leaseUntil })
      .where('job', '=', row.job).execute();
    const runId = uuidv7(now.getTime());
    await trx.insertInto('job_runs').values({ run_id: runId, job: row.job, trigger: 'schedule', status: 'running', worker, started_at: now }).execute();
    return { runId, job: row.job, failures: row.failures };
  });
}

export async function startManualRun(db: Db, job: string, worker: string, now: Date): Promise<string> {
  const runId = uuidv7(now.getTime());
  await db.insertInto('job_runs').values({ run_id: runId, job, trigger: 'manual', status: 'running', worker, started_at: now }).execute();
  return runId;
}

/**
 * Records a run's end. A run that outlived its lease was marked abandoned and its job taken over:
 * its record stays abandoned and it no longer touches the schedule, which is the new run's now.
 */
export async function finishRun(db: Db, run: { runId: string; job: string; scheduled: boolean }, now: Date, stats: Record<string, number>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const ended = await trx.updateTable('job_runs').set({ status: 'succeeded', finished_at: now, stats: JSON.stringify(stats) })
      .where('run_id', '=', run.runId).where('status', '=', 'running').executeTakeFirst();
    if (run.scheduled && Number(ended.numUpdatedRows) === 1) {
      await trx.updateTable('job_schedules').set({ failures: 0, leased_until: null }).where('job', '=', run.job).execute();
    }
  });
}

/** Records a failure; a scheduled job is retried after `retryAt` (or at its next cron time, if sooner). */
export async function failRun(db: Db, run: { runId: string; job: string; scheduled: boolean }, now: Date, error: string, retryAt: Date): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const ended = await trx.updateTable('job_runs').set({ status: 'failed', finished_at: now, error: error.slice(0, 4000) })
      .where('run_id', '=', run.runId).where('status', '=', 'running').executeTakeFirst();
    if (run.scheduled && Number(ended.numUpdatedRows) === 1) {
      await trx.updateTable('job_schedules')
        .set((eb) => ({ failures: eb('failures', '+', 1), leased_until: null, next_run_at: sql`least(${eb.ref('next_run_at')}, ${retryAt})` }))
        .where('job', '=', run.job).execute();
    }
  });
}

export async function setSchedule(db: Db, job: string, change: { cron?: string; timeZone?: string; enabled?: boolean; nextRunAt?: Date }): Promise<boolean> {
  const r = await db.updateTable('job_schedules').set({
    ...(change.cron !== undefined ? { cron: change.cron } : {}), ...(change.timeZone !== undefined ? { time_zone: change.timeZone } : {}),
    ...(change.enabled !== undefined ? { enabled: change.enabled } : {}), ...(change.nextRunAt !== undefined ? { next_run_at: change.nextRunAt } : {}),
  }).where('job', '=', job).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function listSchedules(db: Db) {
  return db.selectFrom('job_schedules').selectAll().orderBy('job').execute();
}

export async function listRuns(db: Db, filter: { job?: string; limit: number }) {
  let q = db.selectFrom('job_runs').selectAll();
  if (filter.job) q = q.where('job', '=', filter.job);
  return q.orderBy('run_id', 'desc').limit(filter.limit).execute();
}

/**
 * Queues a `points.expiring` message for up to `chunk` lots that expire within their program's
 * reminder days and have none yet; returns how many. Once per lot: the dedupe key is the lot's,
 * so two workers running this at once queue each reminder once.
 */
export async function queueExpiryReminders(db: Db, now: Date, chunk: number): Promise<number> {
  const result = await sql`
    insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
    select l.tenant_id, laurel_uuid_v7(), 'points.expiring', 'points.expiring:' || l.lot_id,
           jsonb_build_object('programId', l.program_id, 'memberId', l.member_id, 'walletId', l.wallet_id, 'lotId', l.lot_id,
                              'points', l.remaining, 'expiresAt', l.expires_at),
           ${now}
    from lots l
    join programs p on p.tenant_id = l.tenant_id and p.program_id = l.program_id
    where p.expiry_reminder_days is not null and l.remaining > 0 and not l.pending
      and l.expires_at > ${now} and l.expires_at <= ${now}::timestamptz + make_interval(days => p.expiry_reminder_days)
      and not exists (select 1 from outbox o where o.tenant_id = l.tenant_id and o.dedupe_key = 'points.expiring:' || l.lot_id)
    order by l.expires_at
    limit ${chunk}
    on conflict (tenant_id, dedupe_key) do nothing`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/** Writes an outbox message in the caller's transaction; its dedupe key makes a second one a no-op. */
/** A message to the outbox, told in the statement that records what it tells. */
export interface OutboxMessage {
  type: string;
  dedupeKey: string;
  payload: Record<string, unknown>;
}

/** A message's payload as the outbox stores it: JSON, points as numbers (receivers read JSON numbers). */
export const outboxPayload = (payload: Record<string, unknown>): string =>
  JSON.stringify(payload, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));

export async function enqueueMessage(trx: Db, tenantId: string, type: string, dedupeKey: string, payload: Record<string, unknown>, now: Date): Promise<void> {
  await sql`
    insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
    values (${tenantId}, ${uuidv7()}, ${type}, ${dedupeKey}, ${outboxPayload(payload)}, ${now})
    on conflict (tenant_id, dedupe_key) do nothing`.execute(trx);
}

export async function listOutbox(db: Db, tenantId: string, type?: string) {
  let q = db.selectFrom('outbox').selectAll().where('tenant_id', '=', tenantId);
  if (type) q = q.where('type', '=', type);
  return q.orderBy('message_id').execute();
}

/** The newest `perJob` runs of every job, in one statement (the console's tenant view of jobs). */
export async function recentRunsPerJob(db: Db, perJob: number) {
  return db.selectFrom((eb) => eb.selectFrom('job_runs')
    .select(['run_id', 'job', 'trigger', 'status', 'started_at', 'finished_at'])
    .select(sql<number>`row_number() over (partition by job order by run_id desc)`.as('n'))
    .as('r'))
    .selectAll('r').where('r.n', '<=', perJob).orderBy('r.job').orderBy('r.run_id', 'desc').execute();
}
