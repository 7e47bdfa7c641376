// The server killed (SIGKILL) while group commit has batches in flight: after a restart every
// acknowledged write is in the journal once, no write is there twice, and a client retrying the
// unanswered ones with their Idempotency-Key gets each applied once; the ledger verifies.
// The real `laurel serve` process, on a PostgreSQL database of this file's own. PostgreSQL runs only.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReport, verifyLedger } from '../src/db/verify.js';
import { openLaurel } from '../src/services/context.js';
import { onPostgres } from './support/laurel.js';
import { callServer, freePort, startLaurel, waitFor, type Answer, type LaurelProcess } from './support/processes.js';

const ADMIN_KEY = `kill-admin-${randomBytes(16).toString('hex')}`;
const RUN = randomBytes(4).toString('hex');
const MEMBERS = 8;
const WORKERS = 24;

let databaseUrl = '';
let server: LaurelProcess | undefined;
let base = '';
let programId = '';
const members: string[] = [];

async function onServer(work: (c: pg.Client) => Promise<unknown>): Promise<void> {
  const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await c.connect();
  try { await work(c); } finally { await c.end(); }
}

async function serve(): Promise<void> {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // A short wait lets batches fill, so that a kill finds several in flight.
  server = startLaurel(['serve'], { DATABASE_URL: databaseUrl, PORT: String(port), LAUREL_ADMIN_KEY: ADMIN_KEY, LAUREL_JOBS: 'off', LAUREL_BATCH_WAIT_MS: '2', LAUREL_RATE_LIMIT_PER_MINUTE: '10000000' });
  await waitFor('GET /healthz', 150_000, async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), server);
}

const call = (method: string, path: string, body?: unknown, key?: string) => callServer(base, ADMIN_KEY, method, path, body, key);

/** Even keys are adjustments (+1, group commit), odd ones purchases (POST /v1/events); each to a member in turn. */
function write(n: number): Promise<Answer> {
  const key = keyOf(n);
  const memberId = members[n % MEMBERS]!;
  return n % 2 === 0
    ? call('POST', `/v1/members/${memberId}/adjustments`, { amount: 1, reason: 'kill test' }, key)
    : call('POST', '/v1/events', { programId, memberId, type: 'purchase', externalId: key, currency: 'EUR', lines: [{ sku: 'K', quantity: 1, unitPrice: 1000 }] }, key);
}
const keyOf = (n: number) => `kill-${RUN}-${n}`;

/** Journal entries and events written under each of this run's keys. */
async function written(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ key: string; n: string }>(
      // The journal keeps a client's key as `client:<key>`.
      `select key, count(*) as n from (
         select substr(idempotency_key, 8) as key from journal_entries where idempotency_key like 'client:' || $1 and kind = 'adjust'
         union all select external_id from events where external_id like $1) x group by key`, [`kill-${RUN}-%`]);
    for (const r of rows) counts.set(r.key, Number(r.n));
  } finally {
    await c.end();
  }
  return counts;
}

const skip = onPostgres ? false : 'PostgreSQL runs only (DATABASE_URL)';

beforeAll(async () => {
  if (skip) return;
  const url = new URL(process.env.DATABASE_URL!);
  const name = `${url.pathname.slice(1) || 'laurel'}_kill_${process.pid}`;
  await onServer((c) => c.query(`drop database if exists "${name}" with (force)`).then(() => c.query(`create database "${name}"`)));
  url.pathname = `/${name}`;
  databaseUrl = url.toString();
  await serve();
  programId = /program\s+([0-9a-f-]{36})/i.exec(server!.output())?.[1] ?? '';
  if (!programId) programId = ((await call('GET', '/v1/programs')).body.data as { programId: string }[])[0]!.programId;
  for (let i = 0; i < MEMBERS; i++) {
    const m = await call('POST', '/v1/members', { programId, externalId: `kill-member-${i}` });
    expect(m.status, JSON.stringify(m.body)).toBe(201);
    members.push(m.body.memberId as string);
  }
}, 200_000);

afterAll(async () => {
  await server?.kill();
  if (databaseUrl) await onServer((c) => c.query(`drop database if exists "${new URL(databaseUrl).pathname.slice(1)}" with (force)`));
});

describe.skipIf(skip)('the server killed with batches in flight', () => {
  it('keeps every acknowledged write once, none twice, and applies each retried one once', async () => {
    const answers = new Map<number, Answer | 'unanswered'>();
    let next = 0;
    let sending = true;
    const worker = async () => {
      while (sending) {
        const n = next++;
        answers.set(n, await write(n).catch(() => 'unanswered' as const));
      }
    };
    const workers = Array.from({ length: WORKERS }, worker);
    await waitFor('writes acknowledged before the kill', 60_000,
      async () => ([...answers.values()].filter((a) => a !== 'unanswered' && a.status === 201).length >= 300 ? true : undefined), server);
    await server!.kill();
    sending = false;
    await Promise.all(workers);

    const acknowledged = [...answers].filter(([, a]) => a !== 'unanswered' && a.status === 201).map(([n]) => n);
    const unanswered = [...answers].filter(([, a]) => a === 'unanswered').map(([n]) => n);
    expect([...answers.values()].filter((a) => a !== 'unanswered' && a.status !== 201), 'only 201 or no answer').toEqual([]);
    expect(unanswered.length, 'the kill left requests unanswered').toBeGreaterThan(0);

    await serve();
    const before = await written();
    for (const n of acknowledged) expect(before.get(keyOf(n)), `acknowledged ${keyOf(n)}`).toBe(1);
    expect([...before.values()].filter((c) => c > 1), 'nothing twice').toEqual([]);

    // The client retries everything with its key: acknowledged ones replay their answer, the rest apply once.
    for (const [n, first] of answers) {
      const again = await write(n);
      expect(again.status, JSON.stringify(again.body)).toBe(201);
      if (first !== 'unanswered') expect(again.body).toEqual(first.body);
    }
    const after = await written();
    expect(after.size).toBe(answers.size);
    expect([...after.values()].every((c) => c === 1)).toBe(true);

    const check = await openLaurel({ databaseUrl, poolSize: 1 });
    try {
      const report = await verifyLedger(check.db, new Date(), null);
      expect(report.ok, formatReport(report)).toBe(true);
      // Each member's adjustments: one point per even key sent to it.
      for (let i = 0; i < MEMBERS; i++) {
        const { adjusted } = await check.db.selectFrom('journal_entries').select((eb) => eb.fn.sum<string>('amount').as('adjusted'))
          .where('member_id', '=', members[i]!).where('kind', '=', 'adjust').executeTakeFirstOrThrow();
        const sent = [...answers.keys()].filter((n) => n % 2 === 0 && n % MEMBERS === i).length;
        expect(Number(adjusted ?? 0), `member ${i}`).toBe(sent);
      }
    } finally {
      await check.close();
    }
  }, 300_000);
});
