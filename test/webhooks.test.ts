// Webhooks out, on PGlite and on PostgreSQL, against a real HTTP receiver on 127.0.0.1: an
// outbox message made by the real expiry_reminders job reaches each endpoint that takes it, once,
// signed (checked with the receiver-side verify); failures are retried on the backoff schedule
// and given up after the last attempt; a crashed worker's lease runs out; other tenants and
// filtered endpoints get nothing; on PostgreSQL, workers racing deliver each message once.
// Then the HTTP resource: admin only, URLs checked, tenants apart, the test message, the log.
// The job runs over the whole database, so each job test opens a Laurel (a database) of its own.
// The receivers are on 127.0.0.1, inside the deployment: this file's Laurels allow internal
// endpoints (LAUREL_WEBHOOKS_ALLOW_PRIVATE), except where a test shows what happens without.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { MAX_ATTEMPTS, retryDelayMs } from '../src/core/webhooks/delivery.js';
import { verify } from '../src/core/webhooks/signature.js';
import { listOutbox } from '../src/db/jobs.js';
import { buildApp } from '../src/http/app.js';
import { claimDueDeliveries, recordAttempts, relayOutbox } from '../src/db/webhooks.js';
import { runJobNow } from '../src/jobs/runner.js';
import { settingsFromEnv, type Laurel } from '../src/services/context.js';
import { earn } from '../src/services/ledger.js';
import type { Program } from '../src/services/tenants.js';
import { createEndpoint, deliverWebhooks, listDeliveries, updateEndpoint } from '../src/services/webhooks.js';
import { call, newTenant, type TestLaurel } from './support/http.js';
import { key, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

interface Received {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** the test clock when it arrived: what the receiver verifies the timestamp against */
  at: Date;
}

interface Receiver {
  url(path: string): string;
  requests: Received[];
  on(path: string): Received[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 that records every request and answers `answer(request, n)` (n: its n-th request on that path). */
async function receiver(clock: () => Date, answer: (r: Received, n: number) => number | Promise<number> = () => 200): Promise<Receiver> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { path: req.url ?? '', method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: clock() };
      requests.push(r);
      void Promise.resolve(answer(r, requests.filter((x) => x.path === r.path).length)).then((status) => {
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? 'busy, try later' : 'ok');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    on: (path) => requests.filter((r) => r.path === path),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;

/** The same Laurel (database, clock) where the operator allows internal endpoints, or does not. */
const allowing = <L extends Laurel>(l: L): L => ({ ...l, settings: { ...l.settings, allowPrivateWebhooks: true } });
const strict = <L extends Laurel>(l: L): L => ({ ...l, settings: { ...l.settings, allowPrivateWebhooks: false } });

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
let rx: Receiver | undefined;

async function jobStats() {
  const outcome = await runJobNow(laurel, 'webhooks');
  expect(outcome.status, outcome.error).toBe('succeeded');
  return outcome.stats;
}

/** A program with expiry reminders 30 days ahead and one member who earns 100 points on 15 January 2026 (they expire 15 January 2027). */
async function memberWithExpiringPoints(): Promise<{ program: Program; memberId: string }> {
  const program = await newProgram(laurel, { expiry: { kind: 'rolling', months: 12 }, expiryReminderDays: 30 });
  const memberId = await newMember(laurel, program);
  await earn(laurel, { tenantId: program.tenantId, memberId, amount: 100, idempotencyKey: key() });
  return { program, memberId };
}

/** Runs the real expiry_reminders job on 26 December 2026: one points.expiring message per lot expiring by 25 January. */
async function remindersQueued(expected: number): Promise<void> {
  laurel.clock.set('2026-12-26T10:00:00Z');
  expect((await runJobNow(laurel, 'expiry_reminders')).stats).toEqual({ reminders: expected });
}

async function deliveriesOf(tenantId: string, endpointId: string) {
  return listDeliveries(laurel, tenantId, endpointId, { limit: 100, before: null });
}

describe('the webhooks job', () => {
  beforeEach(async () => { laurel = allowing(await openTestLaurel('2026-01-15T10:00:00Z', {}, 6)); });
  afterEach(async () => {
    await rx?.close();
    rx = undefined;
    await laurel?.close();
  });

  it('delivers a points.expiring message once, signed, to each enabled endpoint of its tenant that takes its type', async () => {
    rx = await receiver(() => laurel.clock.now());
    const { program, memberId } = await memberWithExpiringPoints();
    const t = program.tenantId;
    const all = await createEndpoint(laurel, t, { url: rx.url('/all') });
    const expiring = await createEndpoint(laurel, t, { url: rx.url('/expiring'), eventTypes: ['points.expiring', 'tier.changed'] });
    const tiersOnly = await createEndpoint(laurel, t, { url: rx.url('/tiers-only'), eventTypes: ['tier.changed'] });
    await createEndpoint(laurel, t, { url: rx.url('/disabled'), enabled: false });
    // another tenant, with its own member whose points expire too, and an endpoint for everything
    const other = await memberWithExpiringPoints();
    const othersEndpoint = await createEndpoint(laurel, other.program.tenantId, { url: rx.url('/other-tenant') });

    await remindersQueued(2);
    const [message] = await listOutbox(laurel.db, t, 'points.expiring');
    expect(message!.delivered_at).toBeNull();

    expect(await jobStats()).toEqual({ relayed: 2, sent: 3, delivered: 3, failed: 0, retrying: 0 });
    expect(rx.requests.map((r) => r.path).sort()).toEqual(['/all', '/expiring', '/other-tenant']);
    // the other tenant's endpoint got its own tenant's message, and nothing of this one's
    const theirs = rx.on('/other-tenant')[0]!;
    expect(JSON.parse(theirs.body).data.memberId).toBe(other.memberId);
    expect(theirs.headers['webhook-id']).toBe((await listOutbox(laurel.db, other.program.tenantId))[0]!.message_id);
    expect(verify(othersEndpoint.secret, theirs.headers, theirs.body, theirs.at).ok).toBe(true);
    const lotId = (await laurel.db.selectFrom('lots').select('lot_id').where('tenant_id', '=', t).executeTakeFirstOrThrow()).lot_id;
    for (const [path, secret] of [['/all', all.secret], ['/expiring', expiring.secret]] as const) {
      const r = rx.on(path)[0]!;
      expect(r.method).toBe('POST');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['webhook-id']).toBe(message!.message_id);
      expect(r.headers['webhook-timestamp']).toBe(String(Date.parse('2026-12-26T10:00:00Z') / 1000));
      expect(verify(secret, r.headers, r.body, r.at)).toEqual({ ok: true });
      const body = JSON.parse(r.body);
      expect(body).toEqual({
        type: 'points.expiring', timestamp: '2026-12-26T10:00:00.000Z',
        data: { programId: program.programId, memberId, walletId: expect.any(String), lotId, points: 100, expiresAt: expect.any(String) },
      });
      expect(new Date(body.data.expiresAt).toISOString()).toBe('2027-01-15T10:00:00.000Z');
    }
    // each endpoint has its own secret: one's signature does not verify with the other's
    expect(verify(expiring.secret, rx.on('/all')[0]!.headers, rx.on('/all')[0]!.body, laurel.clock.now()).ok).toBe(false);

    // the outbox row is marked relayed; the log says delivered at the first attempt
    expect(iso((await listOutbox(laurel.db, t, 'points.expiring'))[0]!.delivered_at)).toBe('2026-12-26T10:00:00.000Z');
    expect((await deliveriesOf(t, all.endpointId)).map((d) => ({ ...d, deliveredAt: iso(d.deliveredAt), lastAttemptAt: iso(d.lastAttemptAt) }))).toEqual([{
      deliveryId: expect.any(String), messageId: message!.message_id, endpointId: all.endpointId, type: 'points.expiring', status: 'delivered',
      attempts: 1, nextAttemptAt: null, lastAttemptAt: '2026-12-26T10:00:00.000Z', lastStatusCode: 200, lastError: null,
      deliveredAt: '2026-12-26T10:00:00.000Z', createdAt: new Date('2026-12-26T10:00:00Z'),
    }]);
    expect(await deliveriesOf(t, tiersOnly.endpointId)).toEqual([]);
    expect((await deliveriesOf(other.program.tenantId, othersEndpoint.endpointId)).map((d) => d.messageId)).toEqual([theirs.headers['webhook-id']]);

    // running the job again, now and later, sends nothing more; an endpoint made later does not get old messages
    expect(await jobStats()).toEqual({ relayed: 0, sent: 0, delivered: 0, failed: 0, retrying: 0 });
    await createEndpoint(laurel, t, { url: rx.url('/late') });
    await updateEndpoint(laurel, t, tiersOnly.endpointId, { eventTypes: [] });
    laurel.clock.advance(DAY_MS);
    expect(await jobStats()).toEqual({ relayed: 0, sent: 0, delivered: 0, failed: 0, retrying: 0 });
    expect(rx.requests).toHaveLength(3);
  });

  it('retries a receiver that answers 500 after 30 s, with the same webhook-id and a new signature, and records both attempts', async () => {
    rx = await receiver(() => laurel.clock.now(), (_r, n) => (n === 1 ? 500 : 200));
    const { program } = await memberWithExpiringPoints();
    const endpoint = await createEndpoint(laurel, program.tenantId, { url: rx.url('/flaky') });
    await remindersQueued(1);

    expect(await jobStats()).toEqual({ relayed: 1, sent: 1, delivered: 0, failed: 0, retrying: 1 });
    const [first] = await deliveriesOf(program.tenantId, endpoint.endpointId);
    expect(first).toMatchObject({
      status: 'pending', attempts: 1, lastStatusCode: 500, lastError: 'HTTP 500: busy, try later', deliveredAt: null,
      nextAttemptAt: new Date('2026-12-26T10:00:30Z'), lastAttemptAt: new Date('2026-12-26T10:00:00Z'),
    });

    // not before the backoff has passed
    laurel.clock.set('2026-12-26T10:00:29.999Z');
    expect(await jobStats()).toEqual({ relayed: 0, sent: 0, delivered: 0, failed: 0, retrying: 0 });
    laurel.clock.set('2026-12-26T10:00:30Z');
    expect(await jobStats()).toEqual({ relayed: 0, sent: 1, delivered: 1, failed: 0, retrying: 0 });
    expect(await deliveriesOf(program.tenantId, endpoint.endpointId)).toEqual([{
      ...first, status: 'delivered', attempts: 2, lastStatusCode: 200, lastError: null, nextAttemptAt: null,
      lastAttemptAt: new Date('2026-12-26T10:00:30Z'), deliveredAt: new Date('2026-12-26T10:00:30Z'),
    }]);

    const [a, b] = rx.on('/flaky');
    expect(b!.headers['webhook-id']).toBe(a!.headers['webhook-id']);
    expect(b!.body).toBe(a!.body);
    expect(Number(b!.headers['webhook-timestamp']) - Number(a!.headers['webhook-timestamp'])).toBe(30);
    expect(verify(endpoint.secret, a!.headers, a!.body, a!.at).ok).toBe(true);
    expect(verify(endpoint.secret, b!.headers, b!.body, b!.at).ok).toBe(true);
    expect(await jobStats()).toMatchObject({ sent: 0 });
  });

  it(`gives up after ${MAX_ATTEMPTS} failed attempts, spaced 30 s, 1 min, 2 min… up to 6 h apart`, async () => {
    rx = await receiver(() => laurel.clock.now(), () => 503);
    const { program } = await memberWithExpiringPoints();
    const endpoint = await createEndpoint(laurel, program.tenantId, { url: rx.url('/down') });
    await remindersQueued(1);
    const start = laurel.clock.now().getTime();
    const waits: number[] = [];
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const stats = await jobStats();
      const [d] = await deliveriesOf(program.tenantId, endpoint.endpointId);
      expect(d!.attempts).toBe(attempt);
      expect(d!.lastStatusCode).toBe(503);
      if (attempt < MAX_ATTEMPTS) {
        expect(stats).toMatchObject({ sent: 1, retrying: 1, failed: 0 });
        const wait = d!.nextAttemptAt!.getTime() - laurel.clock.now().getTime();
        waits.push(wait / SECOND);
        laurel.clock.advance(wait - 1);
        expect((await jobStats()).sent).toBe(0); // a millisecond early: nothing
        laurel.clock.advance(1);
      } else {
        expect(stats).toMatchObject({ sent: 1, retrying: 0, failed: 1 });
        expect(d).toMatchObject({ status: 'failed', nextAttemptAt: null, deliveredAt: null });
      }
    }
    expect(waits).toEqual([30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600, 21600]);
    expect(waits.map((w) => w * SECOND)).toEqual(waits.map((_, i) => retryDelayMs(i + 1)));
    expect((laurel.clock.now().getTime() - start) / SECOND).toBe(30 * 1023 + 4 * 21600); // about 32.5 hours
    expect(rx.on('/down')).toHaveLength(MAX_ATTEMPTS);
    laurel.clock.advance(7 * DAY_MS);
    expect(await jobStats()).toMatchObject({ sent: 0 });
  });

  it('records a refused connection and a timeout as failed attempts without a status code', async () => {
    rx = await receiver(() => laurel.clock.now(), (r) => (r.path === '/slow' ? new Promise<number>((resolve) => setTimeout(() => resolve(200), 2000)) : 200));
    const closed = await receiver(() => laurel.clock.now());
    const closedUrl = closed.url('/gone');
    await closed.close();
    const { program } = await memberWithExpiringPoints();
    const gone = await createEndpoint(laurel, program.tenantId, { url: closedUrl });
    const slow = await createEndpoint(laurel, program.tenantId, { url: rx.url('/slow') });
    await remindersQueued(1);
    let fetches = 0;
    const counting: typeof fetch = (input, init) => { fetches++; return fetch(input, init); };
    expect(await relayOutbox(laurel.db, laurel.clock.now(), 10)).toEqual({ messages: 1, deliveries: 2 });
    const stats = await deliverWebhooks(laurel, laurel.clock.now(), () => {}, { fetch: counting, timeoutMs: 200 });
    expect(stats).toEqual({ sent: 2, delivered: 0, failed: 0, retrying: 2 });
    expect(fetches).toBe(2);
    expect((await deliveriesOf(program.tenantId, gone.endpointId))[0]).toMatchObject({ lastStatusCode: null, lastError: expect.stringMatching(/ECONNREFUSED/) });
    expect((await deliveriesOf(program.tenantId, slow.endpointId))[0]).toMatchObject({ lastStatusCode: null, lastError: 'no response within 0.2 s' });
  });

  it('without the allowance, refuses to send to a name that resolves inside (localhost) or an internal address, records the attempt and retries it', async () => {
    rx = await receiver(() => laurel.clock.now());
    const { program } = await memberWithExpiringPoints();
    // accepted while the deployment allowed internal endpoints; then the operator stops allowing them
    const named = await createEndpoint(laurel, program.tenantId, { url: `http://localhost:${new URL(rx.url('/')).port}/named` });
    const literal = await createEndpoint(laurel, program.tenantId, { url: rx.url('/literal') });
    await remindersQueued(1);

    expect((await runJobNow(strict(laurel), 'webhooks')).stats).toEqual({ relayed: 1, sent: 2, delivered: 0, failed: 0, retrying: 2 });
    expect(rx.requests).toEqual([]);
    const retry = { status: 'pending', attempts: 1, lastStatusCode: null, nextAttemptAt: new Date('2026-12-26T10:00:30Z'), deliveredAt: null };
    expect((await deliveriesOf(program.tenantId, named.endpointId))[0]).toMatchObject({
      ...retry, lastError: expect.stringMatching(/^refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address$/),
    });
    expect((await deliveriesOf(program.tenantId, literal.endpointId))[0]).toMatchObject({ ...retry, lastError: 'refused: 127.0.0.1 is a loopback address' });

    // the next attempt, where they are allowed, goes through
    laurel.clock.set('2026-12-26T10:00:30Z');
    expect(await jobStats()).toEqual({ relayed: 0, sent: 2, delivered: 2, failed: 0, retrying: 0 });
    expect(rx.requests.map((r) => r.path).sort()).toEqual(['/literal', '/named']);
  });

  it('without the allowance, resolves each name right before sending and refuses it if any of its addresses is internal, never connecting', async () => {
    const { program } = await memberWithExpiringPoints();
    const t = program.tenantId;
    const closed = strict(laurel);
    // public names are accepted; what they resolve to is only known when sending
    const rebound = await createEndpoint(closed, t, { url: 'https://hooks.example.com/laurel' });
    const fine = await createEndpoint(closed, t, { url: 'https://crm.example.org/laurel' });
    const metadata = await createEndpoint(laurel, t, { url: 'http://169.254.169.254/latest/meta-data/' });
    const mapped = await createEndpoint(laurel, t, { url: 'http://[::ffff:10.0.0.5]:8080/' });
    await remindersQueued(1);
    const asked: string[] = [];
    const lookup = async (host: string) => {
      asked.push(host);
      return host === 'hooks.example.com' ? [{ address: '93.184.215.14' }, { address: '10.0.0.5' }] : [{ address: '2606:4700:4700::1111' }, { address: '93.184.215.14' }];
    };
    const fetched: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      fetched.push(String(input));
      return new Response('ok', { status: 200 });
    };
    expect(await relayOutbox(laurel.db, laurel.clock.now(), 10)).toEqual({ messages: 1, deliveries: 4 });
    expect(await deliverWebhooks(closed, laurel.clock.now(), () => {}, { fetch: fakeFetch, lookup })).toEqual({ sent: 4, delivered: 1, failed: 0, retrying: 3 });
    expect(asked.sort()).toEqual(['crm.example.org', 'hooks.example.com']);
    expect(fetched).toEqual(['https://crm.example.org/laurel']);
    const lastError = async (e: { endpointId: string }) => (await deliveriesOf(t, e.endpointId))[0]!.lastError;
    expect(await lastError(rebound)).toBe('refused: hooks.example.com resolves to 10.0.0.5, a private address');
    expect(await lastError(metadata)).toBe('refused: 169.254.169.254 is a link-local address');
    expect(await lastError(mapped)).toBe('refused: ::ffff:a00:5 is a private address');
    expect(await lastError(fine)).toBeNull();

    // where the operator allows internal endpoints, nothing is resolved beforehand: fetch connects as it will
    laurel.clock.advance(30 * SECOND);
    asked.length = 0;
    expect(await deliverWebhooks(laurel, laurel.clock.now(), () => {}, { fetch: fakeFetch, lookup })).toMatchObject({ sent: 3, delivered: 3 });
    expect(asked).toEqual([]);
    expect(fetched.slice(1).sort()).toEqual(['http://169.254.169.254/latest/meta-data/', 'http://[::ffff:a00:5]:8080/', 'https://hooks.example.com/laurel']);
  });

  it("sends a crashed worker's claimed deliveries again once their 2-minute lease runs out, and ignores its late outcome", async () => {
    rx = await receiver(() => laurel.clock.now());
    const { program } = await memberWithExpiringPoints();
    const endpoint = await createEndpoint(laurel, program.tenantId, { url: rx.url('/x') });
    await remindersQueued(1);
    // a worker relays and claims, then stops before sending
    const now = laurel.clock.now();
    expect(await relayOutbox(laurel.db, now, 10)).toEqual({ messages: 1, deliveries: 1 });
    const [claimed] = await claimDueDeliveries(laurel.db, now, new Date(now.getTime() + 2 * MINUTE), 10);
    expect(claimed).toMatchObject({ attempt: 1, url: rx.url('/x'), type: 'points.expiring' });

    // within the lease nobody sends it; after, the next run does
    laurel.clock.advance(2 * MINUTE - 1);
    expect(await jobStats()).toMatchObject({ sent: 0 });
    laurel.clock.advance(1);
    expect(await jobStats()).toMatchObject({ sent: 1, delivered: 1 });
    expect(rx.requests).toHaveLength(1);
    // the crashed worker's outcome, arriving late, does not overwrite the newer attempt
    expect(await recordAttempts(laurel.db, [{
      tenantId: program.tenantId, deliveryId: claimed!.deliveryId, attempt: 1, statusCode: 500, error: 'HTTP 500', status: 'pending',
      nextAttemptAt: laurel.clock.now(), deliveredAt: null,
    }])).toBe(0);
    expect((await deliveriesOf(program.tenantId, endpoint.endpointId))[0]).toMatchObject({ status: 'delivered', attempts: 2, lastStatusCode: 200 });
  });

  it.skipIf(!onPostgres)('4 workers running the job at once deliver each of 60 messages to each of 2 endpoints exactly once', async () => {
    await laurel.close();
    laurel = allowing(await openTestLaurel('2026-01-15T10:00:00Z', {}, 12));
    rx = await receiver(() => laurel.clock.now(), () => new Promise<number>((resolve) => setTimeout(() => resolve(200), 5)));
    const program = await newProgram(laurel, { expiry: { kind: 'rolling', months: 12 }, expiryReminderDays: 30 });
    const endpoints = [
      await createEndpoint(laurel, program.tenantId, { url: rx.url('/one') }),
      await createEndpoint(laurel, program.tenantId, { url: rx.url('/two'), eventTypes: ['points.expiring'] }),
    ];
    for (let i = 0; i < 60; i++) {
      const memberId = await newMember(laurel, program);
      await earn(laurel, { tenantId: program.tenantId, memberId, amount: 10 + i, idempotencyKey: key() });
    }
    await remindersQueued(60);
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => runJobNow(laurel, 'webhooks')));
    expect(outcomes.filter((o) => o.status !== 'succeeded')).toEqual([]);
    const total = (k: string) => outcomes.reduce((s, o) => s + (o.stats[k] ?? 0), 0);
    expect([total('relayed'), total('sent'), total('delivered')]).toEqual([60, 120, 120]);
    for (const [path, e] of [['/one', endpoints[0]!], ['/two', endpoints[1]!]] as const) {
      const ids = rx.on(path).map((r) => r.headers['webhook-id']);
      expect(ids).toHaveLength(60);
      expect(new Set(ids).size).toBe(60);
      expect(rx.on(path).every((r) => verify(e.secret, r.headers, r.body, r.at).ok)).toBe(true);
    }
    expect((await Promise.all([1, 2].map(() => runJobNow(laurel, 'webhooks')))).map((o) => o.stats.sent)).toEqual([0, 0]);
    expect(rx.requests).toHaveLength(120);
  });
});

describe('LAUREL_WEBHOOKS_ALLOW_PRIVATE', () => {
  it('is off unless set to true; a value that is neither true nor false is refused, not guessed', () => {
    expect(settingsFromEnv({}).allowPrivateWebhooks).toBe(false);
    expect(settingsFromEnv({ LAUREL_WEBHOOKS_ALLOW_PRIVATE: '' }).allowPrivateWebhooks).toBe(false);
    expect(settingsFromEnv({ LAUREL_WEBHOOKS_ALLOW_PRIVATE: 'false' }).allowPrivateWebhooks).toBe(false);
    expect(settingsFromEnv({ LAUREL_WEBHOOKS_ALLOW_PRIVATE: 'true' }).allowPrivateWebhooks).toBe(true);
    expect(settingsFromEnv({ LAUREL_WEBHOOKS_ALLOW_PRIVATE: ' TRUE ' }).allowPrivateWebhooks).toBe(true);
    for (const value of ['yes', '1', 'on']) {
      expect(() => settingsFromEnv({ LAUREL_WEBHOOKS_ALLOW_PRIVATE: value })).toThrow(/LAUREL_WEBHOOKS_ALLOW_PRIVATE must be true or false/);
    }
  });
});

describe('webhook endpoints over HTTP', () => {
  let app: FastifyInstance;
  /** the same database, where the operator does not allow internal endpoints */
  let strictApp: FastifyInstance;
  let http: TestLaurel;
  const nowhere = 'http://127.0.0.1:9/hooks';

  beforeAll(async () => {
    http = allowing(await openTestLaurel());
    app = await buildApp(http, { logger: false, rateLimitPerMinute: 1_000_000 });
    strictApp = await buildApp(strict(http), { logger: false, rateLimitPerMinute: 1_000_000 });
  });
  afterAll(async () => { await rx?.close(); await app.close(); await strictApp.close(); await http.close(); });

  function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
    expect(r.statusCode, r.body).toBe(status);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    if (field) expect(r.json().errors?.[0]?.field, r.body).toBe(field);
  }

  it('creates (showing the secret once), lists, reads, changes and deletes an endpoint', async () => {
    const t = await newTenant(http);
    const created = await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body: { url: nowhere, description: 'CRM', eventTypes: ['points.expiring'] } });
    expect(created.statusCode, created.body).toBe(201);
    const e = created.json();
    expect(e).toEqual({
      object: 'webhook_endpoint', endpointId: expect.any(String), url: nowhere, description: 'CRM', eventTypes: ['points.expiring'], enabled: true,
      createdAt: '2026-01-15T10:00:00.000Z', updatedAt: '2026-01-15T10:00:00.000Z', secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/),
    });
    const { secret: _secret, ...shown } = e;
    const list = await call(app, { method: 'GET', url: '/v1/webhook-endpoints', key: t.keys.admin });
    expect(list.json()).toEqual({ object: 'list', data: [shown] });
    expect(list.body).not.toContain('whsec_');
    expect((await call(app, { method: 'GET', url: `/v1/webhook-endpoints/${e.endpointId}`, key: t.keys.admin })).json()).toEqual(shown);

    http.clock.advance(MINUTE);
    const patched = await call(app, { method: 'PATCH', url: `/v1/webhook-endpoints/${e.endpointId}`, key: t.keys.admin, body: { eventTypes: [], enabled: false } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toEqual({ ...shown, eventTypes: [], enabled: false, updatedAt: '2026-01-15T10:01:00.000Z' });
    expectProblem(await call(app, { method: 'POST', url: `/v1/webhook-endpoints/${e.endpointId}/test`, key: t.keys.admin }), 409, 'endpointId');

    const deleted = await call(app, { method: 'DELETE', url: `/v1/webhook-endpoints/${e.endpointId}`, key: t.keys.admin });
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect(deleted.json()).toEqual({ object: 'webhook_endpoint', endpointId: e.endpointId, deleted: true });
    expectProblem(await call(app, { method: 'GET', url: `/v1/webhook-endpoints/${e.endpointId}`, key: t.keys.admin }), 404, 'endpointId');
    expectProblem(await call(app, { method: 'DELETE', url: `/v1/webhook-endpoints/${e.endpointId}`, key: t.keys.admin }), 404);
  });

  it('refuses a URL that is not http(s), carries credentials or does not parse, with 400 naming url; and bad types naming the entry', async () => {
    const t = await newTenant(http);
    for (const url of ['ftp://example.com/x', 'https://user:secret@example.com/x', 'https://:pw@example.com/', 'not a url', 'javascript:alert(1)', '', 42]) {
      expectProblem(await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body: { url } }), 400, 'url');
    }
    expectProblem(await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body: {} }), 400, 'url');
    expectProblem(await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body: { url: nowhere, eventTypes: ['Points Expiring'] } }), 400, 'eventTypes[0]');
    expectProblem(await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body: { url: nowhere, secret: 'whsec_mine' } }), 400, 'secret');
    const ok = await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body: { url: 'HTTPS://Example.COM/hooks?x=1' } });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json().url).toBe('https://example.com/hooks?x=1');
    expectProblem(await call(app, { method: 'PATCH', url: `/v1/webhook-endpoints/${ok.json().endpointId}`, key: t.keys.admin, body: { url: 'https://a:b@example.com' } }), 400, 'url');
    expectProblem(await call(app, { method: 'PATCH', url: `/v1/webhook-endpoints/${ok.json().endpointId}`, key: t.keys.admin, body: {} }), 400);
  });

  it('without the allowance, refuses a URL inside the deployment (loopback, metadata, private, localhost) with 400 naming url, on create and change', async () => {
    const t = await newTenant(http);
    const post = (a: FastifyInstance, url: string) => call(a, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body: { url } });
    const inside = ['http://127.0.0.1/x', 'http://169.254.169.254/', 'http://[::1]/', 'http://localhost:8080/', 'http://10.0.0.5/', 'http://172.20.1.2:5432/',
      'http://192.168.1.10/', 'http://100.100.100.200/', 'http://0.0.0.0/', 'http://[::ffff:127.0.0.1]/', 'http://[fd00::1]/', 'http://2130706433/', 'https://admin.localhost/'];
    for (const url of inside) {
      const r = await post(strictApp, url);
      expectProblem(r, 400, 'url');
      expect(r.body).toContain('must not point inside the deployment');
    }
    const outside = await post(strictApp, 'https://example.com/hooks');
    expect(outside.statusCode, outside.body).toBe(201);
    const patch = (a: FastifyInstance, url: string) => call(a, { method: 'PATCH', url: `/v1/webhook-endpoints/${outside.json().endpointId}`, key: t.keys.admin, body: { url } });
    expectProblem(await patch(strictApp, 'http://192.168.1.10/'), 400, 'url');
    expect((await call(strictApp, { method: 'GET', url: '/v1/webhook-endpoints', key: t.keys.admin })).json().data.map((e: { url: string }) => e.url)).toEqual(['https://example.com/hooks']);

    // where the operator allows them, the same URLs are taken
    for (const url of inside) expect((await post(app, url)).statusCode).toBe(201);
    expect((await patch(app, 'http://192.168.1.10/')).statusCode).toBe(200);
  });

  it('is for admin keys only: a read or pos key gets 403, no key 401', async () => {
    const t = await newTenant(http);
    const e = (await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body: { url: nowhere } })).json();
    for (const key of [t.keys.read, t.keys.pos]) {
      expectProblem(await call(app, { method: 'GET', url: '/v1/webhook-endpoints', key }), 403);
      expectProblem(await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key, body: { url: nowhere } }), 403);
      expectProblem(await call(app, { method: 'GET', url: `/v1/webhook-endpoints/${e.endpointId}/deliveries`, key }), 403);
      expectProblem(await call(app, { method: 'DELETE', url: `/v1/webhook-endpoints/${e.endpointId}`, key }), 403);
    }
    expectProblem(await call(app, { method: 'GET', url: '/v1/webhook-endpoints' }), 401);
  });

  it("keeps tenants apart: another tenant's endpoint is 404 on every route, and absent from the list", async () => {
    const a = await newTenant(http);
    const b = await newTenant(http);
    const e = (await call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: a.keys.admin, body: { url: nowhere } })).json();
    const base = `/v1/webhook-endpoints/${e.endpointId}`;
    expectProblem(await call(app, { method: 'GET', url: base, key: b.keys.admin }), 404, 'endpointId');
    expectProblem(await call(app, { method: 'PATCH', url: base, key: b.keys.admin, body: { enabled: false } }), 404, 'endpointId');
    expectProblem(await call(app, { method: 'GET', url: `${base}/deliveries`, key: b.keys.admin }), 404, 'endpointId');
    expectProblem(await call(app, { method: 'POST', url: `${base}/test`, key: b.keys.admin }), 404, 'endpointId');
    expectProblem(await call(app, { method: 'DELETE', url: base, key: b.keys.admin }), 404, 'endpointId');
    expect((await call(app, { method: 'GET', url: '/v1/webhook-endpoints', key: b.keys.admin })).json().data).toEqual([]);
    expect((await call(app, { method: 'GET', url: base, key: a.keys.admin })).json()).toMatchObject({ enabled: true });
  });

  it('a test message goes through the outbox to that endpoint alone, whatever its types, and shows in its delivery log, newest first', async () => {
    rx = await receiver(() => http.clock.now());
    const t = await newTenant(http);
    const post = (body: unknown) => call(app, { method: 'POST', url: '/v1/webhook-endpoints', key: t.keys.admin, body });
    const target = (await post({ url: rx.url('/target'), eventTypes: ['tier.changed'] })).json();
    await post({ url: rx.url('/bystander') });
    const sent = [];
    for (let i = 0; i < 2; i++) {
      const r = await call(app, { method: 'POST', url: `/v1/webhook-endpoints/${target.endpointId}/test`, key: t.keys.admin });
      expect(r.statusCode, r.body).toBe(202);
      sent.push(r.json());
    }
    expect(sent[0]).toEqual({ object: 'webhook_message', messageId: expect.any(String), deliveryId: expect.any(String), type: 'webhook.test' });
    const pending = await call(app, { method: 'GET', url: `/v1/webhook-endpoints/${target.endpointId}/deliveries?status=pending`, key: t.keys.admin });
    expect(pending.json().data.map((d: { deliveryId: string }) => d.deliveryId)).toEqual([sent[1].deliveryId, sent[0].deliveryId]);

    expect((await runJobNow(http, 'webhooks')).stats).toMatchObject({ sent: 2, delivered: 2 });
    expect(rx.requests.map((r) => r.path)).toEqual(['/target', '/target']);
    expect(rx.requests.map((r) => r.headers['webhook-id']).sort()).toEqual([sent[0].messageId, sent[1].messageId].sort());
    for (const r of rx.requests) {
      expect(verify(target.secret, r.headers, r.body, r.at).ok).toBe(true);
      expect(JSON.parse(r.body)).toMatchObject({ type: 'webhook.test', data: { endpointId: target.endpointId } });
    }

    const page1 = await call(app, { method: 'GET', url: `/v1/webhook-endpoints/${target.endpointId}/deliveries?limit=1`, key: t.keys.admin });
    expect(page1.statusCode, page1.body).toBe(200);
    expect(page1.json()).toMatchObject({ object: 'list', hasMore: true, data: [{
      object: 'webhook_delivery', deliveryId: sent[1].deliveryId, messageId: sent[1].messageId, endpointId: target.endpointId, type: 'webhook.test',
      status: 'delivered', attempts: 1, nextAttemptAt: null, lastStatusCode: 200, lastError: null, deliveredAt: http.clock.now().toISOString(),
    }] });
    const page2 = await call(app, { method: 'GET', url: `/v1/webhook-endpoints/${target.endpointId}/deliveries?limit=1&cursor=${page1.json().nextCursor}`, key: t.keys.admin });
    expect(page2.json()).toMatchObject({ hasMore: false, nextCursor: null, data: [{ deliveryId: sent[0].deliveryId }] });
    expectProblem(await call(app, { method: 'GET', url: `/v1/webhook-endpoints/${target.endpointId}/deliveries?cursor=nonsense`, key: t.keys.admin }), 400, 'cursor');
  });
});
