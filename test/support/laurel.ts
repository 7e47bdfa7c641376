// One Laurel per test file, on PGlite in memory or, when DATABASE_URL is set, on a PostgreSQL
// database of its own. Each test makes its own tenant.
import { sql } from 'kysely';
import pg from 'pg';
import { expect } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import type { ProgramInput } from '../../src/core/program.js';
import { verifyLedger, formatReport } from '../../src/db/verify.js';
import { openLaurel, type Extensions, type Laurel } from '../../src/services/context.js';
import { createMember } from '../../src/services/members.js';
import { createProgram, createTenant, type Program } from '../../src/services/tenants.js';

export const onPostgres = Boolean(process.env.DATABASE_URL);

/**
 * A Laurel for one test file. On PostgreSQL it gets a database of its own beside DATABASE_URL's,
 * dropped on close: settlement runs over every tenant of a database, so files running in
 * parallel must not share one (one file's time travel would settle another's wallets).
 */
/**
 * `poolSize` bounds the file's PostgreSQL connections: the concurrency files run side by side
 * with the others, and the server takes 100 in all.
 */
export async function openTestLaurel(start = '2026-01-15T10:00:00Z', extensions: Extensions = {}, poolSize = 20): Promise<Laurel & { clock: ManualClock }> {
  const clock = new ManualClock(start);
  if (!process.env.DATABASE_URL) {
    return { ...(await openLaurel({ dataDir: 'memory://' }, clock, extensions)), clock };
  }
  const shared = process.env.DATABASE_URL;
  const url = new URL(shared);
  const name = `${url.pathname.slice(1) || 'laurel'}_t${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await onServer(shared, (c) => c.query(`create database "${name}"`));
  url.pathname = `/${name}`;
  // A Laurel that refuses to open (a test of a bad configuration) must not leave its database behind.
  const laurel = await openLaurel({ databaseUrl: url.toString(), poolSize }, clock, extensions).catch(async (e: unknown) => {
    await onServer(shared, (c) => c.query(`drop database if exists "${name}" with (force)`));
    throw e;
  });
  return {
    ...laurel,
    clock,
    close: async () => {
      await laurel.close();
      await onServer(shared, async (c) => {
        // The pool's connections close a moment after it ends: wait for them rather than kill them.
        for (let i = 0; i < 100; i++) {
          const { rows } = await c.query('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
          if (rows[0].n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await c.query(`drop database if exists "${name}" with (force)`);
      });
    },
  };
}

async function onServer(databaseUrl: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

export const basicProgram: ProgramInput = {
  name: 'Test rewards',
  enrollmentMode: 'opt_in',
  wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'status', kind: 'qualifying' }],
  returnWindowDays: 0,
  expiry: { kind: 'none' },
  negativeBalance: 'debt',
};

export async function newProgram(laurel: Laurel, overrides: Partial<ProgramInput> = {}, timeZone = 'Europe/Paris'): Promise<Program> {
  const tenant = await createTenant(laurel, { name: 'Tenant', timeZone, currency: 'EUR' });
  return createProgram(laurel, tenant.tenantId, { ...basicProgram, ...overrides });
}

let serial = 0;
export async function newMember(laurel: Laurel, program: Program): Promise<string> {
  const m = await createMember(laurel, program.tenantId, { programId: program.programId, externalId: `m-${Date.now()}-${++serial}` });
  return m.memberId;
}

let keys = 0;
export const key = (): string => `k-${process.pid}-${Date.now()}-${++keys}`;

export async function expectVerified(laurel: Laurel, tenantId?: string): Promise<void> {
  const report = await verifyLedger(laurel.db, laurel.clock.now(), tenantId ?? null);
  expect(report.ok, formatReport(report)).toBe(true);
}

export interface LotView {
  amount: bigint;
  remaining: bigint;
  pending: boolean;
  expiresAt: string | null;
}

/** A member's lots, oldest first, as plain values a test can compare. */
export async function lotsOf(laurel: Laurel, tenantId: string, memberId: string): Promise<LotView[]> {
  const rows = await laurel.db.selectFrom('lots').select(['amount', 'remaining', 'pending', 'expires_at', 'earned_at', 'lot_id'])
    .where('tenant_id', '=', tenantId).where('member_id', '=', memberId).orderBy('earned_at').orderBy('lot_id').execute();
  return rows.map((r) => ({ amount: r.amount, remaining: r.remaining, pending: r.pending, expiresAt: r.expires_at?.toISOString() ?? null }));
}

/**
 * Runs `work` while a trigger refuses the rows of `table` whose `column` is `value`: a database
 * error, as a constraint or a bug would raise, not a domain refusal. The error says "boom refused".
 */
export async function whileRefusing(laurel: Laurel, table: 'journal_entries' | 'events', column: 'ref' | 'external_id', value: string,
  work: () => Promise<void>): Promise<void> {
  await sql`create or replace function refuse_boom() returns trigger language plpgsql as $$
    begin if new.${sql.ref(column)} = ${sql.lit(value)} then raise exception 'boom refused'; end if; return new; end $$`.execute(laurel.db);
  await sql`create trigger refuse_boom before insert on ${sql.table(table)} for each row execute function refuse_boom()`.execute(laurel.db);
  try {
    await work();
  } finally {
    await sql`drop trigger refuse_boom on ${sql.table(table)}`.execute(laurel.db);
  }
}
