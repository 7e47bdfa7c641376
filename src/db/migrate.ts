// Forward-only numbered SQL migrations, the same files on PGlite and PostgreSQL.
//
// Each migration runs in its own transaction, so an index built on a large table by a later
// migration does not hold the locks of every earlier one. A file whose first line starts with
// NO_TRANSACTION runs its statements one by one outside a transaction: that is what
// `create index concurrently` needs to build an index without blocking writes.
//
// Many processes may start at once: one migrates, the others wait on a session advisory lock.
// They poll it rather than block on it, because a session blocked in pg_advisory_lock has an open
// transaction, and `create index concurrently` waits for every open transaction to end: the
// migrating session would wait for the waiter, which waits for it, and neither would ever go on.
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
const LOCK_ID = 7_203_114_001;
const LOCK_POLL_MS = 100;
export const NO_TRANSACTION = '-- laurel: no-transaction';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(files.map(async (file) => ({
    version: Number(file.slice(0, 4)),
    name: file.slice(5, -4),
    sql: await readFile(new URL(file, MIGRATIONS_DIR), 'utf8'),
  })));
}

/** Applies the migrations not applied yet, in order; returns the versions it applied. */
export async function migrate(db: Kysely<Database>, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? await loadMigrations();
  // Nothing to apply (every start after the first): no lock. Behind a transaction pooler
  // (PgBouncer) a session lock cannot be released reliably, since the unlock may reach another
  // server session: there, migrations are applied before the processes start (README, Production).
  if (await nothingPending(db, all)) return [];
  return db.connection().execute(async (conn) => {
    while (!(await sql<{ locked: boolean }>`select pg_try_advisory_lock(${LOCK_ID}) as locked`.execute(conn)).rows[0]!.locked) {
      await sleep(LOCK_POLL_MS);
    }
    try {
      await sql`create table if not exists schema_migrations (
        version integer primary key, name text not null, applied_at timestamptz not null)`.execute(conn);
      const applied = new Set((await conn.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version));
      const done: number[] = [];
      for (const m of all) {
        if (applied.has(m.version)) continue;
        if (m.sql.startsWith(NO_TRANSACTION)) {
          await dropInvalidIndexes(conn, m.sql);
          for (const statement of statementsOf(m.sql)) await sql.raw(statement).execute(conn);
          await record(conn, m);
        } else {
          await conn.transaction().execute(async (trx) => {
            await sql.raw(m.sql).execute(trx);
            await record(trx, m);
          });
        }
        done.push(m.version);
      }
      return done;
    } finally {
      await sql`select pg_advisory_unlock(${LOCK_ID})`.execute(conn);
    }
  });
}

async function nothingPending(db: Kysely<Database>, all: Migration[]): Promise<boolean> {
  const exists = (await sql<{ t: string | null }>`select to_regclass('schema_migrations')::text as t`.execute(db)).rows[0]?.t;
  if (!exists) return false;
  const applied = new Set((await db.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version));
  return all.every((m) => applied.has(m.version));
}

async function record(db: Kysely<Database>, m: Migration): Promise<void> {
  await db.insertInto('schema_migrations').values({ version: m.version, name: m.name, applied_at: new Date() }).execute();
}

/**
 * The statements of a no-transaction file: split at a semicolon that ends a line. Such files
 * hold plain DDL (no function bodies), so this is all the parsing they need.
 */
export function statementsOf(text: string): string[] {
  return text
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}

/**
 * A `create index concurrently` that failed (a crash, a unique violation) leaves an invalid
 * index behind, and `if not exists` would then skip it forever. Drop the invalid ones the
 * migration names before running it again.
 */
async function dropInvalidIndexes(db: Kysely<Database>, text: string): Promise<void> {
  const names = [...text.matchAll(/create\s+(?:unique\s+)?index\s+concurrently\s+(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*)/gi)]
    .map((match) => match[1]!.toLowerCase());
  if (names.length === 0) return;
  const { rows } = await sql<{ name: string }>`
    select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid
    where not i.indisvalid and c.relname = any(${names}::text[]) and pg_table_is_visible(c.oid)`.execute(db);
  for (const { name } of rows) await sql.raw(`drop index if exists ${name}`).execute(db);
}
