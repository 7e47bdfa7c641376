// PostgreSQL: parameterised statements run as named prepared statements, at most
// PREPARED_PER_CONNECTION per connection; LAUREL_PREPARED_STATEMENTS=false turns them off.
// (PGlite has no such thing: skipped there.)
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionOptionsFromEnv, openDatabase, PREPARED_PER_CONNECTION, type LaurelDb } from '../src/db/connection.js';
import type { Database } from '../src/db/schema.js';
import { onPostgres, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
let url: string;

const prepared = async (db: Kysely<Database>) =>
  (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(db)).rows;

describe.skipIf(!onPostgres)('prepared statements on PostgreSQL', () => {
  beforeAll(async () => {
    laurel = await openTestLaurel();
    // the test file's own database: the pool's first client has connected to it
    const { rows } = await sql<{ db: string }>`select current_database() as db`.execute(laurel.db);
    const u = new URL(process.env.DATABASE_URL!);
    u.pathname = `/${rows[0]!.db}`;
    url = u.toString();
  });
  afterAll(async () => { await laurel?.close(); });

  const withDb = async (options: { preparedStatements?: boolean }, work: (d: LaurelDb) => Promise<void>) => {
    const d = await openDatabase({ databaseUrl: url, poolSize: 1, ...options });
    try {
      await work(d);
    } finally {
      await d.close();
    }
  };

  it('prepares a statement once per connection, and runs the same text by its name after', async () => {
    await withDb({}, async ({ db }) => {
      for (let i = 0; i < 3; i++) expect((await sql<{ n: number }>`select ${i}::int + 1 as n`.execute(db)).rows[0]!.n).toBe(i + 1);
      const mine = (await prepared(db)).filter((p) => p.statement.includes('::int + 1'));
      expect(mine).toHaveLength(1);
      expect(mine[0]!.name).toMatch(/^laurel_/);
      // statements without parameters keep the simple protocol
      await sql`select 1`.execute(db);
      expect((await prepared(db)).some((p) => p.statement === 'select 1')).toBe(false);
    });
  });

  it(`names at most ${PREPARED_PER_CONNECTION} statements per connection; the rest run unnamed`, async () => {
    await withDb({}, async ({ db }) => {
      for (let i = 0; i < PREPARED_PER_CONNECTION + 20; i++) {
        const r = await sql<{ n: number }>`select ${i}::int as n, ${sql.raw(String(i))} as shape`.execute(db);
        expect(r.rows[0]!.n).toBe(i);
      }
      // (the query of pg_prepared_statements has no parameter: it is not one of them)
      expect((await prepared(db)).length).toBe(PREPARED_PER_CONNECTION);
    });
  });

  it('is off with preparedStatements: false (LAUREL_PREPARED_STATEMENTS=false)', async () => {
    expect(connectionOptionsFromEnv({ LAUREL_PREPARED_STATEMENTS: 'false' }).preparedStatements).toBe(false);
    expect(connectionOptionsFromEnv({}).preparedStatements).toBeUndefined();
    await withDb({ preparedStatements: false }, async ({ db }) => {
      await sql`select ${1}::int as n`.execute(db);
      expect(await prepared(db)).toEqual([]);
    });
  });

  it('runs a statement unnamed from the moment its table changed under a select * (a rolling migration)', async () => {
    await withDb({}, async ({ db }) => {
      await sql`create table prepared_probe (id int primary key)`.execute(db);
      await sql`insert into prepared_probe values (1)`.execute(db);
      const read = () => sql<{ id: number }>`select * from prepared_probe where id = ${1}`.execute(db);
      await read();
      await sql`alter table prepared_probe add column note text`.execute(db);
      await expect(read()).rejects.toMatchObject({ code: '0A000' });
      expect((await read()).rows).toEqual([{ id: 1, note: null }]);
    });
  });
});
