// The raw-SQL baseline: pgbench running the minimal SQL of an earn — in one transaction, insert
// a journal row and update the member's balance row — against two plain tables of its own.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const PGBENCH = process.env.PGBENCH || '/usr/bin/pgbench';
export const SCHEMA = 'pgbench_baseline';
/** balance rows made: one per client, whatever the concurrency */
const MEMBERS = 256;

/**
 * Each client works on its own balance row (:client_id is distinct per client), as each Laurel
 * worker earns for its own member: neither side waits on another's row lock.
 */
export const SCRIPT = `\\set member :client_id + 1
\\set amount random(1, 100)
BEGIN;
INSERT INTO ${SCHEMA}.journal (member_id, kind, amount, idempotency_key, created_at)
  VALUES (:member, 'earn', :amount, 'pgbench-' || :client_id || '-' || random(), now());
UPDATE ${SCHEMA}.balances SET available = available + :amount, lifetime_earned = lifetime_earned + :amount,
  last_activity_at = now() WHERE member_id = :member;
END;
`;

export async function setupBaseline(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`create schema if not exists ${SCHEMA}`);
    await client.query(`create table if not exists ${SCHEMA}.balances (
      member_id integer primary key, available bigint not null default 0, lifetime_earned bigint not null default 0,
      last_activity_at timestamptz)`);
    await client.query(`create table if not exists ${SCHEMA}.journal (
      entry_id uuid primary key default gen_random_uuid(), member_id integer not null, kind text not null,
      amount bigint not null, idempotency_key text, created_at timestamptz not null)`);
    // a fresh start each run, like Laurel's fresh tenant
    await client.query(`truncate ${SCHEMA}.journal, ${SCHEMA}.balances`);
    await client.query(`insert into ${SCHEMA}.balances (member_id) select g from generate_series(1, ${MEMBERS}) g`);
    await client.query(`vacuum analyze ${SCHEMA}.balances`);
  } finally {
    await client.end();
  }
}

export interface PgbenchResult {
  concurrency: number;
  tps: number;
  latencyMs: number;
  transactions: number;
}

export function parsePgbench(output: string): { tps: number; latencyMs: number; transactions: number } {
  const tps = /^tps = ([\d.]+) \(without initial connection time\)/m.exec(output);
  if (!tps) throw new Error(`pgbench printed no "tps = … (without initial connection time)" line:\n${output}`);
  const latency = /^latency average = ([\d.]+) ms/m.exec(output);
  const processed = /^number of transactions actually processed: (\d+)/m.exec(output);
  return { tps: Number(tps[1]), latencyMs: latency ? Number(latency[1]) : Number.NaN, transactions: processed ? Number(processed[1]) : 0 };
}

export class Pgbench {
  private constructor(private readonly dir: string, private readonly url: string) {}

  static async create(url: string): Promise<Pgbench> {
    await setupBaseline(url);
    const dir = await mkdtemp(join(tmpdir(), 'laurel-bench-'));
    await writeFile(join(dir, 'earn.sql'), SCRIPT);
    return new Pgbench(dir, url);
  }

  args(concurrency: number, seconds: number): string[] {
    if (concurrency > MEMBERS) throw new Error(`at most ${MEMBERS} pgbench clients`);
    return ['-f', join(this.dir, 'earn.sql'), '-n', '-c', String(concurrency), '-j', String(Math.min(concurrency, 2)),
      '-T', String(Math.max(1, Math.round(seconds))), this.url];
  }

  async run(concurrency: number, seconds: number): Promise<PgbenchResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        const output = await execute(PGBENCH, this.args(concurrency, seconds));
        return { concurrency, ...parsePgbench(output) };
      } catch (e) {
        // The server is shared: when it is out of connection slots, wait and run again.
        if (!/too many clients/i.test(String((e as Error).message)) || attempt >= 5) throw e;
        process.stderr.write(`[bench] the server has too many clients; retrying pgbench in 3 s (attempt ${attempt})\n`);
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

function execute(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(out + err);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out}${err}`));
    });
  });
}
