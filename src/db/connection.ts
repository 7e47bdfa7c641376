// One factory for both engines: PostgreSQL from DATABASE_URL (a pool), or PGlite in a data
// directory (embedded, one connection). The rest of Laurel sees only a Kysely<Database>.
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PGliteDialect } from './pglite-driver.js';
import type { Database } from './schema.js';

export type Engine = 'postgres' | 'pglite';

export interface LaurelDb {
  db: Kysely<Database>;
  engine: Engine;
  close(): Promise<void>;
}

export interface ConnectionOptions {
  /** postgres://… ; when absent, PGlite is used */
  databaseUrl?: string | undefined;
  /** PGlite data directory; 'memory://' keeps it in memory */
  dataDir?: string | undefined;
  poolSize?: number | undefined;
}

const INT8_OID = 20;

export async function openDatabase(options: ConnectionOptions): Promise<LaurelDb> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      // Points are bigint end to end: never let int8 become a float.
      types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? BigInt : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser },
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, engine: 'postgres', close: () => db.destroy() };
  }
  const dataDir = options.dataDir ?? './data';
  // PGlite returns small int8 values as numbers unless told otherwise: points stay bigint.
  const parsers = { [INT8_OID]: (value: string) => BigInt(value) };
  const pglite = dataDir === 'memory://' ? new PGlite({ parsers }) : new PGlite(dataDir, { parsers });
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return { db, engine: 'pglite', close: () => db.destroy() };
}

export function connectionOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.LAUREL_DATA_DIR || './data',
    poolSize: env.LAUREL_DB_POOL_SIZE ? Number(env.LAUREL_DB_POOL_SIZE) : undefined,
  };
}
