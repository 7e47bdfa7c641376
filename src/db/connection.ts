// One factory for both engines: PostgreSQL from DATABASE_URL (a pool), or PGlite in a data
// directory (embedded, one connection). The rest of Laurel sees only a Kysely<Database>.
import { createHash } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, Kysely, PostgresDialect, sql, type RawBuilder } from 'kysely';
import pg from 'pg';
import { pino, type Logger } from 'pino';
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
  /**
   * PostgreSQL: send parameterised statements as named prepared statements, planned once per
   * connection. Unset: on, unless DATABASE_URL leads to a transaction pooler (then off); true
   * there is refused at start (see README).
   */
  preparedStatements?: boolean | undefined;
  /** where the pool's connection errors are logged (default: a pino logger at LOG_LEVEL) */
  logger?: Logger | undefined;
}

/**
 * SQLSTATEs and socket errors that mean the database cannot be reached right now (a restart, a
 * failover, a terminated backend), not that the request was wrong: admin shutdown, crash shutdown,
 * cannot connect now, and the whole class 08 (connection exceptions).
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03']);
const UNAVAILABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const UNAVAILABLE_MESSAGES = [/^Connection terminated/, /connection error and is not queryable/, /^timeout exceeded when trying to connect/,
  /^Client was closed and is not queryable/];

/** Whether `e` says the database is unreachable for now: the caller may retry the same request later. */
export function isDatabaseUnavailable(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const { code, message } = e as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_STATES.has(code) || code.startsWith('08') || UNAVAILABLE_SOCKET.has(code))) return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => m.test(message))) return true;
  const cause = (e as { cause?: unknown }).cause;
  return cause !== undefined && cause !== e && isDatabaseUnavailable(cause);
}

/** A round trip to the database (`select 1`): throws when it cannot be reached. */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}

const defaultLogger = (): Logger => pino({ level: process.env.LOG_LEVEL ?? 'info' });

const INT8_OID = 20;
const DATE_OID = 1082;
/** A calendar date stays its text, YYYY-MM-DD: as a JS Date it would shift with the process's zone. */
const asText = (value: string) => value;

/** Statements one connection prepares at most; beyond, statements run unnamed (planned each time). */
export const PREPARED_PER_CONNECTION = 100;

/** SQLSTATE 0A000 "cached plan must not change result type": a `select *` after its table changed. */
const FEATURE_NOT_SUPPORTED = '0A000';

type QueryFn = (...args: unknown[]) => unknown;

/**
 * Starts a statement that must be planned with its values every time: its generic plan would
 * estimate one member's rows from the average member's and choose badly for a member with a
 * long history (see loadLots).
 */
export const UNPREPARED = '/* unprepared */';

/**
 * Makes `client` send each parameterised statement it sees as a named prepared statement, so
 * PostgreSQL parses and plans it once per connection instead of on every call (the hot
 * statements are the same text every time; only their values change). The name is a hash of
 * the text. At most `cap` texts per connection get a name, so SQL of ever new shapes (IN lists
 * of varying length) cannot grow the connection's memory without bound: the rest run unnamed,
 * as before. A text whose prepared statement the server refuses to run again (its table gained
 * a column under a `select *`, in a rolling migration) runs unnamed from then on.
 * Statements without parameters (BEGIN, COMMIT, migrations) keep the simple protocol, and those
 * that start with UNPREPARED run unnamed.
 */
function prepareStatements(client: pg.PoolClient, cap = PREPARED_PER_CONNECTION): void {
  // text → name, or null: run unnamed
  const names = new Map<string, string | null>();
  // (looked up on each call, so that a wrapper installed on the prototype later still sees the statements)
  const query: QueryFn = function (this: pg.PoolClient, ...args: unknown[]) {
    return (pg.Client.prototype.query as unknown as QueryFn).apply(this, args);
  };
  (client as unknown as { query: QueryFn }).query = function (this: pg.PoolClient, ...args: unknown[]) {
    const [text, values] = args;
    if (args.length !== 2 || typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || text.startsWith(UNPREPARED)) {
      return query.apply(this, args);
    }
    let name = names.get(text);
    if (name === undefined && names.size < cap) {
      name = `laurel_${createHash('sha1').update(text).digest('base64url')}`;
      names.set(text, name);
    }
    if (!name) return query.apply(this, args);
    return (query.call(this, { name, text, values }) as Promise<unknown>).catch((e: unknown) => {
      if ((e as { code?: string }).code === FEATURE_NOT_SUPPORTED) names.set(text, null);
      throw e;
    });
  };
}

const ARGUMENT = '\u0000laurel argument ';

/**
 * A statement built and compiled once, then run with each call's values. `build` receives
 * placeholders in place of its arguments; their places among the compiled parameters take each
 * call's values. Building and compiling a statement through Kysely cost a purchase more CPU than
 * anything else it does in Node (0.15 ms of the program and key lookup alone, measured in
 * bench/README.md). `build` must use each argument as a parameter value only, never to choose
 * the statement's text: an argument that is not a parameter is refused at the first call.
 */
export function compiledOnce<A extends unknown[], R>(build: (db: Kysely<Database>, ...args: A) => RawBuilder<R>): (db: Kysely<Database>, ...args: A) => Promise<R[]> {
  let compiled: { sql: string; parameters: readonly unknown[]; places: (number | null)[] } | null = null;
  return async (db, ...args) => {
    if (!compiled) {
      const query = build(db, ...(args.map((_, i) => `${ARGUMENT}${i}`) as A)).compile(db);
      const places = query.parameters.map((p) => (typeof p === 'string' && p.startsWith(ARGUMENT) ? Number(p.slice(ARGUMENT.length)) : null));
      const unused = args.findIndex((_, i) => !places.includes(i));
      if (unused >= 0) throw new Error(`compiledOnce: argument ${unused} is not a parameter of the statement`);
      compiled = { sql: query.sql, parameters: query.parameters, places };
    }
    const { sql: text, parameters, places } = compiled;
    return (await db.executeQuery<R>(CompiledQuery.raw(text, places.map((i, n) => (i === null ? parameters[n] : args[i]))))).rows;
  };
}

/**
 * Plans the rest of this transaction's statements without their values (PostgreSQL's generic
 * plan), which a prepared statement then keeps for its connection: for statements whose plan does
 * not depend on the values (keys and locks by primary key, appends) planning was most of their
 * cost — 1.2 ms of the group commit's 1.4 ms lock statement, planned afresh on every call because
 * the custom plan, knowing the arrays' lengths, always looked cheaper. Not for a transaction that
 * reads lots: loadLots needs the plan its values give (UNPREPARED).
 */
export async function preferGenericPlans(trx: Kysely<Database>): Promise<void> {
  await sql`set local plan_cache_mode = force_generic_plan`.execute(trx);
}

/**
 * Whether `databaseUrl` leads to a pooler in transaction (or statement) mode, such as PgBouncer's
 * pool_mode=transaction: one client's statements may then run in several server sessions, and
 * another client's in the same one, so a statement prepared by one session is missing in the next,
 * or already exists (42P05). Seen from two client connections: the server does not see our socket
 * (something stands between us), and one client's statements run in several server processes, or
 * two clients' in one. A direct connection or a session pooler keeps one server process per client.
 */
export async function behindTransactionPooler(databaseUrl: string): Promise<boolean> {
  const clients = [new pg.Client({ connectionString: databaseUrl }), new pg.Client({ connectionString: databaseUrl })] as const;
  try {
    for (const c of clients) await c.connect();
    const [a, b] = clients;
    const localPort = (a as unknown as { connection: { stream: { localPort?: number } } }).connection.stream.localPort;
    const seen = (await a.query<{ port: number | null }>('select inet_client_port() as port')).rows[0]!.port;
    if (localPort === undefined || seen === localPort) return false;
    const pid = async (c: pg.Client) => (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    // PgBouncer hands the server connection a's statement used back to its pool, and b's next
    // statement takes it (the last released first; or, with server_round_robin, a's next one moves
    // on): a few tries, in case other clients take connections in between.
    for (let i = 0; i < 10; i++) {
      const first = await pid(a);
      const other = await pid(b);
      if (other === first || (await pid(a)) !== first) return true;
    }
    return false;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

/** Prepared statements on or off: as set, else off behind a transaction pooler; set on there, refused. */
async function usePreparedStatements(databaseUrl: string, setting: boolean | undefined): Promise<boolean> {
  if (setting === false) return false;
  const pooler = await behindTransactionPooler(databaseUrl);
  if (pooler && setting === true) {
    throw new Error('DATABASE_URL leads to a pooler in transaction mode (PgBouncer pool_mode=transaction?), where prepared '
      + 'statements of one session are missing or duplicated in the next: set LAUREL_PREPARED_STATEMENTS=false (or leave it unset).');
  }
  return !pooler;
}

export async function openDatabase(options: ConnectionOptions): Promise<LaurelDb> {
  if (options.databaseUrl) {
    const prepared = await usePreparedStatements(options.databaseUrl, options.preparedStatements);
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      // Points are bigint end to end: never let int8 become a float.
      types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? BigInt : oid === DATE_OID ? asText : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser },
    });
    // A connection the server ends (a restart, a terminated backend) emits 'error': the pool
    // hears it for idle clients only, and a checked-out client between two queries has no other
    // listener, so without one of its own its error would end the process. The pool drops the
    // broken client; the query waiting on it fails and its request answers 503.
    const logger = options.logger ?? defaultLogger();
    pool.on('connect', (client) => {
      client.on('error', (err) => logger.warn({ err }, 'database connection lost'));
    });
    // (the pool re-emits an idle client's error, already logged by the client's own listener)
    pool.on('error', () => {});
    if (prepared) pool.on('connect', (client) => prepareStatements(client));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, engine: 'postgres', close: () => db.destroy() };
  }
  const dataDir = options.dataDir ?? './data';
  // PGlite returns small int8 values as numbers unless told otherwise: points stay bigint.
  const parsers = { [INT8_OID]: (value: string) => BigInt(value), [DATE_OID]: asText };
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
    preparedStatements: env.LAUREL_PREPARED_STATEMENTS ? env.LAUREL_PREPARED_STATEMENTS !== 'false' : undefined,
  };
}
