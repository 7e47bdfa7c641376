// Jobs over HTTP: the operator sees each schedule and the record of every run; a tenant's key,
// even an admin one, sees nothing of them (jobs run across tenants).
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSchedules, runJobNow } from '../src/jobs/runner.js';
import { call, newTenant, openTestApp, type TestLaurel } from './support/http.js';

const OPERATOR_KEY = 'operator-key-for-the-jobs-test-0123456789';
process.env.LAUREL_OPERATOR_KEY = OPERATOR_KEY;

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => ({ laurel, app } = await openTestApp()));
afterAll(async () => { await app.close(); await laurel.close(); });

describe('GET /v1/jobs and /v1/jobs/runs', () => {
  it('show the operator every schedule, its next run and its runs, newest first', async () => {
    await installSchedules(laurel);
    const manual = await runJobNow(laurel, 'expiry_reminders');
    const jobs = await call(app, { method: 'GET', url: '/v1/jobs', key: OPERATOR_KEY });
    expect(jobs.statusCode, jobs.body).toBe(200);
    const byName = Object.fromEntries(jobs.json().data.map((j: { job: string }) => [j.job, j]));
    expect(byName.settle).toMatchObject({ object: 'job', cron: '* * * * *', timeZone: 'UTC', enabled: true, failures: 0, leasedUntil: null });
    expect(byName.expiry_reminders.lastRun).toMatchObject({ runId: manual.runId, trigger: 'manual', status: 'succeeded', stats: { reminders: 0 } });
    expect(new Date(byName.settle.nextRunAt).getTime()).toBeGreaterThan(laurel.clock.now().getTime());

    const second = await runJobNow(laurel, 'settle');
    const runs = await call(app, { method: 'GET', url: '/v1/jobs/runs?limit=10', key: OPERATOR_KEY });
    expect(runs.statusCode, runs.body).toBe(200);
    expect(runs.json().data.map((r: { runId: string }) => r.runId).slice(0, 2)).toEqual([second.runId, manual.runId]);
    const settleOnly = await call(app, { method: 'GET', url: '/v1/jobs/runs?job=settle', key: OPERATOR_KEY });
    const settles = settleOnly.json().data as { job: string; runId: string }[];
    expect(settles.map((r) => r.runId)).toContain(second.runId);
    expect(settles.every((r) => r.job === 'settle')).toBe(true);
    expect(settles.map((r) => r.runId)).not.toContain(manual.runId);
  });

  it('refuse a tenant key, however powerful, and no key at all', async () => {
    const t = await newTenant(laurel);
    for (const key of [t.keys.admin, undefined]) {
      const r = await call(app, { method: 'GET', url: '/v1/jobs', key });
      expect(r.statusCode).toBe(403);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });
});
