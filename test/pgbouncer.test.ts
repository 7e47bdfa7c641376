// The production topology on one machine: three `laurel serve` and two `laurel worker` processes,
// all through one PgBouncer in transaction mode, on one PostgreSQL database. With
// LAUREL_PREPARED_STATEMENTS unset, every process detects the pooler and starts (prepared
// statements off); set to true, a process refuses to start and names the setting to change.
// Concurrent purchases, redemptions and holds answer 2xx or an expected 4xx, never 5xx; the jobs
// run (in the servers, the workers and `laurel jobs run`) without a failure; `laurel verify` is clean.
// PostgreSQL runs with a pgbouncer binary only (.ci/run installs it).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/services/api-keys.js';
import { openLaurel } from '../src/services/context.js';
import { adjust } from '../src/services/ledger.js';
import { createMember } from '../src/services/members.js';
import { createRule } from '../src/services/rules.js';
import { createProgram, createTenant } from '../src/services/tenants.js';
import { basicProgram } from './support/laurel.js';
import { ownDatabase, pgbouncerUnavailable, startPgBouncer, type Bouncer } from './support/pgbouncer.js';
import { freePort, run, sleep, startLaurel, waitFor, type LaurelProcess } from './support/processes.js';

const skip = pgbouncerUnavailable();
const ADMIN_KEY = `pgb-admin-${randomBytes(16).toString('hex')}`;
const MEMBERS = 10;
let bouncer: Bouncer;
let database: Awaited<ReturnType<typeof ownDatabase>>;
const processes: LaurelProcess[] = [];
const servers: string[] = [];
let tenantId = '';
let programId = '';
const members: string[] = [];

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv =>
  ({ DATABASE_URL: bouncer.url(database.name), LAUREL_DB_POOL_SIZE: '4', LAUREL_JOBS_POLL_SECONDS: '1', LAUREL_PREPARED_STATEMENTS: '', ...extra });

beforeAll(async () => {
  if (skip) return;
  bouncer = await startPgBouncer({ poolSize: 12 });
  database = await ownDatabase('pgbouncer');
  const laurel = await openLaurel({ databaseUrl: database.direct, poolSize: 2 });
  try {
    const tenant = await createTenant(laurel, { name: 'Pooled shop', timeZone: 'Europe/Paris', currency: 'EUR' });
    const program = await createProgram(laurel, tenant.tenantId, { ...basicProgram, name: 'Pooled rewards' });
    await createRule(laurel, tenant.tenantId, program.programId, {
      name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 },
    }, { actor: 'test' });
    for (let i = 0; i < MEMBERS; i++) {
      const m = await createMember(laurel, tenant.tenantId, { programId: program.programId, externalId: `pooled-${i}` });
      await adjust(laurel, { tenantId: tenant.tenantId, memberId: m.memberId, amount: 300, reason: 'opening', actor: 'test', idempotencyKey: `open-${i}` });
      members.push(m.memberId);
    }
    await createApiKey(laurel, tenant.tenantId, { name: 'admin', scopes: ['admin'], secret: ADMIN_KEY });
    tenantId = tenant.tenantId;
    programId = program.programId;
  } finally {
    await laurel.close();
  }
  const ports = await Promise.all([freePort(), freePort(), freePort()]);
  for (const port of ports) {
    processes.push(startLaurel(['serve'], env({ PORT: String(port) })));
    servers.push(`http://127.0.0.1:${port}`);
  }
  processes.push(startLaurel(['worker'], env()), startLaurel(['worker'], env()));
  await Promise.all(servers.map((base, i) =>
    waitFor(`${base}/healthz`, 150_000, async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), processes[i])));
}, 200_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await bouncer?.stop();
  await database?.drop();
});

async function post(n: number, path: string, body: unknown): Promise<{ status: number; body: string }> {
  const r = await fetch(`${servers[n % servers.length]}${path}`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'idempotency-key': `pgb-${n}-${randomBytes(4).toString('hex')}` },
  });
  return { status: r.status, body: await r.text() };
}

describe.skipIf(skip)('three servers and two workers behind PgBouncer (transaction mode)', () => {
  it('refuses to start with LAUREL_PREPARED_STATEMENTS=true, naming the setting to change', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'migrate'], { ...process.env, ...env({ LAUREL_PREPARED_STATEMENTS: 'true' }) });
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain('LAUREL_PREPARED_STATEMENTS=false');
  });

  it('serves concurrent purchases, redemptions and holds with no 5xx while jobs run; verify is clean', async () => {
    const outcomes: { what: string; status: number; body: string }[] = [];
    const work = async (n: number) => {
      const memberId = members[n % MEMBERS]!;
      const kind = n % 3;
      const r = kind === 0
        ? await post(n, '/v1/events', { programId, externalId: `order-${n}`, type: 'purchase', memberId, lines: [{ sku: 'LATTE-L', quantity: 2, unitPrice: 1250 }] })
        : kind === 1
          ? await post(n, `/v1/members/${memberId}/redemptions`, { amount: 40 })
          : await post(n, `/v1/members/${memberId}/holds`, { amount: 15, ttlSeconds: 1 });
      outcomes.push({ what: ['purchase', 'redemption', 'hold'][kind]!, ...r });
    };
    let next = 0;
    const settling = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'jobs', 'run', 'settle'], { ...process.env, ...env() });
    await Promise.all(Array.from({ length: 12 }, async () => {
      while (next < 240) await work(next++);
    }));
    const settled = await settling;
    expect(settled.code, settled.out).toBe(0);

    const unexpected = outcomes.filter((o) => !(o.status === 201 || (o.status === 422 && o.what !== 'purchase')));
    expect(unexpected, JSON.stringify(unexpected.slice(0, 3))).toEqual([]);
    expect(outcomes.filter((o) => o.what === 'purchase').every((o) => o.status === 201)).toBe(true);

    // the holds (1 s) are past their time: a settle run through the pooler releases them all
    await sleep(1500);
    const again = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'jobs', 'run', 'settle'], { ...process.env, ...env() });
    expect(again.code, again.out).toBe(0);
    const direct = new pg.Client({ connectionString: database.direct });
    await direct.connect();
    try {
      const held = await direct.query('select coalesce(sum(held), 0)::int as held from balances where tenant_id = $1', [tenantId]);
      expect(held.rows[0].held).toBe(0);
      const failed = await direct.query(`select job, error from job_runs where status = 'failed'`);
      expect(failed.rows).toEqual([]);
      const ran = await direct.query(`select count(distinct worker)::int as n from job_runs where status = 'succeeded'`);
      expect(ran.rows[0].n).toBeGreaterThan(1);
    } finally {
      await direct.end();
    }

    const verify = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'verify', '--tenant', tenantId], { ...process.env, ...env() });
    expect(verify.code, verify.out).toBe(0);
    for (const p of processes) {
      expect(p.alive(), p.output()).toBe(true);
      expect(p.output()).not.toMatch(/42P05|26000|prepared statement/);
    }
  }, 300_000);
});
