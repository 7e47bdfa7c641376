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

  it("0112 moves each budget's use to its shard 0 and spreads what it has left over 16 shards", async () => {
    const db = await (await emptyDatabase()).open();
    const all = await loadMigrations();
    await migrate(db.db, all.filter((x) => x.version < 112));
    const t = '0190d0c2-0000-7000-8000-000000000001';
    const [budgeted, unbudgeted, never, campaign] = ['a1', 'a2', 'a3', 'c1'].map((x) => `0190d0c2-0000-7000-8000-0000000000${x}`);
    await db.db.transaction().execute(async (trx) => {
      // rows alone, without their tenant and program
      await sql`set local session_replication_role = replica`.execute(trx);
      for (const [id, used, budget] of [[budgeted, 300, 1000], [unbudgeted, 40, null], [never, 0, null]] as const) {
        await sql`insert into rules (tenant_id, rule_id, program_id, trigger, enabled, version, budget_used, created_at, updated_at)
          values (${t}, ${id}, ${t}, 'purchase', true, 1, ${used}, now(), now())`.execute(trx);
        await sql`insert into rule_versions (tenant_id, rule_id, version, definition, actor, created_at)
          values (${t}, ${id}, 1, ${JSON.stringify({ limits: { budget } })}::jsonb, 'test', now())`.execute(trx);
      }
      await sql`insert into campaigns (tenant_id, campaign_id, program_id, name, budget, budget_used, created_at, updated_at)
        values (${t}, ${campaign}, ${t}, 'Launch', 100, 150, now(), now())`.execute(trx);
    });
    expect(await migrate(db.db)).toEqual([112, ...all.filter((x) => x.version > 112).map((x) => x.version)]);
    const { rows } = await sql<{ scope: string; budget: string | null; used: string[]; room: string[] }>`
      select scope, min(budget)::text as budget, array_agg(used::text order by shard) as used, array_agg(room::text order by shard) as room
      from budget_shards where tenant_id = ${t} group by scope order by scope`.execute(db.db);
    const rest = (n: number, v: string) => Array.from({ length: n }, () => v);
    expect(rows).toEqual([
      // a campaign over its budget: nothing left to spread
      { scope: `campaign:${campaign}`, budget: '100', used: ['150', ...rest(15, '0')], room: rest(16, '0') },
      // 700 left: 12 shards of 44, 4 of 43
      { scope: `rule:${budgeted}`, budget: '1000', used: ['300', ...rest(15, '0')], room: [...rest(12, '44'), ...rest(4, '43')] },
      // no budget now: what it used is kept
      { scope: `rule:${unbudgeted}`, budget: null, used: ['40', ...rest(15, '0')], room: rest(16, '0') },
    ]);
  });

  it("0113 adds up each member's purchase events per month of their tenant's zone", async () => {
    const db = await (await emptyDatabase()).open();
    const all = await loadMigrations();
    await migrate(db.db, all.filter((x) => x.version < 113));
    const [t, p, m] = ['01', '02', '03'].map((x) => `0190d0c2-0000-7000-8000-0000000000${x}`);
    await db.db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      await sql`insert into tenants (tenant_id, name, time_zone, currency, created_at, member_token_secret) values (${t}, 'T', 'Pacific/Auckland', 'NZD', now(), 'secret')`.execute(trx);
      // 11:00 UTC on 31 December 2026 is 2027 in Auckland; a review is no purchase
      for (const [i, type, at, total] of [[1, 'purchase', '2026-12-31T10:59:00Z', 1000], [2, 'purchase', '2026-12-31T11:00:00Z', 2000],
        [3, 'purchase', '2027-01-20T00:00:00Z', 500], [4, 'review', '2027-01-21T00:00:00Z', null]] as const) {
        await sql`insert into events (tenant_id, event_id, program_id, member_id, external_id, type, occurred_at, currency, total, paid_with_points, payload, points, created_at)
          values (${t}, ${`0190d0c2-0000-7000-8000-0000000001${i}0`}, ${p}, ${m}, ${`e${i}`}, ${type}, ${at}, 'NZD', ${total}, 0, '{}', 0, now())`.execute(trx);
      }
    });
    await migrate(db.db);
    const { rows } = await sql<{ month: number; purchases: string; spend: string }>`
      select month, purchases::text, spend::text from member_purchase_months where tenant_id = ${t} and member_id = ${m} order by month`.execute(db.db);
    expect(rows).toEqual([{ month: 2026 * 12 + 11, purchases: '1', spend: '1000' }, { month: 2027 * 12, purchases: '2', spend: '2500' }]);
  });

  it("0114 packs each event's contributions into one row, under the purchase it belongs to", async () => {
    const db = await (await emptyDatabase()).open();
    const all = await loadMigrations();
    await migrate(db.db, all.filter((x) => x.version < 114));
    const [t, m, buy, back, a, b] = ['01', '02', '03', '04', '05', '06'].map((x) => `0190d0c2-0000-7000-8000-0000000000${x}`);
    await db.db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      // a purchase adding to two achievements (one with two keys), its return taking back from one
      for (const [e, pe, ach, period, key, value] of [[buy, buy, a, 3, '', 1], [buy, buy, b, 0, 'tea', 2], [buy, buy, b, 0, 'cake', 1], [back, buy, b, 0, 'tea', -2]] as const) {
        await sql`insert into achievement_contributions (tenant_id, event_id, achievement_id, period, key, member_id, purchase_event_id, value)
          values (${t}, ${e}, ${ach}, ${period}, ${key}, ${m}, ${pe}, ${value})`.execute(trx);
      }
    });
    await migrate(db.db);
    const { rows } = await sql<{ event_id: string; purchase_event_id: string; member_id: string; achievement_ids: string[]; periods: number[]; keys: string[]; amounts: string[] }>`
      select event_id, purchase_event_id, member_id, achievement_ids, periods, keys, amounts::text[] as amounts
      from achievement_contributions where tenant_id = ${t} order by event_id`.execute(db.db);
    expect(rows).toEqual([
      { event_id: buy, purchase_event_id: buy, member_id: m, achievement_ids: [a, b, b], periods: [3, 0, 0], keys: ['', 'cake', 'tea'], amounts: ['1', '1', '2'] },
      { event_id: back, purchase_event_id: buy, member_id: m, achievement_ids: [b], periods: [0], keys: ['tea'], amounts: ['-2'] },
    ]);
  });

  it('0115 keys the live unlocks by member first: still one live unlock per achievement, member, period and cycle', async () => {
    const db = await (await emptyDatabase()).open();
    const all = await loadMigrations();
    await migrate(db.db, all.filter((x) => x.version < 115));
    const [t, m, a, p] = ['01', '02', '03', '04'].map((x) => `0190d0c2-0000-7000-8000-0000000001${x}`);
    const unlock = (id: string, cycle: number, revoked: boolean) => db.db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      await sql`insert into achievement_unlocks (tenant_id, unlock_id, achievement_id, version, program_id, member_id, period, cycle, unlocked_at, revoked_at)
        values (${t}, ${id}, ${a}, 1, ${p}, ${m}, 0, ${cycle}, now(), ${revoked ? sql`now()` : null})`.execute(trx);
    });
    await unlock('0190d0c2-0000-7000-8000-000000000201', 1, false);
    await migrate(db.db);
    const { rows } = await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'achievement_unlocks' order by 1`.execute(db.db);
    expect(rows.map((r) => r.name)).toEqual(['achievement_unlocks_member_live', 'achievement_unlocks_pkey', 'achievement_unlocks_report']);
    await expect(unlock('0190d0c2-0000-7000-8000-000000000202', 1, false)).rejects.toThrow(/achievement_unlocks_member_live/);
    await unlock('0190d0c2-0000-7000-8000-000000000203', 1, true);
    await unlock('0190d0c2-0000-7000-8000-000000000204', 2, false);
    const live = await sql<{ cycle: number }>`select cycle from achievement_unlocks where tenant_id = ${t} and revoked_at is null order by cycle`.execute(db.db);
    expect(live.rows).toEqual([{ cycle: 1 }, { cycle: 2 }]);
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
