// Through HTTP: the real app (buildApp on PostgreSQL, no logger, the rate limit out of reach)
// listening on 127.0.0.1, driven by autocannon in a child process of its own (http-load.ts) at
// 32 connections. An earn is POST /v1/events with a purchase (a new externalId every request); a
// balance read is GET /v1/members/{id}/balances. Both go round many members. Next to the HTTP
// reads, getBalances is run at the same concurrency through the service layer, on the same
// members and the same pool, so that the HTTP figure has a service-level one to compare with.
// The one-rule purchase is then sent to the same app on PGlite in memory (what `npm start` runs):
// issue 11's pglite_http_purchase is its rate ÷ the PostgreSQL one.
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { verifyLedger, formatReport } from '../src/db/verify.js';
import { buildApp } from '../src/http/app.js';
import { createApiKey } from '../src/services/api-keys.js';
import { openLaurel, type Laurel } from '../src/services/context.js';
import { getBalances } from '../src/services/ledger.js';
import type { Connect } from './earn.js';
import { newFixture, newMembers, type Fixture } from './fixtures.js';
import { BASKETS, MEMBER_PROFILE, type RulesFixture } from './rules.js';
import type { HttpLoadResult, HttpLoadSpec } from './http-spec.js';
import { runLoad, type LoadResult } from './load.js';
import type { BenchOptions } from './options.js';
import { BackendCpu } from './profile.js';
import { log } from './stats.js';

export const HTTP_CONNECTIONS = 32;
/** Members the requests go round: with 32 connections, two requests rarely wait on one member's lock. */
const HTTP_MEMBERS = 256;

/** One measured HTTP run, with where its CPU went (ms per 2xx response). */
export interface HttpRun extends HttpLoadResult {
  serverNodeCpuMs: number;
  backendCpuMs: number;
  clientCpuMs: number;
  machineBusy: number;
}

export interface HttpResults {
  connections: number;
  members: number;
  earn: HttpRun[];
  balance: HttpRun[];
  /** purchases against the 20-rule program (empty without a rules fixture) */
  rules: HttpRun[];
  /** the same one-rule purchases against the app on PGlite (npm start's default), in memory, after the others */
  pglite: HttpRun[];
  /** this process's resident memory after the runs, in MB: the server runs in it */
  rssMb: number;
  /** getBalances through the service layer at the same concurrency, on the same members */
  serviceReads: LoadResult[];
  check: string;
}

/**
 * Runs http-load.ts in a child process and measures the CPU of the three parties meanwhile (the
 * PostgreSQL backends of `appName`; none for PGlite, which runs in this process).
 */
async function runHttpLoad(spec: HttpLoadSpec, databaseUrl: string, appName: string | null): Promise<HttpRun> {
  const backends = appName === null ? null : new BackendCpu(databaseUrl, appName);
  await backends?.start();
  const server0 = process.cpuUsage();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./http-load.ts', import.meta.url)), JSON.stringify(spec)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
  const server = process.cpuUsage(server0);
  const b = backends ? await backends.stop() : { backendCpuSeconds: 0, machineBusy: Number.NaN };
  if (code !== 0) throw new Error(`the HTTP load generator failed (exit ${code})`);
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as HttpLoadResult;
  if (r.non2xx > 0 || r.errors > 0) {
    throw new Error(`HTTP ${spec.kind}: ${r.non2xx} non-2xx responses and ${r.errors} errors (${JSON.stringify(r.statusCodes)})`);
  }
  // The CPU is counted over the warm-up and the measured run; so are the responses.
  const responses = r.ok + r.warmupOk;
  return {
    ...r,
    serverNodeCpuMs: (server.user + server.system) / 1000 / responses,
    backendCpuMs: b.backendCpuSeconds * 1000 / responses,
    clientCpuMs: r.cpuSeconds * 1000 / responses,
    machineBusy: b.machineBusy,
  };
}

export async function httpBenchmark(connect: Connect, fx: Fixture, o: BenchOptions, appName: string, rf: RulesFixture | null): Promise<HttpResults> {
  const c = HTTP_CONNECTIONS;
  const laurel = await connect(c + 2);
  const app = await buildApp(laurel, { logger: false, rateLimitPerMinute: Number.MAX_SAFE_INTEGER });
  let closed = false;
  try {
    const url = await listen(app);
    const pos = (await createApiKey(laurel, fx.tenantId, { name: 'bench pos', scopes: ['pos'] })).secret;
    const read = (await createApiKey(laurel, fx.tenantId, { name: 'bench read', scopes: ['read'] })).secret;
    log(`HTTP: ${url}, making ${HTTP_MEMBERS} members`);
    const members = await newMembers(laurel, fx, HTTP_MEMBERS, 'http');
    const rulesPos = rf ? (await createApiKey(laurel, rf.fx.tenantId, { name: 'bench pos', scopes: ['pos'] })).secret : '';
    const rulesMembers = rf ? await newMembers(laurel, rf.fx, HTTP_MEMBERS, 'http', MEMBER_PROFILE) : [];
    const spec = (kind: 'earn' | 'balance' | 'rules', round: number): HttpLoadSpec => (kind === 'rules'
      ? {
        url, kind, key: rulesPos, programId: rf!.fx.program.programId, members: rulesMembers, connections: c, baskets: BASKETS,
        warmupSeconds: o.warmupSeconds, seconds: o.seconds, runId: `${fx.runId}-rules-r${round}`,
      }
      : {
        url, kind, key: kind === 'earn' ? pos : read, programId: fx.program.programId, members, connections: c,
        warmupSeconds: o.warmupSeconds, seconds: o.seconds, runId: `${fx.runId}-r${round}`,
      });
    const results: HttpResults = { connections: c, members: HTTP_MEMBERS, earn: [], balance: [], rules: [], pglite: [], serviceReads: [], check: '', rssMb: 0 };
    for (let round = 0; round < o.rounds; round++) {
      const sides = ['earn', ...(rf ? ['rules'] as const : []), 'balance', 'service'] as const;
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        if (side === 'service') {
          const r = await runLoad({
            concurrency: c, warmupMs: o.warmupSeconds * 1000, durationMs: o.seconds * 1000,
            op: (w, seq) => getBalances(laurel, fx.tenantId, members[(w * 7919 + seq) % members.length]!),
          });
          results.serviceReads.push(r);
          log(`round ${round + 1}/${o.rounds}: getBalances c=${c} ${r.perSecond.toFixed(0)}/s`);
        } else {
          const r = await runHttpLoad(spec(side, round), o.databaseUrl, appName);
          results[side].push(r);
          log(`round ${round + 1}/${o.rounds}: HTTP ${side} ${r.requestsPerSecond.toFixed(1)} req/s (p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms)`);
        }
      }
    }
    // Requests the load generator gave up on at its end are finished by the server: close waits for them.
    results.rssMb = Math.round(process.memoryUsage().rss / 1_048_576);
    await app.close();
    closed = true;
    results.check = await checkHttpEarns(laurel, fx);
    if (rf) {
      const report = await verifyLedger(laurel.db, laurel.clock.now(), rf.fx.tenantId);
      if (!report.ok) throw new Error(`the rules tenant's ledger does not verify after the HTTP purchases:\n${formatReport(report)}`);
      results.check += '; laurel verify of the rules tenant after its HTTP purchases: ok';
    }
    const embedded = await embeddedPurchases(o, fx.runId);
    results.pglite = embedded.runs;
    results.check += `; on PGlite: ${embedded.check}`;
    log(results.check);
    return results;
  } finally {
    if (!closed) await app.close();
    await laurel.close();
  }
}

/**
 * The one-rule purchase against the same app on PGlite in memory (what `npm start` runs), after
 * the PostgreSQL runs (so that the RSS figure above is the PostgreSQL server's alone), for as many
 * rounds; issue 11's pglite_http_purchase is its rate ÷ the PostgreSQL purchase's.
 */
async function embeddedPurchases(o: BenchOptions, runId: string): Promise<{ runs: HttpRun[]; check: string }> {
  const laurel = await openLaurel({ dataDir: 'memory://' });
  const app = await buildApp(laurel, { logger: false, rateLimitPerMinute: Number.MAX_SAFE_INTEGER });
  let closed = false;
  try {
    const url = await listen(app);
    const fx = await newFixture(laurel, runId, 'http-pglite');
    const key = (await createApiKey(laurel, fx.tenantId, { name: 'bench pos', scopes: ['pos'] })).secret;
    const members = await newMembers(laurel, fx, HTTP_MEMBERS, 'http');
    const runs: HttpRun[] = [];
    for (let round = 0; round < o.rounds; round++) {
      const r = await runHttpLoad({
        url, kind: 'earn', key, programId: fx.program.programId, members, connections: HTTP_CONNECTIONS,
        warmupSeconds: o.warmupSeconds, seconds: o.seconds, runId: `${runId}-pglite-r${round}`,
      }, o.databaseUrl, null);
      runs.push(r);
      log(`round ${round + 1}/${o.rounds}: HTTP purchase on PGlite ${r.requestsPerSecond.toFixed(1)} req/s (p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms)`);
    }
    await app.close();
    closed = true;
    return { runs, check: await checkHttpEarns(laurel, fx) };
  } finally {
    if (!closed) await app.close();
    await laurel.close();
  }
}

async function listen(app: Awaited<ReturnType<typeof buildApp>>): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** Every purchase recorded moved its points, once; the tenant's ledger verifies. */
async function checkHttpEarns(laurel: Laurel, fx: Fixture): Promise<string> {
  const { rows: [r] } = await sql<{ events: string; unapplied: string; earns: string }>`
    select (select count(*) from events where tenant_id = ${fx.tenantId}) as events,
           (select count(*) from events where tenant_id = ${fx.tenantId} and entry_id is null) as unapplied,
           (select count(*) from journal_entries where tenant_id = ${fx.tenantId} and kind = 'earn') as earns`.execute(laurel.db);
  const report = await verifyLedger(laurel.db, laurel.clock.now(), fx.tenantId);
  if (!report.ok) throw new Error(`HTTP tenant's ledger does not verify:\n${formatReport(report)}`);
  if (r!.events !== r!.earns || Number(r!.unapplied) !== 0) {
    throw new Error(`HTTP check failed: ${r!.events} purchase events, ${r!.earns} earns, ${r!.unapplied} events without their earn`);
  }
  return `${r!.events} purchase events = ${r!.earns} earns, every event applied; laurel verify of the HTTP tenant: ok`;
}
