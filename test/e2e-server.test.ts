// The real server, started the way `npm start` starts it, driven over real HTTP: the admin key
// it was given works, a member found by card earns, holds and spends points, the docs are
// served, a request in flight when SIGTERM arrives still completes, the process exits 0, and
// `laurel verify` finds the ledger it leaves sound. The tenant, program and member every test
// uses are found before the first; only the last two depend on order, as a process's life does:
// the shutdown ends the server, and verify reads what it left.
//
// On PGlite the server gets a fresh data directory and creates the demo tenant (whose admin key
// is LAUREL_ADMIN_KEY). On PostgreSQL (DATABASE_URL) the database already has tenants, so no
// demo is made: the test creates its own tenant, program, member and key first.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/services/api-keys.js';
import { openLaurel } from '../src/services/context.js';
import { adjust } from '../src/services/ledger.js';
import { createMember } from '../src/services/members.js';
import { createRule } from '../src/services/rules.js';
import { createProgram, createTenant } from '../src/services/tenants.js';
import { basicProgram, onPostgres } from './support/laurel.js';
import { freePort, ROOT, run } from './support/processes.js';

const ADMIN_KEY = `e2e-admin-${randomBytes(16).toString('hex')}`;
const CARD = 'CARD-0001';

let dir: string;
let server: ChildProcess | undefined;
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let output = '';
let base: string;
/** what the test knows about the tenant it drives */
const known: { tenantId?: string; programId?: string; memberId?: string } = {};

const alive = () => server !== undefined && server.exitCode === null && server.signalCode === null;

/** Whether a new TCP connection to the port is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Resolves when the server's output, from `from` on, matches `pattern`; fails if the server exits
 * first. No clock: the test's own timeout bounds a server that never says it.
 */
function until(pattern: RegExp, from = 0): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const look = () => {
      const found = pattern.exec(output.slice(from));
      if (!found) return false;
      server!.stdout!.off('data', look);
      server!.stderr!.off('data', look);
      resolve(found);
      return true;
    };
    if (look()) return;
    server!.stdout!.on('data', look);
    server!.stderr!.on('data', look);
    void exited.then(() => { if (!look()) reject(new Error(`the server exited before printing ${pattern}:\n${output}`)); });
  });
}

/** Probes until the answer is yes, as fast as the answers come: for a socket state that prints nothing. */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  while (!(await probe())) {
    if (!alive()) throw new Error(`the server exited while waiting for ${what}:\n${output}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

interface Sent {
  status: number;
  type: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of many shapes
}

/** One request over real HTTP, with the admin key; POSTs get an Idempotency-Key. */
async function api(method: string, path: string, body?: unknown): Promise<Sent> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_KEY}` };
  if (method === 'POST') headers['idempotency-key'] = `e2e-${randomBytes(8).toString('hex')}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = r.headers.get('content-type') ?? '';
  const text = await r.text();
  return { status: r.status, type, body: type.includes('json') ? JSON.parse(text) : text };
}

/** The server's environment: what `npm start` would see, plus the test's settings. */
function serverEnv(port: number): NodeJS.ProcessEnv {
  // info: the server logs each request as it arrives, which the shutdown test waits for
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), LAUREL_DATA_DIR: join(dir, 'data'), LAUREL_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'info' };
  delete env.HOST;
  if (!onPostgres) delete env.DATABASE_URL;
  return env;
}

/** On PostgreSQL: a tenant of the test's own, earning 1 point per euro by a rule, with a member holding the card and some points. */
async function seedOwnTenant(): Promise<void> {
  const laurel = await openLaurel({ databaseUrl: process.env.DATABASE_URL, dataDir: 'memory://', poolSize: 2 });
  try {
    const tenant = await createTenant(laurel, { name: 'E2E tenant', timeZone: 'Europe/Paris', currency: 'EUR' });
    const program = await createProgram(laurel, tenant.tenantId, { ...basicProgram, name: 'E2E rewards' });
    // a program earns by its rules only: 1 point per euro, as the demo program does
    await createRule(laurel, tenant.tenantId, program.programId, {
      name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 },
    }, { actor: 'e2e' });
    const member = await createMember(laurel, tenant.tenantId, { programId: program.programId, cardCode: CARD, externalId: 'e2e-alice' });
    await adjust(laurel, { tenantId: tenant.tenantId, memberId: member.memberId, amount: 500, reason: 'opening balance', actor: 'e2e', idempotencyKey: 'e2e-opening' });
    await createApiKey(laurel, tenant.tenantId, { name: 'e2e admin', scopes: ['admin'], secret: ADMIN_KEY });
    Object.assign(known, { tenantId: tenant.tenantId, programId: program.programId });
  } finally {
    await laurel.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'laurel-e2e-'));
  if (onPostgres) await seedOwnTenant();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], { cwd: ROOT, env: serverEnv(port), stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d) => (output += d));
  server.stderr!.on('data', (d) => (output += d));
  exited = new Promise((resolve) => server!.once('exit', (code, signal) => resolve({ code, signal })));
  // migrations, the demo history and tsx compiling the sources: the server says when it listens
  await until(/laurel ready on/);
  // What every test needs, found here rather than left by an earlier test.
  if (!onPostgres) {
    known.programId = /demo program {2}.* \(([0-9a-f-]{36})\)/.exec(output)?.[1];
    known.tenantId = /demo tenant {3}.* \(([0-9a-f-]{36})\)/.exec(output)?.[1];
  }
  known.memberId = (await api('GET', `/v1/members/lookup?programId=${known.programId}&cardCode=${CARD}`)).body.memberId;
}, 180_000);

afterAll(async () => {
  if (alive()) {
    server!.kill('SIGKILL');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the server as npm start runs it', () => {
  it('answers /healthz on the engine it was given', async () => {
    const r = await api('GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', engine: onPostgres ? 'postgres' : 'pglite' });
  });

  it.skipIf(onPostgres)('creates the demo tenant on an empty database and prints the admin key it was given', async () => {
    await until(/laurel ready on/);
    const printed = /admin API key (\S+)/.exec(output)?.[1];
    expect(printed, output).toBe(ADMIN_KEY);
    expect(known.programId, output).toMatch(/^[0-9a-f-]{36}$/);
    expect(known.tenantId, output).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('lets the admin key reach its tenant, and nothing without it', async () => {
    const tenant = await api('GET', '/v1/tenant');
    expect(tenant.status, JSON.stringify(tenant.body)).toBe(200);
    expect(tenant.body.tenantId).toBe(known.tenantId);
    const programs = await api('GET', '/v1/programs');
    expect(programs.body.data.map((p: { programId: string }) => p.programId)).toContain(known.programId);
    const anonymous = await fetch(`${base}/v1/tenant`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('finds a member by card, gives points, holds and captures them, and the journal shows it all', async () => {
    const found = await api('GET', `/v1/members/lookup?programId=${known.programId}&cardCode=${CARD}`);
    expect(found.status, JSON.stringify(found.body)).toBe(200);
    const memberId = found.body.memberId as string;
    expect(memberId).toBe(known.memberId);
    const balance = async () => {
      const r = await api('GET', `/v1/members/${memberId}/balances?wallet=points`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.data[0] as { available: number; pending: number; held: number };
    };
    const before = await balance();

    // points: by a purchase event when the API has events, else by an adjustment
    const doc = (await api('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    let given: number;
    if (doc.paths['/v1/events']?.post) {
      const r = await api('POST', '/v1/events', {
        programId: known.programId, externalId: `e2e-order-${randomBytes(6).toString('hex')}`, type: 'purchase', memberId,
        lines: [{ sku: 'LATTE-L', quantity: 2, unitPrice: 1250 }],
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      given = r.body.points;
      expect(given).toBeGreaterThan(0);
    } else {
      const r = await api('POST', `/v1/members/${memberId}/adjustments`, { amount: 120, reason: 'e2e' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      given = 120;
    }
    const earned = await balance();
    expect(earned.available + earned.pending).toBe(before.available + before.pending + given);
    expect(earned.available).toBeGreaterThanOrEqual(50);

    const hold = await api('POST', `/v1/members/${memberId}/holds`, { amount: 50, ttlSeconds: 600, ref: 'e2e-checkout' });
    expect(hold.status, JSON.stringify(hold.body)).toBe(201);
    const holdId = hold.body.hold.holdId as string;
    expect(await balance()).toMatchObject({ available: earned.available - 50, held: earned.held + 50 });

    const capture = await api('POST', `/v1/holds/${holdId}/capture`, { amount: 30 });
    expect(capture.status, JSON.stringify(capture.body)).toBe(201);
    expect(await balance()).toMatchObject({ available: earned.available - 30, held: earned.held, pending: earned.pending });
    expect((await api('GET', `/v1/holds/${holdId}`)).body).toMatchObject({ status: 'captured', amount: 50 });

    const journal = await api('GET', `/v1/members/${memberId}/journal?limit=100`);
    expect(journal.status).toBe(200);
    const ofHold = (journal.body.data as { kind: string; holdId: string | null; amount: number }[]).filter((e) => e.holdId === holdId);
    expect(ofHold.map((e) => [e.kind, e.amount]).sort()).toEqual([['hold', 50], ['redeem', 30], ['release', 20]]);
  });

  it('serves the API documentation', async () => {
    const r = await fetch(`${base}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await r.text()).toMatch(/<html[\s\S]*swagger/i);
  });

  it('finishes a request in flight when SIGTERM arrives, then exits with code 0', async () => {
    const port = Number(new URL(base).port);
    const encoder = new TextEncoder();
    let push!: (text: string) => void;
    let end!: () => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (text) => controller.enqueue(encoder.encode(text));
        end = () => controller.close();
      },
    });
    // A redemption whose body arrives in two parts: the server has the request, then the signal.
    const events: string[] = [];
    void exited.then(() => events.push('exited'));
    const mark = output.length;
    const inFlight = fetch(`${base}/v1/members/${known.memberId}/redemptions`, {
      method: 'POST', body, duplex: 'half',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'idempotency-key': `e2e-inflight-${randomBytes(8).toString('hex')}` },
    } as RequestInit & { duplex: 'half' });
    push('{"amount": 1, ');
    await until(/incoming request[^\n]*\/redemptions|\/redemptions[^\n]*incoming request/, mark);
    server!.kill('SIGTERM');
    events.push('SIGTERM');
    // the server stops taking connections: it is shutting down, with the request still open
    await eventually('the server to stop accepting connections', async () => !(await accepts(port)));
    events.push('refusing connections');
    push('"ref": "in-flight at shutdown"}');
    end();
    const r = await inFlight;
    const text = await r.text();
    events.push('answered');
    expect(r.status, text).toBe(201);
    expect(JSON.parse(text)).toMatchObject({ object: 'ledger_result', entries: [{ kind: 'redeem', amount: 1, ref: 'in-flight at shutdown' }] });
    // then it exits by itself: shutting down waits for requests in flight, not for keep-alive clients to hang up
    expect(await exited, output).toEqual({ code: 0, signal: null });
    expect(events).toEqual(['SIGTERM', 'refusing connections', 'answered', 'exited']);
  }, 90_000);

  it('leaves a ledger that `laurel verify` finds sound', async () => {
    expect(alive()).toBe(false);
    const env: NodeJS.ProcessEnv = { ...process.env, LAUREL_DATA_DIR: join(dir, 'data') };
    if (!onPostgres) delete env.DATABASE_URL;
    // on PostgreSQL other test files write beside this one: verify this tenant only
    const args = ['laurel', 'verify', ...(onPostgres ? ['--tenant', known.tenantId!] : [])];
    const { code, out } = await run('npx', args, env);
    expect(code, out).toBe(0);
  }, 120_000);
});
