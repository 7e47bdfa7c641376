// Scheduled jobs and their runs, for the deployment's operator (LAUREL_OPERATOR_KEY): jobs run
// across tenants, so no tenant's key sees them.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { listRuns, listSchedules } from '../../db/jobs.js';
import type { Laurel } from '../../services/context.js';
import { isOperator } from '../auth.js';
import { httpProblem } from '../problems.js';
import { described, Id, Nullable, operatorErrors, Timestamp } from '../schemas.js';

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

export const jobRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
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
