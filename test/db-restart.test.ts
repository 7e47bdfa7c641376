// PostgreSQL restarts under a running server: the process survives, every request during the
// outage answers 503 problem+json with Retry-After (never 500), /healthz says the database is
// unreachable, requests succeed again once it is back without restarting Laurel, and retried
// writes (same Idempotency-Key) apply exactly once: no acknowledged write is lost.
//
// The test makes a PostgreSQL cluster of its own (initdb + pg_ctl, own port and data directory)
// so it can stop the server under load without touching the shared one. PostgreSQL runs only.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger, formatReport } from '../src/db/verify.js';
import { openLaurel } from '../src/services/context.js';
import { clusterUnavailable, createCluster, type Cluster } from './support/cluster.js';
import { onPostgres } from './support/laurel.js';
import { callServer, freePort, startLaurel, waitFor, type Answer, type LaurelProcess } from './support/processes.js';

const ADMIN_KEY = `restart-admin-${randomBytes(16).toString('hex')}`;
const skip = !onPostgres ? 'PostgreSQL runs only (DATABASE_URL)' : clusterUnavailable();

let cluster: Cluster | undefined;
let server: LaurelProcess | undefined;
let base = '';
let memberId = '';

const call = (method: string, path: string, body?: unknown, key?: string) => callServer(base, ADMIN_KEY, method, path, body, key);

const adjustOne = (key: string) => call('POST', `/v1/members/${memberId}/adjustments`, { amount: 1, reason: 'restart test' }, key);
const available = async () => {
  const r = await call('GET', `/v1/members/${memberId}/balances?wallet=points`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return Number((r.body.data as { available: number }[])[0]!.available);
};

beforeAll(async () => {
  if (skip) return;
  cluster = await createCluster();
  const admin = new pg.Client({ connectionString: cluster.url() });
  await admin.connect();
  await admin.query('create database laurel');
  await admin.end();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = startLaurel(['serve'], { DATABASE_URL: cluster.url('laurel'), PORT: String(port), LAUREL_ADMIN_KEY: ADMIN_KEY, LAUREL_JOBS_POLL_SECONDS: '1' });
  await waitFor('GET /healthz', 150_000, async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), server);
  memberId = /member Alice\s+([0-9a-f-]{36})/.exec(server.output())?.[1] ?? '';
  expect(memberId, server.output()).not.toBe('');
}, 200_000);

afterAll(async () => {
  await server?.kill();
  await cluster?.destroy();
});

describe.skipIf(skip)('a PostgreSQL restart under load', () => {
  it('answers 503 with Retry-After during the outage, survives, recovers without a restart and applies each retried write once', async () => {
    const before = await available();
    const answers = new Map<string, Answer[]>();
    let loading = true;
    let stopped = false;
    const duringOutage: Answer[] = [];
    const load = async () => {
      while (loading) {
        const key = `restart-${randomBytes(6).toString('hex')}`;
        const sentDuringOutage = stopped;
        const a = await adjustOne(key);
        answers.set(key, [a]);
        if (sentDuringOutage) duringOutage.push(a);
      }
    };
    const workers = Array.from({ length: 4 }, load);
    await waitFor('writes before the stop', 60_000, async () => ([...answers.values()].filter(([a]) => a!.status === 201).length >= 20 ? true : undefined), server);

    await cluster!.stop();
    stopped = true;
    await waitFor('refusals during the outage', 60_000, async () => (duringOutage.length >= 20 ? true : undefined), server);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(503);
    expect(health.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await health.json()).type).toBe('/problems/unavailable');
    expect(server!.alive(), server!.output()).toBe(true);

    stopped = false;
    await cluster!.start();
    await waitFor('GET /healthz after the restart', 60_000, async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), server);
    loading = false;
    await Promise.all(workers);

    const all = [...answers.values()].map(([a]) => a!);
    expect(all.filter((a) => a.status !== 201 && a.status !== 503).map((a) => a.body), 'only 201 or 503').toEqual([]);
    expect(duringOutage.every((a) => a.status === 503), JSON.stringify(duringOutage.find((a) => a.status !== 503))).toBe(true);
    for (const a of all.filter((x) => x.status === 503)) {
      expect(a.type).toMatch(/^application\/problem\+json/);
      expect(a.body.type).toBe('/problems/unavailable');
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
    }
    expect(server!.alive(), server!.output()).toBe(true);

    // Every write a client retries with its key applies once: the refused ones now, the others replayed.
    for (const [key, [first]] of answers) {
      const retried = await adjustOne(key);
      expect(retried.status, JSON.stringify(retried.body)).toBe(201);
      if (first!.status === 201) expect(retried.body).toEqual(first!.body);
    }
    for (const [key] of [...answers].slice(0, 5)) expect((await adjustOne(key)).status).toBe(201);
    expect(await available()).toBe(before + answers.size);

    const check = await openLaurel({ databaseUrl: cluster!.url('laurel'), poolSize: 1 });
    try {
      const report = await verifyLedger(check.db, new Date(), null);
      expect(report.ok, formatReport(report)).toBe(true);
    } finally {
      await check.close();
    }
  }, 300_000);
});
