// Where an earn's time goes: each statement's round trip as the client sees it (by wrapping
// pg.Client#query), the wait for a pooled connection, this process's CPU, the CPU of the server
// backends serving us (from /proc), and the server's planning vs execution time (EXPLAIN).
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

export type StatementKind = 'begin' | 'idempotency lookup' | 'lock+load wallet' | 'write decision' | 'commit' | 'other';

export function classify(text: string): StatementKind {
  const head = text.trimStart().slice(0, 40).toLowerCase();
  if (head === 'begin' || head.startsWith('start transaction')) return 'begin';
  if (head === 'commit') return 'commit';
  if (head.startsWith('with e as (insert into journal_entries')) return 'write decision';
  if (head.startsWith('select') && text.includes('from "idempotency_keys"')) return 'idempotency lookup';
  if (text.includes('for update of b')) return 'lock+load wallet';
  return 'other';
}

interface Tally { count: number; totalMs: number }

export interface QuerySample { text: string; values: unknown[] }

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
type ConnectFn = (this: pg.Pool, ...args: unknown[]) => unknown;

/** Counts and times every statement Laurel sends, by kind, while installed. */
export class QueryProfiler {
  readonly tallies = new Map<StatementKind, Tally>();
  readonly samples = new Map<StatementKind, QuerySample>();
  poolWait: Tally = { count: 0, totalMs: 0 };
  private originalQuery: QueryFn | null = null;
  private originalConnect: ConnectFn | null = null;

  install(): void {
    if (this.originalQuery) return;
    const record = (t: Tally, ms: number) => this.add(t, ms);
    const tally = (kind: StatementKind) => this.tally(kind);
    const samples = this.samples;
    const clientProto = pg.Client.prototype as unknown as { query: QueryFn };
    const poolProto = pg.Pool.prototype as unknown as { connect: ConnectFn };
    const query = clientProto.query;
    const connect = poolProto.connect;
    this.originalQuery = query;
    this.originalConnect = connect;
    clientProto.query = function (this: pg.Client, ...args: unknown[]) {
      // query(text, values), or query({ name, text, values }) for a prepared statement (src/db/connection.ts)
      const [first, second] = args;
      const config = first !== null && typeof first === 'object' ? first as { text?: unknown; values?: unknown } : null;
      const text = config ? config.text : first;
      const values = config ? config.values : second;
      // (the bench's own monitoring queries are not Laurel's)
      if (typeof text !== 'string' || args.length > 2 || text.includes('pg_stat_activity')) return query.apply(this, args);
      const kind = classify(text);
      if (!samples.has(kind)) samples.set(kind, { text, values: Array.isArray(values) ? [...values] : [] });
      const t = performance.now();
      const done = () => record(tally(kind), performance.now() - t);
      return (query.apply(this, args) as Promise<unknown>).then((r) => { done(); return r; }, (e: unknown) => { done(); throw e; });
    };
    const poolWait = () => this.poolWait;
    poolProto.connect = function (this: pg.Pool, ...args: unknown[]) {
      if (args.length > 0) return connect.apply(this, args);
      const t = performance.now();
      return (connect.apply(this, args) as Promise<unknown>).then((c) => { record(poolWait(), performance.now() - t); return c; });
    };
  }

  uninstall(): void {
    if (this.originalQuery) (pg.Client.prototype as unknown as { query: QueryFn }).query = this.originalQuery;
    if (this.originalConnect) (pg.Pool.prototype as unknown as { connect: ConnectFn }).connect = this.originalConnect;
    this.originalQuery = null;
    this.originalConnect = null;
  }

  reset(): void {
    this.tallies.clear();
    this.poolWait = { count: 0, totalMs: 0 };
  }

  private tally(kind: StatementKind): Tally {
    let t = this.tallies.get(kind);
    if (!t) this.tallies.set(kind, (t = { count: 0, totalMs: 0 }));
    return t;
  }

  private add(t: Tally, ms: number): void {
    t.count++;
    t.totalMs += ms;
  }
}

const CLK_TCK = 100;

async function processTicks(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** Total CPU ticks of the whole machine: busy and all, from /proc/stat. */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Samples the CPU time of the server backends whose application_name is `appName`, every 100 ms,
 * from first to last sight of each (pgbench's backends live only as long as its run).
 */
export class BackendCpu {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private client: pg.Client;
  private busy = false;
  private machine0: { busy: number; total: number } | null = null;
  private machine1: { busy: number; total: number } | null = null;

  constructor(url: string, private readonly appName: string) {
    this.client = new pg.Client({ connectionString: url, application_name: 'laurel-bench-monitor' });
  }

  async start(): Promise<void> {
    await this.client.connect();
    this.machine0 = await machineTicks();
    await this.sample();
    this.timer = setInterval(() => { void this.sample(); }, 100);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ pid: number }>('select pid from pg_stat_activity where application_name = $1', [this.appName]);
      for (const { pid } of rows) {
        const ticks = await processTicks(pid);
        if (ticks === null) continue;
        if (!this.first.has(pid)) this.first.set(pid, ticks);
        this.last.set(pid, ticks);
      }
    } catch {
      // a sample lost to a closing client: the next one counts
    } finally {
      this.busy = false;
    }
  }

  /** Stops sampling; answers the backends' CPU seconds, and how busy the machine was meanwhile (0..1). */
  async stop(): Promise<{ backendCpuSeconds: number; machineBusy: number; backends: number }> {
    await this.sample();
    if (this.timer) clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    this.machine1 = await machineTicks();
    await this.client.end();
    let ticks = 0;
    for (const [pid, t0] of this.first) ticks += (this.last.get(pid) ?? t0) - t0;
    const m0 = this.machine0!;
    const m1 = this.machine1;
    return { backendCpuSeconds: ticks / CLK_TCK, machineBusy: (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total), backends: this.first.size };
  }
}

export interface PlanTimes { planningMs: number; executionMs: number | null }

/**
 * EXPLAIN a captured statement: with ANALYZE inside a rolled-back transaction, or plan only.
 * On one warm connection, best of `times`: a new backend's first plans pay for its empty catalog caches.
 */
export async function explain(url: string, sample: QuerySample, analyze: boolean, times = 3): Promise<PlanTimes> {
  const client = new pg.Client({ connectionString: url, application_name: 'laurel-bench-monitor' });
  await client.connect();
  try {
    let best: PlanTimes | null = null;
    for (let i = 0; i < times; i++) {
      await client.query('begin');
      try {
        const options = analyze ? 'analyze, format json' : 'summary, format json';
        const { rows } = await client.query<{ 'QUERY PLAN': [{ 'Planning Time': number; 'Execution Time'?: number }] }>(
          `explain (${options}) ${sample.text}`, sample.values);
        const plan = rows[0]!['QUERY PLAN'][0];
        const t = { planningMs: plan['Planning Time'], executionMs: plan['Execution Time'] ?? null };
        if (!best || t.planningMs + (t.executionMs ?? 0) < best.planningMs + (best.executionMs ?? 0)) best = t;
      } finally {
        await client.query('rollback');
      }
    }
    return best!;
  } finally {
    await client.end();
  }
}

/** The same statement with some parameters replaced (another member, another tenant). */
export function withValues(sample: QuerySample, replace: Map<string, string>): QuerySample {
  return { text: sample.text, values: sample.values.map((v) => (typeof v === 'string' ? replace.get(v) ?? v : v)) };
}
