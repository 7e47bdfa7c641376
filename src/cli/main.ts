// `laurel`: the one command for operators. Each subcommand opens the database from the
// environment (DATABASE_URL, or PGlite in LAUREL_DATA_DIR), does one thing, and exits.
import { parseArgs } from 'node:util';
import { formatReport, verifyLedger } from '../db/verify.js';
import { listRuns, listSchedules, setSchedule } from '../db/jobs.js';
import { settleDue } from '../db/settlement.js';
import { nextRun, validateCron } from '../jobs/cron.js';
import { installSchedules, runJobNow, startRunner, workerName } from '../jobs/runner.js';
import { buildApp } from '../http/app.js';
import { DomainError } from '../core/errors.js';
import { createApiKey } from '../services/api-keys.js';
import { openLaurel, type Laurel } from '../services/context.js';
import { hasData, seedDemo } from '../services/demo.js';
import { getBalance } from '../services/ledger.js';
import { existingTenant, Failure, KEY_COMMANDS, keys, TENANT_COMMANDS, tenants } from './tenants.js';
import { idOption, UsageError, USAGE, type Values } from './usage.js';
import { randomPassword, USER_COMMANDS, users } from './users.js';
import { createUser } from '../services/users.js';

const DEMO_OWNER_EMAIL = 'owner@demo.laurel';

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

const JOB_COMMANDS = ['list', 'run', 'schedule'];

async function jobs(laurel: Laurel, sub: string, name: string | undefined, values: Values): Promise<number> {
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
    const job = jobName(name, sub);
    const tty = process.stdout.isTTY;
    const outcome = await runJobNow(laurel, job, (p) => {
      if (tty) process.stdout.write(`\r${job}: ${p.done} ${p.unit}…`);
    });
    if (tty) process.stdout.write('\n');
    console.log(`${job} ${outcome.status} (run ${outcome.runId})${outcome.error ? `: ${outcome.error}` : ''} ${JSON.stringify(outcome.stats)}`);
    return outcome.status === 'succeeded' ? 0 : 1;
  }
  if (sub === 'schedule') {
    const job = jobName(name, sub);
    const current = (await listSchedules(laurel.db)).find((s) => s.job === job);
    if (!current) throw new Failure(`no job ${job} (laurel jobs list shows them)`);
    const cron = typeof values.cron === 'string' ? values.cron : current.cron;
    const timeZone = typeof values['time-zone'] === 'string' ? values['time-zone'] : current.time_zone;
    validateCron(cron, timeZone);
    const enabled = values.enable ? true : values.disable ? false : undefined;
    await setSchedule(laurel.db, job, { cron, timeZone, enabled, nextRunAt: nextRun(cron, timeZone, laurel.clock.now()) });
    console.log(`${job}: ${cron} (${timeZone})${enabled === undefined ? '' : enabled ? ', enabled' : ', disabled'}`);
  }
  return 0;
}

function jobName(name: string | undefined, sub: string): string {
  if (!name) throw new UsageError(`a job name is required: laurel jobs ${sub} NAME (laurel jobs list shows them)`);
  return name;
}

const GROUPS: Record<string, string[]> = { jobs: JOB_COMMANDS, tenants: TENANT_COMMANDS, keys: KEY_COMMANDS, users: USER_COMMANDS };
const COMMANDS = ['serve', 'worker', 'migrate', 'verify', 'settle', 'demo', ...Object.keys(GROUPS)];

/** Options of every command; node's parser refuses any other. */
function parseOptions(args: string[]): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args,
      options: {
        tenant: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' }, key: { type: 'string' },
        'time-zone': { type: 'string' }, currency: { type: 'string' }, cron: { type: 'string' },
        email: { type: 'string' }, role: { type: 'string' }, password: { type: 'string' },
        enable: { type: 'boolean' }, disable: { type: 'boolean' },
      },
      allowPositionals: true,
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'([^']+)'/.exec((e as Error).message)?.[1] ?? '';
      throw new UsageError(`unknown option: ${option}`, true);
    }
    if (code?.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((e as Error).message);
    throw e;
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  if (command === undefined) throw new UsageError('a command is required', true);
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command: ${command}`, true);
  const group = GROUPS[command];
  if (group && (sub === undefined || !group.includes(sub))) {
    throw new UsageError(sub === undefined ? `laurel ${command} needs one of: ${group.join(', ')}` : `unknown command: ${command} ${sub}`, true);
  }
  const { values, positionals } = parseOptions(group ? rest : [sub ?? '', ...rest].filter(Boolean));
  switch (command) {
    case 'serve':
      await serve();
      return -1;
    case 'worker':
      await worker();
      return -1;
    case 'jobs':
      return withLaurel((laurel) => jobs(laurel, sub!, positionals[0], values));
    case 'migrate':
      await withLaurel(async () => console.log('migrations applied'));
      return 0;
    case 'verify': {
      const tenantId = idOption(values, 'tenant', 'a tenant');
      return withLaurel(async (laurel) => {
        if (tenantId !== null) await existingTenant(laurel, tenantId);
        const report = await verifyLedger(laurel.db, laurel.clock.now(), tenantId);
        console.log(formatReport(report));
        return report.ok ? 0 : 1;
      });
    }
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
      return withLaurel((laurel) => tenants(laurel, sub!, values));
    case 'users':
      return withLaurel((laurel) => users(laurel, sub!, values));
    default:
      return withLaurel((laurel) => keys(laurel, sub!, values));
  }
}

/** The option a service's input field came from, so a refusal names what the operator typed. */
const OPTION_OF: Record<string, string> = { tenantId: 'tenant', keyId: 'key', timeZone: 'time-zone', name: 'name', scopes: 'scopes', currency: 'currency', cron: 'cron', email: 'email', role: 'role', password: 'password' };

/** Exit codes: 0 success, 1 a failure, 2 a usage error (with the usage when the command line was not understood). */
function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) {
    console.error(e.showUsage ? `${e.message}\n\n${USAGE}` : e.message);
    return 2;
  }
  if (e instanceof DomainError && e.code === 'validation') {
    const option = e.field && OPTION_OF[e.field];
    console.error(option ? `--${option}: ${e.message}` : e.message);
    return 2;
  }
  console.error(e instanceof Error ? e.message : e);
  return 1;
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
}, (e) => process.exit(exitCodeOf(e)));
