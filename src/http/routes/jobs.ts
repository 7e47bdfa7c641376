// Scheduled jobs and their runs, for the deployment's operator (LAUREL_OPERATOR_KEY): jobs run
// across tenants, so no tenant's key sees them in full. A tenant's owner reads /job-schedules:
// the schedules and the status of recent runs, nothing a run learned about any tenant.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { listRuns, listSchedules, recentRunsPerJob } from '../../db/jobs.js';
import type { Laurel } from '../../services/context.js';
import { isOperator } from '../auth.js';
import { httpProblem } from '../problems.js';
import { described, errors, Id, Nullable, operatorErrors, Timestamp } from '../schemas.js';

const RunSchema = Type.Object({
  object: Type.Literal('job_run'),
  runId: Id('the run'),
  job: Type.String({ examples: ['settle'] }),
  trigger: Type.String({ enum: ['schedule', 'manual'] }),
  status: Type.String({ enum: ['running', 'succeeded', 'failed', 'abandoned'], description: 'abandoned: its worker stopped before it finished; the next run does the rest' }),
  worker: Type.String({ description: 'host:pid of the worker that ran it' }),
  startedAt: Timestamp('when it started'),
  finishedAt: Nullable(Timestamp('when it ended')),
  stats: Nullable(Type.Record(Type.String(), Type.Number(), { description: 'what it did: wallets settled, lots expired, reminders queued…' })),
  error: Nullable(Type.String()),
});

const ScheduleSchema = Type.Object({
  object: Type.Literal('job'),
  job: Type.String({ examples: ['settle'] }),
  cron: Type.String({ examples: ['* * * * *'] }),
  timeZone: Type.String({ examples: ['UTC'] }),
  enabled: Type.Boolean(),
  nextRunAt: Timestamp('when it is due next'),
  failures: Type.Integer({ description: 'failed runs in a row (the retry backoff grows with them)' }),
  leasedUntil: Nullable(Timestamp('a run is in progress until at most then')),
  lastRun: Nullable(RunSchema),
});

type RunRow = Awaited<ReturnType<typeof listRuns>>[number];
const presentRun = (r: RunRow) => ({
  object: 'job_run' as const, runId: r.run_id, job: r.job, trigger: r.trigger, status: r.status, worker: r.worker,
  startedAt: r.started_at.toISOString(), finishedAt: r.finished_at?.toISOString() ?? null,
  stats: (r.stats as Record<string, number> | null) ?? null, error: r.error,
});

function operatorOnly(request: FastifyRequest): void {
  if (!isOperator(request)) throw httpProblem('forbidden', 'jobs run across tenants: they need the operator key (LAUREL_OPERATOR_KEY) of this deployment');
}

// What a tenant may see of jobs that run across every tenant: when each runs and whether its runs
// succeed. Not what a run did (its stats add up every tenant's figures), not its error (it may
// quote another tenant's data), not the worker (the deployment's hosts).
const TenantRunSchema = Type.Object({
  runId: Id('the run'),
  trigger: Type.String({ enum: ['schedule', 'manual'] }),
  status: Type.String({ enum: ['running', 'succeeded', 'failed', 'abandoned'] }),
  startedAt: Timestamp('when it started'),
  finishedAt: Nullable(Timestamp('when it ended')),
});

const TenantJobSchema = Type.Object({
  object: Type.Literal('job_schedule'),
  job: Type.String({ examples: ['settle'] }),
  cron: Type.String({ examples: ['* * * * *'] }),
  timeZone: Type.String({ examples: ['UTC'] }),
  enabled: Type.Boolean(),
  nextRunAt: Timestamp('when it is due next'),
  failures: Type.Integer({ description: 'failed runs in a row' }),
  running: Type.Boolean({ description: 'whether a run is in progress' }),
  recentRuns: Type.Array(TenantRunSchema, { description: 'its newest runs, newest first' }),
});

export const jobRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/job-schedules', {
    schema: {
      operationId: 'listJobSchedules', summary: 'Jobs as a tenant sees them', tags: ['jobs'],
      description: "Every scheduled job (they run for all tenants of the deployment) with its cron, next due time, failures in a row and its newest runs: their trigger, status and times, and nothing else. What a run did, its error and its worker are left out: a run's figures add up every tenant's and its error may quote another tenant's data (the deployment's own key reads them at `GET /v1/jobs`). An owner or an admin key may read it.",
      querystring: Type.Object({ runs: Type.Optional(Type.Integer({ minimum: 0, maximum: 20, description: 'runs per job (default 5)' })) }, { additionalProperties: false }),
      response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(TenantJobSchema) }), 'Every job with its schedule and newest runs.'), ...errors(403) },
    },
    config: { access: { scopes: ['admin'], roles: ['owner'] } },
  }, async (request) => {
    const now = laurel.clock.now();
    const runs = await recentRunsPerJob(laurel.db, request.query.runs ?? 5);
    const data = (await listSchedules(laurel.db)).map((s) => ({
      object: 'job_schedule' as const, job: s.job, cron: s.cron, timeZone: s.time_zone, enabled: s.enabled, nextRunAt: s.next_run_at.toISOString(),
      failures: s.failures, running: s.leased_until !== null && s.leased_until > now,
      recentRuns: runs.filter((r) => r.job === s.job).map((r) => ({
        runId: r.run_id, trigger: r.trigger, status: r.status, startedAt: r.started_at.toISOString(), finishedAt: r.finished_at?.toISOString() ?? null,
      })),
    }));
    return { object: 'list' as const, data };
  });

  app.get('/jobs', {
    schema: {
      operationId: 'listJobs', summary: 'Scheduled jobs', tags: ['jobs'],
      description: 'Operator only. Each job with its cron (in its time zone), next due time, failures in a row and last run. `laurel jobs schedule` changes a schedule; `laurel jobs run` runs a job now.',
      response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(ScheduleSchema) }), 'Every job with its schedule.'), ...operatorErrors(403) },
    },
    config: { access: { scopes: 'public' } },
  }, async (request) => {
    operatorOnly(request);
    const runs = await listRuns(laurel.db, { limit: 500 });
    const data = (await listSchedules(laurel.db)).map((s) => {
      const last = runs.find((r) => r.job === s.job);
      return {
        object: 'job' as const, job: s.job, cron: s.cron, timeZone: s.time_zone, enabled: s.enabled, nextRunAt: s.next_run_at.toISOString(),
        failures: s.failures, leasedUntil: s.leased_until?.toISOString() ?? null, lastRun: last ? presentRun(last) : null,
      };
    });
    return { object: 'list' as const, data };
  });

  app.get('/jobs/runs', {
    schema: {
      operationId: 'listJobRuns', summary: 'Job runs', tags: ['jobs'], description: 'Operator only. The record of every run, newest first.',
      querystring: Type.Object({
        job: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'default 50' })),
      }, { additionalProperties: false }),
      response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(RunSchema) }), 'Runs, newest first.'), ...operatorErrors(403) },
    },
    config: { access: { scopes: 'public' } },
  }, async (request) => {
    operatorOnly(request);
    const runs = await listRuns(laurel.db, { job: request.query.job, limit: request.query.limit ?? 50 });
    return { object: 'list' as const, data: runs.map(presentRun) };
  });
};
