// The HTTP API as an integrator meets it: every endpoint answers its caller, refuses the wrong
// one (401, 403), never shows one tenant another's data, and refuses bad input as problem+json.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { buildApp } from '../src/http/app.js';
import { call, idemKey, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { expectVerified } from './support/laurel.js';

let laurel: TestLaurel;
let app: FastifyInstance;
let a: TestTenant;
let b: TestTenant;
/** ids in tenant A, made through the API */
const ids: Record<string, string> = {};

function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = r.json();
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^\/problems\//), title: expect.any(String), detail: expect.any(String) });
  if (field) expect(body.errors.map((e: { field: string }) => e.field)).toContain(field);
}

beforeAll(async () => {
  ({ laurel, app } = await openTestApp());
  a = await newTenant(laurel);
  b = await newTenant(laurel);
  const member = async (email: string) => (await call(app, { method: 'POST', url: '/v1/members', key: a.keys.admin, body: { programId: a.program.programId, email } })).json().memberId as string;
  ids.member = await member('first@example.com');
  ids.other = await member('second@example.com');
  const credit = await call(app, { method: 'POST', url: `/v1/members/${ids.member}/adjustments`, key: a.keys.admin, body: { amount: 1000, reason: 'opening balance' } });
  ids.entry = credit.json().entries[0].entryId;
  const hold = await call(app, { method: 'POST', url: `/v1/members/${ids.member}/holds`, key: a.keys.pos, body: { amount: 10, ttlSeconds: 600 } });
  ids.hold = hold.json().hold.holdId;
  ids.key = (await call(app, { method: 'GET', url: '/v1/api-keys', key: a.keys.admin })).json().data[0].keyId;
});
afterAll(async () => {
  await expectVerified(laurel, a.tenantId);
  await laurel.close();
});

type Scope = 'admin' | 'pos' | 'read';
interface Endpoint {
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: () => string;
  scopes: Scope[];
  body?: () => unknown;
  ok: number;
  /** a body that fails validation, and the field it names */
  bad?: () => [unknown, string];
  /** what the answer must say, given the body sent and the member's points balance just before */
  shows: (answer: Json, sent: { body: Json; before: Json }) => void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked field by field
type Json = any;
const NOW = '2026-01-15T10:00:00.000Z';
const memberOf = (answer: Json, memberId: string, fields: Record<string, unknown> = {}) =>
  expect(answer).toMatchObject({ object: 'member', memberId, programId: a.program.programId, ...fields });
/** A ledger answer: its first entry, and the acting member's points balance moved by `delta` from `before`. */
function moved(answer: Json, before: Json, entry: Record<string, unknown>, delta: { available: number; held?: number }) {
  expect(answer.object).toBe('ledger_result');
  expect(answer.entries[0]).toMatchObject({ object: 'journal_entry', memberId: ids.member, createdAt: NOW, ...entry });
  expect(answer.entries[0].postings.reduce((sum: number, p: { amount: number }) => sum + p.amount, 0)).toBe(0);
  expect(answer.balances[0]).toMatchObject({
    object: 'balance', memberId: ids.member, wallet: 'points',
    available: before.available + delta.available, held: before.held + (delta.held ?? 0),
  });
}

const endpoints: Endpoint[] = [
  { name: 'get tenant', method: 'GET', url: () => '/v1/tenant', scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x) => expect(x).toEqual({ object: 'tenant', tenantId: a.tenantId, name: 'HTTP tenant', timeZone: 'Europe/Paris', currency: 'EUR', createdAt: NOW }) },
  { name: 'create API key', method: 'POST', url: () => '/v1/api-keys', scopes: ['admin'], body: () => ({ name: 'till', scopes: ['pos'] }), ok: 201, bad: () => [{ name: 'till', scopes: ['root'] }, 'scopes[0]'],
    shows: (x) => expect(x).toMatchObject({ object: 'api_key', keyId: expect.any(String), name: 'till', scopes: ['pos'], revokedAt: null, key: expect.stringMatching(/^lk_/) }) },
  { name: 'list API keys', method: 'GET', url: () => '/v1/api-keys', scopes: ['admin'], ok: 200,
    shows: (x) => {
    expect(x.data).toEqual(expect.arrayContaining(['admin', 'pos', 'read'].map((n) => expect.objectContaining({ object: 'api_key', name: n, scopes: [n], revokedAt: null }))));
    expect(x.data.filter((k: Json) => 'key' in k)).toEqual([]);
  } },
  { name: 'create program', method: 'POST', url: () => '/v1/programs', scopes: ['admin'], ok: 201,
    body: () => ({ name: 'Second', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'rolling', months: 12 }, negativeBalance: 'debt' }),
    bad: () => [{ name: 'Second', enrollmentMode: 'opt_in', returnWindowDays: -1, expiry: { kind: 'none' }, negativeBalance: 'debt' }, 'returnWindowDays'],
    shows: (x) => expect(x).toMatchObject({ object: 'program', name: 'Second', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'rolling', months: 12 }, negativeBalance: 'debt', wallets: expect.arrayContaining([expect.objectContaining({ code: 'points', kind: 'redeemable' })]) }) },
  { name: 'list programs', method: 'GET', url: () => '/v1/programs', scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x) => expect(x.data).toEqual(expect.arrayContaining([expect.objectContaining({ object: 'program', programId: a.program.programId, name: 'Test rewards' })])) },
  { name: 'get program', method: 'GET', url: () => `/v1/programs/${a.program.programId}`, scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x) => expect(x).toMatchObject({ object: 'program', programId: a.program.programId, name: 'Test rewards', expiry: { kind: 'none' }, negativeBalance: 'debt' }) },
  { name: 'create member', method: 'POST', url: () => '/v1/members', scopes: ['admin', 'pos'], ok: 201,
    body: () => ({ programId: a.program.programId, externalId: idemKey() }), bad: () => [{ programId: a.program.programId, email: 'x@y.z', shoeSize: 44 }, 'shoeSize'],
    shows: (x, { body }) => expect(x).toMatchObject({ object: 'member', memberId: expect.any(String), programId: a.program.programId, externalId: body.externalId, status: 'active', enrolledAt: NOW }) },
  { name: 'list members', method: 'GET', url: () => '/v1/members', scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x) => {
    expect(x.data.map((m: Json) => m.memberId)).toEqual(expect.arrayContaining([ids.member, ids.other]));
    expect(x.data.every((m: Json) => m.object === 'member' && m.programId === a.program.programId)).toBe(true);
  } },
  { name: 'lookup member', method: 'GET', url: () => `/v1/members/lookup?programId=${a.program.programId}&email=first@example.com`, scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x) => memberOf(x, ids.member!, { email: 'first@example.com' }) },
  { name: 'get member', method: 'GET', url: () => `/v1/members/${ids.member}`, scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x) => memberOf(x, ids.member!, { email: 'first@example.com', status: 'active' }) },
  { name: 'update member', method: 'PATCH', url: () => `/v1/members/${ids.other}`, scopes: ['admin', 'pos'], body: () => ({ attributes: { tier: 'gold' } }), ok: 200, bad: () => [{ birthday: 'yesterday' }, 'birthday'],
    shows: (x) => memberOf(x, ids.other!, { email: 'second@example.com', attributes: { tier: 'gold' } }) },
  { name: 'suspend member', method: 'POST', url: () => `/v1/members/${ids.other}/suspend`, scopes: ['admin'], ok: 200,
    shows: (x) => memberOf(x, ids.other!, { status: 'suspended' }) },
  { name: 'reactivate member', method: 'POST', url: () => `/v1/members/${ids.other}/reactivate`, scopes: ['admin'], ok: 200,
    shows: (x) => memberOf(x, ids.other!, { status: 'active' }) },
  { name: 'member token', method: 'POST', url: () => `/v1/members/${ids.member}/tokens`, scopes: ['admin', 'pos'], body: () => ({ ttlSeconds: 600 }), ok: 201, bad: () => [{ ttlSeconds: 5 }, 'ttlSeconds'],
    shows: (x) => expect(x).toEqual({ object: 'member_token', token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), expiresAt: '2026-01-15T10:10:00.000Z' }) },
  { name: 'balances', method: 'GET', url: () => `/v1/members/${ids.member}/balances`, scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x, { before }) => expect(x.data).toEqual([before, expect.objectContaining({ object: 'balance', memberId: ids.member, wallet: 'status', available: 0 })]) },
  { name: 'journal', method: 'GET', url: () => `/v1/members/${ids.member}/journal`, scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x) => {
    const entries = x.data as Json[];
    expect(entries.map((e) => e.entryId)).toContain(ids.entry);
    expect(entries.every((e) => e.object === 'journal_entry' && (e.memberId === ids.member || e.counterpartyId === ids.member))).toBe(true);
    expect(entries.map((e) => e.entryId)).toEqual(entries.map((e) => e.entryId).sort().reverse());
  } },
  { name: 'redeem', method: 'POST', url: () => `/v1/members/${ids.member}/redemptions`, scopes: ['admin', 'pos'], body: () => ({ amount: 1 }), ok: 201, bad: () => [{ amount: 1.5 }, 'amount'],
    shows: (x, { before }) => moved(x, before, { kind: 'redeem', amount: 1 }, { available: -1 }) },
  { name: 'adjust', method: 'POST', url: () => `/v1/members/${ids.member}/adjustments`, scopes: ['admin'], body: () => ({ amount: 5, reason: 'goodwill' }), ok: 201, bad: () => [{ amount: 5 }, 'reason'],
    shows: (x, { before }) => moved(x, before, { kind: 'adjust', amount: 5, reason: 'goodwill' }, { available: 5 }) },
  { name: 'hold', method: 'POST', url: () => `/v1/members/${ids.member}/holds`, scopes: ['admin', 'pos'], body: () => ({ amount: 1, ttlSeconds: 60 }), ok: 201, bad: () => [{ amount: 1, ttlSeconds: 0 }, 'ttlSeconds'],
    shows: (x, { before }) => {
    moved(x, before, { kind: 'hold', amount: 1 }, { available: -1, held: 1 });
    expect(x.hold).toMatchObject({ object: 'hold', memberId: ids.member, amount: 1, status: 'active', expiresAt: '2026-01-15T10:01:00.000Z' });
  } },
  { name: 'get hold', method: 'GET', url: () => `/v1/holds/${ids.hold}`, scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x) => expect(x).toMatchObject({ object: 'hold', holdId: ids.hold, memberId: ids.member, amount: 10, status: 'active', resolvedAt: null }) },
  { name: 'transfer', method: 'POST', url: () => '/v1/transfers', scopes: ['admin', 'pos'], body: () => ({ fromMemberId: ids.member, toMemberId: ids.other, amount: 1 }), ok: 201, bad: () => [{ fromMemberId: ids.member, toMemberId: 'bob', amount: 1 }, 'toMemberId'],
    shows: (x, { before }) => moved(x, before, { kind: 'transfer', amount: 1, counterpartyId: ids.other }, { available: -1 }) },
  { name: 'get entry', method: 'GET', url: () => `/v1/journal-entries/${ids.entry}`, scopes: ['admin', 'pos', 'read'], ok: 200,
    shows: (x) => expect(x).toMatchObject({ object: 'journal_entry', entryId: ids.entry, kind: 'adjust', amount: 1000, reason: 'opening balance', postings: [{ account: 'adjustment', memberId: null, amount: -1000 }, { account: 'available', memberId: ids.member, amount: 1000 }] }) },
];

/** Endpoints that name nothing of a tenant's: each caller sees only its own tenant there. */
const OWN_TENANT_ONLY = new Set(['get tenant', 'create API key', 'list API keys', 'create program', 'list programs', 'list members']);

describe.each(endpoints)('$method $name', (e) => {
  const send = (key: string | undefined, body = e.body?.()) => call(app, { method: e.method, url: e.url(), key, body });

  it('answers a key with the right scope, saying what it did', async () => {
    const before = (await call(app, { method: 'GET', url: `/v1/members/${ids.member}/balances?wallet=points`, key: a.keys.read })).json().data[0];
    const body = e.body?.();
    const r = await send(a.keys[e.scopes[0]!], body);
    expect(r.statusCode, r.body).toBe(e.ok);
    e.shows(r.json(), { body, before });
  });

  it('refuses a caller without a key (401) or with a bad one', async () => {
    expectProblem(await send(undefined), 401);
    expectProblem(await send('lk_not-a-real-key-at-all'), 401);
  });

  if (e.scopes.length < 3) it('refuses a key without the scope (403)', async () => {
    const weaker = (['read', 'pos'] as Scope[]).find((s) => !e.scopes.includes(s))!;
    expectProblem(await send(a.keys[weaker]), 403);
  });

  if (e.bad) it('refuses bad input naming the field (400), writing nothing', async () => {
    const before = (await call(app, { method: 'GET', url: `/v1/members/${ids.member}/balances`, key: a.keys.read })).json();
    const [body, field] = e.bad!();
    expectProblem(await send(a.keys.admin, body), 400, field);
    const after = (await call(app, { method: 'GET', url: `/v1/members/${ids.member}/balances`, key: a.keys.read })).json();
    expect(after).toEqual(before);
  });

  if (!OWN_TENANT_ONLY.has(e.name)) it("never lets another tenant's key reach this tenant's data (404)", async () => {
      const r = await send(b.keys.admin);
      expectProblem(r, 404);
    });
});

describe('idempotency over HTTP', () => {
  it('replays the first response for the same key and body, and refuses another body (409)', async () => {
    const k = idemKey();
    const url = `/v1/members/${ids.member}/redemptions`;
    const first = await call(app, { method: 'POST', url, key: a.keys.pos, body: { amount: 3 }, idempotencyKey: k });
    const again = await call(app, { method: 'POST', url, key: a.keys.pos, body: { amount: 3 }, idempotencyKey: k });
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    expectProblem(await call(app, { method: 'POST', url, key: a.keys.pos, body: { amount: 4 }, idempotencyKey: k }), 409);
  });

  it('requires the header on every write that moves points', async () => {
    expectProblem(await call(app, { method: 'POST', url: `/v1/members/${ids.member}/redemptions`, key: a.keys.pos, body: { amount: 1 }, idempotencyKey: false }), 400, 'idempotency-key');
  });
});

describe('member tokens', () => {
  it('read their own member and nothing else, and cannot write', async () => {
    const { token } = (await call(app, { method: 'POST', url: `/v1/members/${ids.member}/tokens`, key: a.keys.pos, body: {} })).json();
    expect((await call(app, { method: 'GET', url: `/v1/members/${ids.member}/balances`, key: token })).statusCode).toBe(200);
    expect((await call(app, { method: 'GET', url: `/v1/members/${ids.member}/journal`, key: token })).statusCode).toBe(200);
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${ids.other}`, key: token }), 403);
    expectProblem(await call(app, { method: 'GET', url: '/v1/members', key: token }), 403);
    expectProblem(await call(app, { method: 'POST', url: `/v1/members/${ids.member}/redemptions`, key: token, body: { amount: 1 } }), 403);
  });

  it('stop working when expired or tampered with', async () => {
    // A clock of this test's own: the others keep the file's time.
    const own = { ...laurel, clock: new ManualClock(laurel.clock.now()) };
    const ownApp = await buildApp(own, { logger: false, rateLimitPerMinute: 1_000_000 });
    try {
      const { token } = (await call(ownApp, { method: 'POST', url: `/v1/members/${ids.member}/tokens`, key: a.keys.pos, body: { ttlSeconds: 60 } })).json();
      const [h, p, s] = token.split('.');
      expectProblem(await call(ownApp, { method: 'GET', url: `/v1/members/${ids.member}`, key: `${h}.${p}.${s.slice(0, -2)}xx` }), 401);
      expect((await call(ownApp, { method: 'GET', url: `/v1/members/${ids.member}`, key: token })).statusCode).toBe(200);
      own.clock.advance(61_000);
      expectProblem(await call(ownApp, { method: 'GET', url: `/v1/members/${ids.member}`, key: token }), 401);
    } finally {
      await ownApp.close();
    }
  });
});

describe('API keys', () => {
  it('a revoked key stops working at once', async () => {
    const created = (await call(app, { method: 'POST', url: '/v1/api-keys', key: a.keys.admin, body: { name: 'temp', scopes: ['read'] } })).json();
    expect((await call(app, { method: 'GET', url: '/v1/tenant', key: created.key })).statusCode).toBe(200);
    expect((await call(app, { method: 'DELETE', url: `/v1/api-keys/${created.keyId}`, key: a.keys.admin })).json().revokedAt).not.toBeNull();
    expectProblem(await call(app, { method: 'GET', url: '/v1/tenant', key: created.key }), 401);
    expectProblem(await call(app, { method: 'DELETE', url: `/v1/api-keys/${created.keyId}`, key: b.keys.admin }), 404);
  });

  it('a key revoked by another process (its row revoked in the database) stops within LAUREL_API_KEY_CACHE_SECONDS; at once with 0', async () => {
    for (const cacheMs of [0, 300]) {
      const other = await buildApp({ ...laurel, settings: { ...laurel.settings, apiKeyCacheMs: cacheMs } }, { logger: false, rateLimitPerMinute: 1_000_000 });
      try {
        const created = (await call(app, { method: 'POST', url: '/v1/api-keys', key: a.keys.admin, body: { name: `elsewhere ${cacheMs}`, scopes: ['read'] } })).json();
        expect((await call(other, { method: 'GET', url: '/v1/tenant', key: created.key })).statusCode).toBe(200);
        await laurel.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('key_id', '=', created.keyId).execute();
        await new Promise((resolve) => setTimeout(resolve, cacheMs + 50));
        expectProblem(await call(other, { method: 'GET', url: '/v1/tenant', key: created.key }), 401);
      } finally {
        await other.close();
      }
    }
  });
});

describe('lists', () => {
  it('page members with a cursor until hasMore is false, each member once', async () => {
    const program = (await call(app, { method: 'POST', url: '/v1/programs', key: a.keys.admin, body: { name: 'Paged', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'debt' } })).json();
    for (let i = 0; i < 5; i++) await call(app, { method: 'POST', url: '/v1/members', key: a.keys.pos, body: { programId: program.programId, externalId: `p-${i}` } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { data: { externalId: string }[]; hasMore: boolean; nextCursor: string | null } = (await call(app, { method: 'GET', url: `/v1/members?programId=${program.programId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, key: a.keys.read })).json();
      seen.push(...r.data.map((m) => m.externalId));
      cursor = r.nextCursor;
      expect(r.hasMore).toBe(cursor !== null);
    } while (cursor);
    expect(seen).toEqual(['p-0', 'p-1', 'p-2', 'p-3', 'p-4']);
    expectProblem(await call(app, { method: 'GET', url: '/v1/members?cursor=garbage', key: a.keys.read }), 400, 'cursor');
  });

  it('filter the journal by kind', async () => {
    const r = (await call(app, { method: 'GET', url: `/v1/members/${ids.member}/journal?kind=adjust&limit=100`, key: a.keys.read })).json();
    expect(r.data.length).toBeGreaterThan(0);
    expect(r.data.every((e: { kind: string }) => e.kind === 'adjust')).toBe(true);
  });
});

describe('erasure', () => {
  it('removes personal data and keeps the ledger', async () => {
    const m = (await call(app, { method: 'POST', url: '/v1/members', key: a.keys.pos, body: { programId: a.program.programId, email: 'gone@example.com', phone: '+33612345678', attributes: { name: 'Gone' } } })).json();
    await call(app, { method: 'POST', url: `/v1/members/${m.memberId}/adjustments`, key: a.keys.admin, body: { amount: 70, reason: 'test' } });
    const erased = (await call(app, { method: 'POST', url: `/v1/members/${m.memberId}/erase`, key: a.keys.admin })).json();
    expect(erased).toMatchObject({ status: 'erased', email: null, phone: null, attributes: {} });
    expect((await call(app, { method: 'GET', url: `/v1/members/${m.memberId}/balances`, key: a.keys.read })).json().data[0].available).toBe(70);
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/lookup?programId=${a.program.programId}&email=gone@example.com`, key: a.keys.read }), 404);
  });
});

describe('malformed requests', () => {
  it.each([
    ['malformed JSON', '{"amount": ', 'application/json', 400],
    ['a string amount', '{"amount": "5"}', 'application/json', 400],
    ['a huge amount', '{"amount": 100000000000000000000}', 'application/json', 400],
    ['a negative amount', '{"amount": -5}', 'application/json', 400],
    ['text instead of JSON', 'amount=5', 'text/plain', 415],
  ])('%s is a 4xx problem, never a 5xx', async (_name, payload, type, status) => {
    const r = await app.inject({ method: 'POST', url: `/v1/members/${ids.member}/redemptions`, payload,
      headers: { authorization: `Bearer ${a.keys.pos}`, 'content-type': type, 'idempotency-key': idemKey() } });
    expectProblem(r, status);
  });

  it('an unknown route or a bad id is a 4xx problem', async () => {
    expectProblem(await call(app, { method: 'GET', url: '/v1/nope', key: a.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: '/v1/members/not-an-id', key: a.keys.read }), 400, 'memberId');
  });
});

describe('documentation and operations', () => {
  it('documents every operation with a summary, a description, examples and its error responses', async () => {
    const doc = (await call(app, { method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.values(doc.paths as Record<string, Record<string, { summary?: string; responses: Record<string, unknown> }>>).flatMap((p) => Object.values(p));
    expect(operations.length).toBeGreaterThanOrEqual(endpoints.length);
    for (const op of operations) {
      expect(op.summary).toBeTruthy();
      expect((op as { description?: string }).description, op.summary).toBeTruthy();
      expect(JSON.stringify(op), `${op.summary} has examples`).toMatch(/"examples?"/);
      // operations of the operator key refuse a missing or wrong key as 403, not 401
      const operatorOnly = /operator/i.test((op as { description?: string }).description ?? '');
      // health and Stripe's webhook (signed by Stripe, refused with 400) take no credentials
      if (op.summary !== 'Liveness and readiness' && op.summary !== 'Stripe webhook') {
        expect(Object.keys(op.responses), op.summary).toEqual(expect.arrayContaining(operatorOnly ? ['400', '403'] : ['400', '401']));
      }
    }
    expect((await call(app, { method: 'GET', url: '/docs/' })).statusCode).toBe(200);
  });

  it('counts requests and ledger operations for Prometheus', async () => {
    const text = (await call(app, { method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/laurel_http_requests_total\{method="POST",route="\/v1\/members\/:memberId\/redemptions",status="201"\} \d+/);
    expect(text).toMatch(/laurel_ledger_operations_total\{operation="redeem",outcome="ok"\} \d+/);
  });

  it('limits the rate per key with a 429 problem', async () => {
    const limited = await buildApp(laurel, { logger: false, rateLimitPerMinute: 3 });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(limited, { method: 'GET', url: '/v1/tenant', key: a.keys.read })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expectProblem(await call(limited, { method: 'GET', url: '/v1/tenant', key: a.keys.read }), 429);
    await limited.close();
  });

  it('echoes a request id', async () => {
    const r = await call(app, { method: 'GET', url: '/healthz', headers: { 'x-request-id': 'req-123' } });
    expect(r.headers['x-request-id']).toBe('req-123');
  });
});

describe('creating a member', () => {
  it('with an Idempotency-Key, a retry returns the same member instead of a conflict', async () => {
    const k = idemKey();
    const body = { programId: a.program.programId, externalId: `idem-${k}` };
    const first = await call(app, { method: 'POST', url: '/v1/members', key: a.keys.pos, body, idempotencyKey: k });
    const again = await call(app, { method: 'POST', url: '/v1/members', key: a.keys.pos, body, idempotencyKey: k });
    expect(first.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    expectProblem(await call(app, { method: 'POST', url: '/v1/members', key: a.keys.pos, body, idempotencyKey: idemKey() }), 409, 'externalId');
  });
});

describe('creating a program', () => {
  it('with an Idempotency-Key, a retry returns the same program instead of a second one', async () => {
    const k = idemKey();
    const body = { name: `Once ${k}`, enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'debt' };
    const first = await call(app, { method: 'POST', url: '/v1/programs', key: a.keys.admin, body, idempotencyKey: k });
    const again = await call(app, { method: 'POST', url: '/v1/programs', key: a.keys.admin, body, idempotencyKey: k });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    const named = (await call(app, { method: 'GET', url: '/v1/programs', key: a.keys.read })).json().data.filter((p: { name: string }) => p.name === body.name);
    expect(named).toHaveLength(1);
    expectProblem(await call(app, { method: 'POST', url: '/v1/programs', key: a.keys.admin, body: { ...body, returnWindowDays: 7 }, idempotencyKey: k }), 409);
  });
});
