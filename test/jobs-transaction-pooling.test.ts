// Every job behind PgBouncer in transaction mode: each transaction may reach another server
// session, so no job may keep state in a session across statements (a temp table, a prepared
// statement). PgBouncer here takes the next server connection for each transaction
// (server_round_robin), so a job that did would fail every time, not now and then.
// PostgreSQL runs with a pgbouncer binary only (.ci/run installs it).
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { behindTransactionPooler } from '../src/db/connection.js';
import { BUILT_IN_JOBS } from '../src/jobs/registry.js';
import { runJobNow } from '../src/jobs/runner.js';
import { openLaurel, type Laurel } from '../src/services/context.js';
import { createHold, earn, getBalance } from '../src/services/ledger.js';
import { createMember } from '../src/services/members.js';
import { createProgram, createTenant } from '../src/services/tenants.js';
import { basicProgram, expectVerified } from './support/laurel.js';
import { ownDatabase, pgbouncerUnavailable, startPgBouncer, type Bouncer } from './support/pgbouncer.js';

const skip = pgbouncerUnavailable();
let bouncer: Bouncer;
let database: Awaited<ReturnType<typeof ownDatabase>>;
let laurel: Laurel & { clock: ManualClock };

beforeAll(async () => {
  if (skip) return;
  bouncer = await startPgBouncer({ roundRobin: true, poolSize: 4 });
  database = await ownDatabase('pooling');
  const clock = new ManualClock('2026-01-15T10:00:00Z');
  laurel = { ...(await openLaurel({ databaseUrl: bouncer.url(database.name), poolSize: 6 }, clock)), clock };
}, 60_000);

afterAll(async () => {
  await laurel?.close();
  await bouncer?.stop();
  await database?.drop();
});

describe.skipIf(skip)('jobs behind PgBouncer in transaction mode', () => {
  it('the pooler is detected (and a direct connection is not one)', async () => {
    expect(await behindTransactionPooler(bouncer.url(database.name))).toBe(true);
    expect(await behindTransactionPooler(database.direct)).toBe(false);
  });

  it('every built-in job succeeds and does its work; the ledger verifies', async () => {
    const tenant = await createTenant(laurel, { name: 'Pooled', timeZone: 'Europe/Paris', currency: 'EUR' });
    const program = await createProgram(laurel, tenant.tenantId, { ...basicProgram, expiry: { kind: 'rolling', months: 1 }, expiryReminderDays: 30 });
    const members: string[] = [];
    for (let i = 0; i < 30; i++) {
      const m = (await createMember(laurel, tenant.tenantId, { programId: program.programId, externalId: `pooled-${i}` })).memberId;
      await earn(laurel, { tenantId: tenant.tenantId, memberId: m, amount: 100, idempotencyKey: `earn-${i}` });
      await createHold(laurel, { tenantId: tenant.tenantId, memberId: m, amount: 10, ttlSeconds: 60, idempotencyKey: `hold-${i}` });
      members.push(m);
    }
    // several server connections open, so that consecutive transactions go to different ones
    await Promise.all(Array.from({ length: 6 }, () => sql`select pg_sleep(0.05)`.execute(laurel.db)));

    laurel.clock.set('2026-02-16T10:00:00Z');
    for (const job of BUILT_IN_JOBS) {
      const outcome = await runJobNow(laurel, job.name);
      expect(outcome, `${job.name}: ${outcome.error}`).toMatchObject({ status: 'succeeded' });
      if (job.name === 'settle') expect(outcome.stats).toMatchObject({ wallets: 30, holdsReleased: 30, lotsExpired: 30, pointsExpired: 3000 });
    }
    expect(await getBalance(laurel, tenant.tenantId, members[0]!)).toMatchObject({ available: 0n, held: 0n, expired: 100n });
    expect((await runJobNow(laurel, 'settle')).stats).toMatchObject({ wallets: 0 });
    await expectVerified(laurel as never, tenant.tenantId);
  });
});
