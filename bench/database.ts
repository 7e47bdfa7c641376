// The bench database: created when missing (from the server's `postgres` database), or
// recreated with --fresh. Migrations are run by openLaurel.
import pg from 'pg';
import { log } from './stats.js';

export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL ${redact(url)} names no database`);
  return name;
}

/** The same server, its maintenance database `postgres`. */
export function maintenanceUrl(url: string): string {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

/** The URL without its password, for printing. */
export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** Adds (or replaces) a query parameter, e.g. application_name, which names our backends. */
export function withParam(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export async function ensureDatabase(url: string, fresh: boolean): Promise<void> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: maintenanceUrl(url) });
  await client.connect();
  try {
    if (fresh) {
      log(`dropping database ${name} (--fresh)`);
      await client.query(`drop database if exists ${ident(name)} with (force)`);
    }
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) {
      log(`creating database ${name}`);
      try {
        await client.query(`create database ${ident(name)}`);
      } catch (e) {
        // another bench started at the same moment created it: fine
        if ((e as { code?: string }).code !== '42P04') throw e;
      }
    }
  } finally {
    await client.end();
  }
}
