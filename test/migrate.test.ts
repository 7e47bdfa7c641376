// The migrator: one transaction per migration, `create index concurrently` outside of one, and
// many processes starting at once on one database.
import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type LaurelDb } from '../src/db/connection.js';
import { loadMigrations, migrate, statementsOf, type Migration } from '../src/db/migrate.js';
import { onPostgres } from './support/laurel.js';

const opened: LaurelDb[] = [];
const databases: string[] = [];

/** A fresh empty database: PGlite in memory, or a PostgreSQL database of its own. */
async function emptyDatabase(poolSize = 4): Promise<{ open: () => Promise<LaurelDb> }> {
  if (!onPostgres) {
    const db = await openDatabase({ dataDir: 'memory://' });
    opened.push(db);
    return { open: async () => db };
  }
  const url = new URL(process.env.DATABASE_URL!);
  const name = `${url.pathname.slice(1) || 'laurel'}_m${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await onServer((c) => c.query(`create database "${name}"`));
  databases.push(name);
  url.pathname = `/${name}`;
  return {
    open: async () => {
      const db = await openDatabase({ databaseUrl: url.toString(), poolSize });
      opened.push(db);
      return db;
    },
  };
}

async function onServer(work: (c: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  for (const db of opened) await db.close();
  for (const name of databases) await onServer((c) => c.query(`drop database if exists "${name}" with (force)`));
});

const m = (version: number, text: string): Migration => ({ version, name: `m${version}`, sql: text });
const versions = async (db: LaurelDb) =>
  (await sql<{ version: number }>`select version from schema_migrations order by version`.execute(db.db)).rows.map((r) => r.version);

describe('migrate', () => {
  it('applies every migration once, and nothing on a second run', async () => {
    const db = await (await emptyDatabase()).open();
    const all = await loadMigrations();
    expect(await migrate(db.db)).toEqual(all.map((x) => x.version));
    expect(await migrate(db.db)).toEqual([]);
    const { rows } = await sql<{ name: string }>`
      select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid
      where c.relname in ('lots_member_pending', 'lots_member_live', 'lots_member_debt', 'holds_member_active', 'lots_member_spendable')
        and i.indisvalid`.execute(db.db);
    expect(rows.map((r) => r.name).sort()).toEqual(['holds_member_active', 'lots_member_debt', 'lots_member_live', 'lots_member_pending', 'lots_member_spendable']);
  });

  it('keeps the migrations before a failing one, and records nothing of the failed one', async () => {
    const db = await (await emptyDatabase()).open();
    const list = [
      m(1, 'create table a (x int);'),
      m(2, 'create table b (x int); insert into nowhere values (1);'),
      m(3, 'create table c (x int);'),
    ];
    await expect(migrate(db.db, list)).rejects.toThrow(/nowhere/);
    expect(await versions(db)).toEqual([1]);
    const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_name in ('a', 'b', 'c')`.execute(db.db);
    expect(rows.map((r) => r.name)).toEqual(['a']);
    // the lock was given back: a corrected list runs
    expect(await migrate(db.db, [list[0]!, m(2, 'create table b (x int);'), list[2]!])).toEqual([2, 3]);
  });

  it('splits a no-transaction file into its statements', () => {
    expect(statementsOf('-- laurel: no-transaction\n-- why\ncreate index concurrently if not exists i on t (a);\n\ncreate index concurrently j on t (b)\n  where b > 0;\n'))
      .toEqual(['create index concurrently if not exists i on t (a)', 'create index concurrently j on t (b)\n  where b > 0']);
  });

  it.skipIf(!onPostgres)('builds an index concurrently while other processes start and wait on the lock', async () => {
    const target = await emptyDatabase(2);
    const setup = await target.open();
    await migrate(setup.db, [m(1, 'create table t (id bigint primary key, v bigint not null); insert into t select g, g % 97 from generate_series(1, 200000) g;')]);
    const list = [
      m(1, 'unused: already applied'),
      m(2, '-- laurel: no-transaction\ncreate index concurrently if not exists t_v on t (v);\n'),
      m(3, 'create table after_index (x int);'),
    ];
    // Five "processes" (pools of their own) start at once: one migrates, four wait and then find nothing to do.
    const pools = await Promise.all(Array.from({ length: 5 }, () => target.open()));
    const applied = await Promise.all(pools.map((p) => migrate(p.db, list)));
    expect(applied.filter((a) => a.length > 0)).toEqual([[2, 3]]);
    expect(await versions(setup)).toEqual([1, 2, 3]);
    const { rows } = await sql<{ valid: boolean }>`select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 't_v'`.execute(setup.db);
    expect(rows).toEqual([{ valid: true }]);
  });

  it.skipIf(!onPostgres)('drops the invalid index a failed concurrent build left, then builds it again', async () => {
    const db = await (await emptyDatabase()).open();
    await migrate(db.db, [m(1, 'create table u (v int); insert into u values (1), (1);')]);
    const unique = m(2, '-- laurel: no-transaction\ncreate unique index concurrently if not exists u_v on u (v);\n');
    await expect(migrate(db.db, [unique])).rejects.toThrow(/could not create unique index/);
    const validity = async () => (await sql<{ valid: boolean }>`select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'u_v'`.execute(db.db)).rows;
    expect(await validity()).toEqual([{ valid: false }]);
    await sql`delete from u where ctid <> (select min(ctid) from u)`.execute(db.db);
    expect(await migrate(db.db, [unique])).toEqual([2]);
    expect(await validity()).toEqual([{ valid: true }]);
  });
});
