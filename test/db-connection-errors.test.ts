// Which errors mean "the database is unreachable for now" (503, retry later) rather than a bug
// (500), and what the pool does when the server ends one of its connections: the process lives
// on, a log line says what happened, and the next query gets a new connection.
import { sql } from 'kysely';
import type { Db } from '../src/db/schema.js';
import pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, openDatabase } from '../src/db/connection.js';
import { toProblem } from '../src/http/problems.js';
import { DomainError } from '../src/core/errors.js';
import { onPostgres } from './support/laurel.js';
import { waitFor } from './support/processes.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('connection errors', () => {
  it.each([
    ['57P01 admin shutdown', withCode('57P01', 'terminating connection due to administrator command')],
    ['57P02 crash shutdown', withCode('57P02')],
    ['57P03 cannot connect now', withCode('57P03', 'the database system is starting up')],
    ['08006 connection failure', withCode('08006')],
    ['08001 cannot establish', withCode('08001')],
    ['ECONNREFUSED', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['ECONNRESET', withCode('ECONNRESET', 'read ECONNRESET')],
    ['a terminated connection', new Error('Connection terminated unexpectedly')],
    ['a connection timeout', new Error('Connection terminated due to connection timeout')],
    ['a broken client', new Error('Client has encountered a connection error and is not queryable')],
    ['a cause that is one', new Error('rollback failed', { cause: withCode('57P01') })],
  ])('%s means the database is unreachable: 503 unavailable', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(toProblem(error)).toMatchObject({ status: 503, type: '/problems/unavailable' });
  });

  it.each([
    ['a unique violation', withCode('23505')],
    ['a serialization failure', withCode('40001')],
    ['a syntax error', withCode('42601')],
    ['a plain error', new Error('boom')],
    ['a domain error', new DomainError('conflict', 'taken')],
    ['not an error', 'Connection terminated'],
  ])('%s does not', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(toProblem(error).status).not.toBe(503);
  });
});

describe.skipIf(!onPostgres)('a connection the server ends', () => {
  async function terminate(pid: number): Promise<void> {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      await admin.query('select pg_terminate_backend($1)', [pid]);
    } finally {
      await admin.end();
    }
  }

  async function poolWithLog() {
    const lines: { msg: string; err?: { code?: string } }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const conn = await openDatabase({ databaseUrl: process.env.DATABASE_URL, poolSize: 2, logger });
    return { ...conn, lines };
  }

  const pidOf = async (db: Db) =>
    (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid;

  it('while checked out between two queries: logged, the process lives on, the next query fails as unavailable and the pool recovers', async () => {
    const { db, close, lines } = await poolWithLog();
    try {
      const failed = await db.connection().execute(async (c) => {
        await terminate(await pidOf(c));
        await waitFor('the log line', 10_000, async () => (lines.length > 0 ? true : undefined));
        return sql`select 1`.execute(c).then(() => null, (e: unknown) => e);
      });
      expect(isDatabaseUnavailable(failed)).toBe(true);
      expect(lines[0]).toMatchObject({ msg: 'database connection lost', err: { code: '57P01' } });
      expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows[0]!.one).toBe(1);
    } finally {
      await close();
    }
  });

  it('while idle in the pool: logged, and the next query gets a new connection', async () => {
    const { db, close, lines } = await poolWithLog();
    try {
      const pid = await pidOf(db);
      await terminate(pid);
      await waitFor('the log line', 10_000, async () => (lines.length > 0 ? true : undefined));
      expect(lines[0]).toMatchObject({ msg: 'database connection lost', err: { code: '57P01' } });
      expect(await pidOf(db)).not.toBe(pid);
    } finally {
      await close();
    }
  });
});
