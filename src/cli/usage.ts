// What `laurel help` prints, and the error that sends it: a command line the CLI cannot run
// (unknown command or option, a missing or malformed value) exits 2, a failure 1.
import { isUuid } from '../core/ids.js';

export const USAGE = `usage: laurel <command> [options]

commands:
  serve                 the API on PORT, with the job runner inside (LAUREL_JOBS=off: without); on an
                        empty database it first creates a demo tenant and prints its admin API key
  worker                the job runner alone, no API (run any number of them on PostgreSQL)
  jobs list             each job's schedule, next run and last runs
  jobs run NAME         run a job now (a progress line on a terminal), recorded like a scheduled run
  jobs schedule NAME [--cron EXPR] [--time-zone ZONE] [--enable | --disable]
  migrate               apply the database migrations that are not applied yet
  verify [--tenant ID]  recompute balances and lots from the journal; exit 1 on any difference
  settle                mature, expire, release and repay everything due now, once
  demo                  create a demo tenant and program (on any database) and print its admin key
  tenants list          every tenant: id, name, time zone, currency
  tenants create --name NAME --time-zone ZONE --currency CODE
                        create a tenant and print its first admin API key
  keys create --tenant ID --name NAME --scopes admin,pos,read
                        create an API key and print it (the only time it is shown)
  keys list [--tenant ID]
                        every key (or the tenant's) with its tenant, name, scopes, state
  keys revoke --key KEY_ID [--tenant ID]
                        revoke a key, found by its id
  users create --tenant ID --email EMAIL --name NAME --role owner|marketer|support|finance|viewer [--password P]
                        a console user (the password is printed when generated)
  users list --tenant ID

exit codes:
  0 success, 1 failure (not found, refused, ledger inconsistent), 2 usage error

environment:
  DATABASE_URL          postgres://… (default: embedded PGlite)
  LAUREL_DATA_DIR       PGlite data directory (default ./data)
  PORT, HOST            where serve listens (default 3000, 127.0.0.1)
  LAUREL_ADMIN_KEY      on first start, the demo tenant's admin key (default: random, printed)
  LAUREL_OWNER_PASSWORD on first start, the demo owner's console password (default: random, printed)
  LAUREL_OPERATOR_KEY   lets POST /v1/tenants create tenants over HTTP
  LAUREL_JOBS=off       serve without the job runner (run laurel worker instead)
  LAUREL_JOBS_POLL_SECONDS        how often a runner looks for due jobs (default 5)
  LAUREL_RATE_LIMIT_PER_MINUTE    requests per minute per API key (default 6000)
  LAUREL_API_KEY_CACHE_SECONDS    how long a process trusts a key it looked up (default 5; 0: every request)
  REDIS_URL             redis://… : the rate limit shared by every process using it (default: per process)
  LAUREL_PREPARED_STATEMENTS      true | false (default: on, off behind a transaction pooler such as PgBouncer)
  LAUREL_CLOCK_START    an ISO instant the clock starts at (demos, the README's walkthroughs; never in production)
  LAUREL_WEBHOOKS_ALLOW_PRIVATE=true  webhook endpoints may be loopback, private or link-local addresses
  LOG_LEVEL             pino level (default info)`;

/** A command line the CLI cannot run: printed, with the usage when it helps, and exit code 2. */
export class UsageError extends Error {
  constructor(message: string, readonly showUsage = false) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Values = Record<string, string | boolean | undefined>;

export function required(values: Values, option: string): string {
  const value = values[option];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${option} is required (laurel help)`);
  return value;
}

/** An option holding an id, checked before any query: `--tenant nope` is a usage error, not a database error. */
export function idOption(values: Values, option: string, what: string): string | null {
  const value = values[option];
  if (value === undefined) return null;
  if (typeof value !== 'string' || !isUuid(value)) throw new UsageError(`--${option} must be ${what} id (a UUID), not ${JSON.stringify(value)}`);
  return value.toLowerCase();
}
