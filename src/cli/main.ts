// `laurel`: the one command for operators. Each subcommand opens the database from the
// environment (DATABASE_URL, or PGlite in LAUREL_DATA_DIR), does one thing, and exits.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { formatReport, verifyLedger } from '../db/verify.js';
import { listRuns, listSchedules, setSchedule } from '../db/jobs.js';
import { settleDue } from '../db/settlement.js';
import { nextRun, validateCron } from '../jobs/cron.js';
import { installSchedules, runJobNow, startRunner, workerName } from '../jobs/runner.js';
import { buildApp } from '../http/app.js';
import { createApiKey, listApiKeys, revokeApiKey, validateScopes } from '../services/api-keys.js';
import { openLaurel, type Laurel } from '../services/context.js';
import { hasData, seedDemo } from '../services/demo.js';
import { getBalance } from '../services/ledger.js';
import { createTenant } from '../services/tenants.js';
import { createUser, listUsers } from '../services/users.js';

const randomPassword = () => randomBytes(12).toString('base64url');
const DEMO_OWNER_EMAIL = 'owner@demo.laurel';

const USAGE = `usage: laurel <command> [options]

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
  tenants create --name NAME --time-zone ZONE --currency CODE
                        create a tenant and print its first admin API key
  keys create --tenant ID --name NAME --scopes admin,pos,read
  keys list --tenant ID
  keys revoke --tenant ID --key KEY_ID
  users create --tenant ID --email EMAIL --name NAME --role owner|marketer|support|finance|viewer [--password P]
                        a console user (password printed when generated)
  users list --tenant ID

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
  LAUREL_WEBHOOKS_ALLOW_PRIVATE=true  webhook endpoints may be loopback, private or link-local addresses
  LOG_LEVEL             pino level (default info)`;

async function withLaurel<T>(fn: (laurel: Laurel) => Promise<T>): Promise<T> {
  const laurel = await openLaurel();
  try {
    return await fn(laurel);
  } finally {
    await laurel.close();
  }
}

/** Creates the demo tenant and its admin key; returns the key so serve can print it. */
async function createDemo(laurel: Laurel): Promise<string> {
  const demo = await seedDemo(laurel);
  const key = await createApiKey(laurel, demo.tenant.tenantId, { name: 'demo admin', scopes: ['admin'], secret: process.env.LAUREL_ADMIN_KEY || undefined });
  console.log(`demo tenant   ${demo.tenant.name} (${demo.tenant.tenantId})`);
  console.log(`demo program  ${demo.program.name} (${demo.program.programId})`);
  for (const m of demo.members) {
    const b = await getBalance(laurel, demo.tenant.tenantId, m.memberId);
    console.log(`  member ${m.name.padEnd(6)} ${m.memberId}  available ${b.available}, pending ${b.pending}`);
  }
  console.log(`admin API key ${key.secret}`);
  const password = process.env.LAUREL_OWNER_PASSWORD || randomPassword();
  await createUser(laurel, demo.tenant.tenantId, { email: DEMO_OWNER_EMAIL, name: 'Demo Owner', role: 'owner', password });
  console.log(`console owner ${DEMO_OWNER_EMAIL}  password ${password}`);
  return key.secret;
}

async function serve(): Promise<void> {
  const laurel = await openLaurel();
  if (!(await hasData(laurel))) await createDemo(laurel);
  else console.log('existing database: make an API key with `npx laurel keys create --tenant ID --name NAME --scopes admin`');
  const app = await buildApp(laurel);
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  await app.listen({ port, host });
  const base = `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`;
  console.log(`laurel ready on ${laurel.engine}: API ${base}/v1  docs ${base}/docs  OpenAPI ${base}/openapi.json  health ${base}/healthz`);
  console.log(`console ${base}/console  member portal ${base}/portal`);

  const runner = process.env.LAUREL_JOBS === 'off' ? null
    : startRunner(laurel, { pollMs: pollMs(), onError: (e) => app.log.error({ err: e }, 'job runner failed') });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing requests in flight');
    await app.close();
    await runner?.stop();
    await laurel.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

const pollMs = (): number => Number(process.env.LAUREL_JOBS_POLL_SECONDS ?? 5) * 1000;

/** The runner alone: polls until SIGINT or SIGTERM, then lets the job in progress finish. */
async function worker(): Promise<void> {
  const laurel = await openLaurel();
  const runner = startRunner(laurel, { pollMs: pollMs(), onError: (e) => console.error(`job runner: ${e instanceof Error ? e.message : String(e)}`) });
  console.log(`laurel worker ${workerName()} on ${laurel.engine}: polling every ${pollMs() / 1000} s`);
  const stop = async () => {
    await runner.stop();
    await laurel.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

async function jobs(laurel: Laurel, sub: string | undefined, name: string | undefined, values: Record<string, string | boolean | undefined>): Promise<number> {
  await installSchedules(laurel);
  if (sub === 'list') {
    const runs = await listRuns(laurel.db, { limit: 200 });
    for (const s of await listSchedules(laurel.db)) {
      const last = runs.find((r) => r.job === s.job);
      console.log(`${s.job.padEnd(18)} ${s.enabled ? 'enabled ' : 'disabled'} ${s.cron} (${s.time_zone})  next ${s.next_run_at.toISOString()}`
        + `${s.failures ? `  ${s.failures} failures in a row` : ''}`);
      if (last) {
        console.log(`${''.padEnd(18)} last run ${last.status} at ${last.started_at.toISOString()} by ${last.worker}`
          + `${last.stats ? ` ${JSON.stringify(last.stats)}` : ''}${last.error ? ` error: ${last.error}` : ''}`);
      }
    }
    return 0;
  }
  if (sub === 'run') {
    const job = required(name, 'job name');
    const tty = process.stdout.isTTY;
    const outcome = await runJobNow(laurel, job, (p) => {
      if (tty) process.stdout.write(`\r${job}: ${p.done} ${p.unit}…`);
    });
    if (tty) process.stdout.write('\n');
    console.log(`${job} ${outcome.status} (run ${outcome.runId})${outcome.error ? `: ${outcome.error}` : ''} ${JSON.stringify(outcome.stats)}`);
    return outcome.status === 'succeeded' ? 0 : 1;
  }
  if (sub === 'schedule') {
    const job = required(name, 'job name');
    const current = (await listSchedules(laurel.db)).find((s) => s.job === job);
    if (!current) throw new Error(`no job ${job}`);
    const cron = typeof values.cron === 'string' ? values.cron : current.cron;
    const timeZone = typeof values['time-zone'] === 'string' ? values['time-zone'] : current.time_zone;
    validateCron(cron, timeZone);
    const enabled = values.enable ? true : values.disable ? false : undefined;
    await setSchedule(laurel.db, job, { cron, timeZone, enabled, nextRunAt: nextRun(cron, timeZone, laurel.clock.now()) });
    console.log(`${job}: ${cron} (${timeZone})${enabled === undefined ? '' : enabled ? ', enabled' : ', disabled'}`);
    return 0;
  }
  console.log(USAGE);
  return 2;
}

function required(value: string | undefined, option: string): string {
  if (!value) throw new Error(`--${option} is required (laurel help)`);
  return value;
}

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: command === 'keys' || command === 'tenants' || command === 'jobs' || command === 'users' ? rest : [sub ?? '', ...rest].filter(Boolean),
    options: {
      tenant: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' }, key: { type: 'string' },
      'time-zone': { type: 'string' }, currency: { type: 'string' }, cron: { type: 'string' },
      email: { type: 'string' }, role: { type: 'string' }, password: { type: 'string' },
      enable: { type: 'boolean' }, disable: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  switch (command) {
    case 'serve':
      await serve();
      return -1;
    case 'worker':
      await worker();
      return -1;
    case 'jobs':
      return withLaurel((laurel) => jobs(laurel, sub, positionals[0], values));
    case 'migrate':
      await withLaurel(async () => console.log('migrations applied'));
      return 0;
    case 'verify':
      return withLaurel(async (laurel) => {
        const report = await verifyLedger(laurel.db, laurel.clock.now(), values.tenant ?? null);
        console.log(formatReport(report));
        return report.ok ? 0 : 1;
      });
    case 'settle':
      return withLaurel(async (laurel) => {
        const r = await settleDue(laurel.db, laurel.clock.now());
        console.log(`settled ${r.wallets} wallets: ${r.lotsMatured} lots matured, ${r.lotsExpired} lots expired (${r.pointsExpired} points), ${r.holdsReleased} holds released, ${r.debtsRepaid} debt repayments`);
        return 0;
      });
    case 'demo':
      await withLaurel(createDemo);
      return 0;
    case 'tenants':
      if (sub !== 'create') break;
      return withLaurel(async (laurel) => {
        const tenant = await createTenant(laurel, { name: required(values.name, 'name'), timeZone: required(values['time-zone'], 'time-zone'), currency: required(values.currency, 'currency') });
        const key = await createApiKey(laurel, tenant.tenantId, { name: 'first admin key', scopes: ['admin'] });
        console.log(`tenant ${tenant.tenantId}\nadmin API key ${key.secret}`);
        return 0;
      });
    case 'users':
      return withLaurel(async (laurel) => {
        const tenantId = required(values.tenant, 'tenant');
        if (sub === 'create') {
          const password = values.password ?? randomPassword();
          const user = await createUser(laurel, tenantId, { email: required(values.email, 'email'), name: required(values.name, 'name'), role: required(values.role, 'role'), password });
          console.log(`${user.userId}  ${user.email}  ${user.role}${values.password ? '' : `  password ${password}`}`);
        } else if (sub === 'list') {
          for (const u of await listUsers(laurel, tenantId)) console.log(`${u.userId}  ${u.email}  ${u.role}${u.disabled ? '  disabled' : ''}`);
        } else {
          console.log(USAGE);
          return 2;
        }
        return 0;
      });
    case 'keys':
      return withLaurel(async (laurel) => {
        const tenantId = required(values.tenant, 'tenant');
        if (sub === 'create') {
          const key = await createApiKey(laurel, tenantId, { name: required(values.name, 'name'), scopes: validateScopes(required(values.scopes, 'scopes').split(',')) });
          console.log(`${key.keyId}  ${key.scopes.join(',')}  ${key.secret}`);
        } else if (sub === 'list') {
          for (const k of await listApiKeys(laurel, tenantId)) {
            console.log(`${k.keyId}  ${k.name}  ${k.scopes.join(',')}  ${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active'}`);
          }
        } else if (sub === 'revoke') {
          const k = await revokeApiKey(laurel, tenantId, required(values.key, 'key'));
          console.log(`${k.keyId} revoked`);
        } else {
          console.log(USAGE);
          return 2;
        }
        return 0;
      });
  }
  console.log(USAGE);
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
}, (e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
