// Console users over HTTP: signing in and out, the session cookie, CSRF on writes, lockout, what
// each role may change (every write route of the API, checked one by one), and the audit log.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCKOUT_ATTEMPTS, createUser, type Role } from '../src/services/users.js';
import { verifyLedger } from '../src/db/verify.js';
import { call, idemKey, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

const PASSWORD = 'correct horse battery';
let n = 0;

interface Signed { cookie: string; csrf: string; email: string; userId: string }

async function signIn(email: string, password = PASSWORD): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/v1/session', payload: { email, password } });
}

async function userWith(t: TestTenant, role: Role): Promise<Signed> {
  const email = `${role}-${++n}@example.com`;
  const user = await createUser(laurel, t.tenantId, { email, name: role, role, password: PASSWORD });
  const r = await signIn(email);
  expect(r.statusCode, r.body).toBe(201);
  const cookie = String(r.headers['set-cookie']).split(';')[0]!;
  return { cookie, csrf: r.json().csrfToken, email, userId: user.userId };
}

/** A request with the session cookie and, unless told otherwise, its CSRF token. */
function as(s: Signed, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, csrf: string | null = s.csrf) {
  const headers: Record<string, string> = { cookie: s.cookie };
  if (csrf !== null && method !== 'GET') headers['x-csrf-token'] = csrf;
  if (method === 'POST') headers['idempotency-key'] = idemKey();
  return app.inject({ method, url, headers, ...(body !== undefined ? { payload: body as object } : {}) });
}

describe('sessions', () => {
  it('signing in sets an httpOnly SameSite=Strict cookie; the session names the user and role; signing out ends it', async () => {
    const t = await newTenant(laurel);
    await createUser(laurel, t.tenantId, { email: 'Ann@Example.com', name: 'Ann', role: 'support', password: PASSWORD });
    const r = await signIn('ann@example.com');
    expect(r.statusCode, r.body).toBe(201);
    const setCookie = String(r.headers['set-cookie']);
    expect(setCookie).toMatch(/^laurel_session=[\w-]{40,};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    const cookie = setCookie.split(';')[0]!;
    const me = await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } });
    expect(me.json()).toMatchObject({ object: 'session', tenantId: t.tenantId, user: { email: 'ann@example.com', role: 'support' }, csrfToken: r.json().csrfToken });
    expect((await app.inject({ method: 'GET', url: `/v1/programs/${t.program.programId}`, headers: { cookie } })).statusCode).toBe(200);

    expect((await app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: `/v1/programs/${t.program.programId}`, headers: { cookie } })).statusCode).toBe(401);
  });

  it('refuses a wrong password and an unknown e-mail alike, with 401', async () => {
    const t = await newTenant(laurel);
    await createUser(laurel, t.tenantId, { email: 'bob@example.com', name: 'Bob', role: 'viewer', password: PASSWORD });
    const wrong = await signIn('bob@example.com', 'not the password');
    const unknown = await signIn('nobody@example.com');
    expect([wrong.statusCode, unknown.statusCode]).toEqual([401, 401]);
    expect(wrong.json().detail).toBe(unknown.json().detail);
    expect(wrong.headers['set-cookie']).toBeUndefined();
  });

  it('a session ends after its hours, and at once when its user is disabled', async () => {
    const t = await newTenant(laurel);
    const s = await userWith(t, 'viewer');
    const other = await userWith(t, 'viewer');
    const admin = { authorization: `Bearer ${t.keys.admin}` };
    const r = await app.inject({ method: 'PATCH', url: `/v1/users/${s.userId}`, headers: admin, payload: { disabled: true } });
    expect(r.json()).toMatchObject({ disabled: true });
    expect((await as(s, 'GET', '/v1/session')).statusCode).toBe(401);
    expect((await signIn(s.email)).statusCode).toBe(401);

    expect((await as(other, 'GET', '/v1/session')).statusCode).toBe(200);
    laurel.clock.advance(13 * 3_600_000);
    expect((await as(other, 'GET', '/v1/session')).statusCode).toBe(401);
  });

  it('a cookie of another tenant sees nothing of this one', async () => {
    const a = await newTenant(laurel);
    const b = await newTenant(laurel);
    const s = await userWith(b, 'owner');
    expect((await as(s, 'GET', `/v1/programs/${a.program.programId}`)).statusCode).toBe(404);
    expect((await as(s, 'GET', '/v1/users')).json().data.map((u: { email: string }) => u.email)).toEqual([s.email]);
  });
});

describe('CSRF', () => {
  it('a write with the session cookie needs the X-CSRF-Token of that session; reads do not', async () => {
    const t = await newTenant(laurel);
    const s = await userWith(t, 'owner');
    const other = await userWith(t, 'owner');
    const body = { expiryReminderDays: 9 };
    const url = `/v1/programs/${t.program.programId}`;
    for (const csrf of [null, 'forged', other.csrf]) {
      const r = await as(s, 'PATCH', url, body, csrf);
      expect(r.statusCode, String(csrf)).toBe(403);
      expect(r.json().detail).toContain('X-CSRF-Token');
    }
    expect((await as(s, 'GET', url)).json().expiryReminderDays).not.toBe(9);
    const ok = await as(s, 'PATCH', url, body);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().expiryReminderDays).toBe(9);
  });
});

describe('lockout', () => {
  it(`locks the account after ${LOCKOUT_ATTEMPTS} wrong passwords in a row, refusing even the right one until the lock ends`, async () => {
    const t = await newTenant(laurel);
    await createUser(laurel, t.tenantId, { email: 'eve@example.com', name: 'Eve', role: 'owner', password: PASSWORD });
    for (let i = 1; i < LOCKOUT_ATTEMPTS; i++) expect((await signIn('eve@example.com', `guess ${i}`)).statusCode).toBe(401);
    const locked = await signIn('eve@example.com', 'guess last');
    expect(locked.statusCode).toBe(429);
    expect(locked.json().detail).toMatch(/locked until/);
    expect((await signIn('eve@example.com')).statusCode).toBe(429);
    const owner = (await app.inject({ method: 'GET', url: '/v1/users', headers: { authorization: `Bearer ${t.keys.admin}` } })).json().data[0];
    expect(owner.lockedUntil).not.toBeNull();

    laurel.clock.advance(16 * 60_000);
    expect((await signIn('eve@example.com')).statusCode).toBe(201);
  });

  it('a right password resets the count of failures', async () => {
    const t = await newTenant(laurel);
    await createUser(laurel, t.tenantId, { email: 'fay@example.com', name: 'Fay', role: 'owner', password: PASSWORD });
    for (let i = 1; i < LOCKOUT_ATTEMPTS; i++) await signIn('fay@example.com', `guess ${i}`);
    expect((await signIn('fay@example.com')).statusCode).toBe(201);
    for (let i = 1; i < LOCKOUT_ATTEMPTS; i++) expect((await signIn('fay@example.com', `again ${i}`)).statusCode).toBe(401);
    expect((await signIn('fay@example.com')).statusCode).toBe(201);
  });
});

// What each role may change, route by route. Everything not listed for a role is refused (403).
const MARKETER_WRITES = [
  'POST /v1/programs', 'PATCH /v1/programs/{programId}',
  'PUT /v1/programs/{programId}/tier-ladder', 'DELETE /v1/programs/{programId}/tier-ladder',
  'PUT /v1/programs/{programId}/grading', 'DELETE /v1/programs/{programId}/grading', 'POST /v1/programs/{programId}/grading/recompute',
  'POST /v1/programs/{programId}/rules', 'PUT /v1/rules/{ruleId}', 'POST /v1/rules/{ruleId}/enable', 'POST /v1/rules/{ruleId}/disable', 'POST /v1/rules/{ruleId}/dry-run',
  'POST /v1/programs/{programId}/campaigns', 'PUT /v1/campaigns/{campaignId}',
  'POST /v1/programs/{programId}/rewards', 'PUT /v1/rewards/{rewardId}', 'POST /v1/rewards/{rewardId}/partner-codes',
  'PUT /v1/programs/{programId}/analytics/settings',
  'PUT /v1/programs/{programId}/referral-settings',
  'POST /v1/programs/{programId}/achievements', 'PUT /v1/achievements/{achievementId}', 'POST /v1/achievements/{achievementId}/enable',
  'POST /v1/achievements/{achievementId}/disable', 'POST /v1/achievements/{achievementId}/backfills',
  'POST /v1/membership-plans',
  'PUT /v1/programs/{programId}/recognition', 'POST /v1/programs/{programId}/recognition/allowances',
];
const SUPPORT_WRITES = [
  'POST /v1/members', 'PATCH /v1/members/{memberId}', 'POST /v1/members/{memberId}/suspend', 'POST /v1/members/{memberId}/reactivate',
  'POST /v1/members/{memberId}/erase', 'POST /v1/members/{memberId}/tokens', 'POST /v1/members/{memberId}/redemptions',
  'POST /v1/members/{memberId}/adjustments', 'POST /v1/members/{memberId}/holds', 'POST /v1/holds/{holdId}/capture', 'POST /v1/holds/{holdId}/void',
  'POST /v1/transfers', 'POST /v1/journal-entries/{entryId}/reversals', 'POST /v1/members/{memberId}/rewards/{rewardId}/redeem',
  'POST /v1/reward-instances/validate', 'POST /v1/reward-instances/consume', 'POST /v1/reward-instances/{instanceId}/cancel', 'POST /v1/events',
  'POST /v1/memberships/{membershipId}/cancel', 'POST /v1/members/{memberId}/gifts',
];
// The books: finance keeps them (accounting settings, rates, closes, membership fees).
const FINANCE_WRITES = [
  'PUT /v1/programs/{programId}/accounting', 'PUT /v1/programs/{programId}/accounting/rates/{period}',
  'POST /v1/programs/{programId}/accounting/closes', 'POST /v1/programs/{programId}/accounting/membership-fees',
];
// POSTs that write nothing: any role.
const ANY_ROLE = ['POST /v1/quotes', 'POST /v1/checkout/points-quote', 'POST /v1/rules/check-condition'];
// Not for console sessions at all: the operator's tenant creation, the session itself, and Stripe's webhook (signed by Stripe).
const NOT_SESSION_ROUTES = ['POST /v1/tenants', 'POST /v1/session', 'DELETE /v1/session', 'POST /v1/integrations/stripe/webhook'];

function writeRoutes(): string[] {
  const paths = (app.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
  return Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).filter((m) => m !== 'get' && m !== 'head').map((m) => `${m.toUpperCase()} ${path}`))
    .filter((r) => !NOT_SESSION_ROUTES.includes(r));
}

const allowed = (role: Role, route: string) => role === 'owner' || ANY_ROLE.includes(route)
  || (role === 'marketer' && MARKETER_WRITES.includes(route)) || (role === 'support' && SUPPORT_WRITES.includes(route))
  || (role === 'finance' && FINANCE_WRITES.includes(route));

describe('roles', () => {
  it('the lists above name real write routes, and every write route is covered', () => {
    const routes = writeRoutes();
    for (const r of [...MARKETER_WRITES, ...SUPPORT_WRITES, ...FINANCE_WRITES, ...ANY_ROLE]) expect(routes).toContain(r);
    expect(routes.length).toBeGreaterThan(40);
  });

  it.each(['owner', 'marketer', 'support', 'finance', 'viewer'] as const)('the API lets a %s make exactly the writes of its role', async (role) => {
    const t = await newTenant(laurel);
    const s = await userWith(t, role);
    const unknownId = '01a20c82-4d1f-7939-b601-6e85e79978fe';
    const refused: string[] = [];
    for (const route of writeRoutes()) {
      const [method, path] = route.split(' ') as ['POST' | 'PUT' | 'PATCH' | 'DELETE', string];
      const url = path.replace('{programId}', t.program.programId).replace(/\{\w+\}/g, unknownId);
      // an empty object: the writes a role may make fail validation or find nothing; none is refused with 403
      const r = await as(s, method, url, method === 'DELETE' ? undefined : {});
      if (r.statusCode === 403) refused.push(route);
      else expect(r.statusCode, `${route}: ${r.body}`).not.toBe(401);
    }
    expect(refused.sort()).toEqual(writeRoutes().filter((r) => !allowed(role, r)).sort());
  });

  it('every role reads the program and its members; only owners list users; owners and finance read the audit log', async () => {
    const t = await newTenant(laurel);
    for (const role of ['owner', 'marketer', 'support', 'finance', 'viewer'] as const) {
      const s = await userWith(t, role);
      expect((await as(s, 'GET', `/v1/programs/${t.program.programId}`)).statusCode, role).toBe(200);
      expect((await as(s, 'GET', `/v1/members?programId=${t.program.programId}`)).statusCode, role).toBe(200);
      expect((await as(s, 'GET', '/v1/users')).statusCode, role).toBe(role === 'owner' ? 200 : 403);
      expect((await as(s, 'GET', '/v1/audit-log')).statusCode, role).toBe(role === 'owner' || role === 'finance' ? 200 : 403);
      expect((await as(s, 'GET', '/v1/api-keys')).statusCode, role).toBe(role === 'owner' ? 200 : 403);
    }
  });

  it('an owner creates users; the last owner cannot be demoted; a pos or read key manages no users', async () => {
    const t = await newTenant(laurel);
    const owner = await userWith(t, 'owner');
    const r = await as(owner, 'POST', '/v1/users', { email: 'mo@example.com', name: 'Mo', role: 'marketer', password: 'long enough pw' });
    expect(r.statusCode, r.body).toBe(201);
    expect(r.json()).toMatchObject({ object: 'console_user', email: 'mo@example.com', role: 'marketer', disabled: false });
    expect(r.body).not.toContain('long enough pw');
    expect((await as(owner, 'POST', '/v1/users', { email: 'MO@example.com', name: 'Mo 2', role: 'viewer', password: 'long enough pw' })).statusCode).toBe(409);
    const short = await as(owner, 'POST', '/v1/users', { email: 'x@example.com', name: 'X', role: 'viewer', password: 'short' });
    expect(short.statusCode).toBe(400);
    expect(short.json().errors[0].field).toContain('password');
    const demote = await as(owner, 'PATCH', `/v1/users/${owner.userId}`, { role: 'viewer' });
    expect(demote.statusCode).toBe(409);
    for (const key of [t.keys.pos, t.keys.read]) {
      expect((await call(app, { method: 'GET', url: '/v1/users', key })).statusCode).toBe(403);
    }
    expect((await signIn('mo@example.com', 'long enough pw')).statusCode).toBe(201);
  });
});

describe('the audit log', () => {
  it('records a support user adjusting points with the reason, who, and the answer; filterable by path', async () => {
    const t = await newTenant(laurel);
    const s = await userWith(t, 'support');
    const member = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, cardCode: 'CARD-AUDIT' } })).json();
    const adj = await as(s, 'POST', `/v1/members/${member.memberId}/adjustments`, { amount: 100, reason: 'goodwill: late delivery' });
    expect(adj.statusCode, adj.body).toBe(201);
    const entry = (await call(app, { method: 'GET', url: `/v1/members/${member.memberId}/journal`, key: t.keys.read })).json().data[0];
    expect(entry).toMatchObject({ kind: 'adjust', amount: 100, reason: 'goodwill: late delivery', actor: `user:${s.userId}` });

    const log = await call(app, { method: 'GET', url: `/v1/audit-log?path=${member.memberId}`, key: t.keys.admin });
    expect(log.statusCode, log.body).toBe(200);
    const [record, ...rest] = log.json().data;
    expect(rest).toEqual([]);
    expect(record).toMatchObject({
      object: 'audit_record', actor: `user:${s.userId}`, actorName: s.email, method: 'POST', route: '/v1/members/:memberId/adjustments',
      path: `/v1/members/${member.memberId}/adjustments`, status: 201, request: { amount: 100, reason: 'goodwill: late delivery' }, before: null,
    });
    expect(JSON.stringify(record.after)).toContain(entry.entryId);
    expect((await verifyLedger(laurel.db, laurel.clock.now(), t.tenantId)).ok).toBe(true);
  });

  it('records the resource before and after a PATCH by an admin key; pos-key writes and refused writes are not recorded', async () => {
    const t = await newTenant(laurel);
    const member = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, email: 'old@example.com' } })).json();
    const patch = await call(app, { method: 'PATCH', url: `/v1/members/${member.memberId}`, key: t.keys.admin, body: { email: 'new@example.com' } });
    expect(patch.statusCode, patch.body).toBe(200);
    await call(app, { method: 'PATCH', url: `/v1/members/${member.memberId}`, key: t.keys.admin, body: { email: 'not an email' } });
    const data = (await call(app, { method: 'GET', url: '/v1/audit-log', key: t.keys.admin })).json().data;
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ actorName: 'admin', method: 'PATCH', before: { email: 'old@example.com' }, after: { email: 'new@example.com' } });
  });

  it('keeps passwords out of the log, pages newest first, and filters by actor and method', async () => {
    const t = await newTenant(laurel);
    const owner = await userWith(t, 'owner');
    for (const i of [1, 2, 3]) {
      expect((await as(owner, 'POST', '/v1/users', { email: `u${i}-${n}@example.com`, name: `U${i}`, role: 'viewer', password: 'secret password' })).statusCode).toBe(201);
    }
    await call(app, { method: 'PATCH', url: `/v1/programs/${t.program.programId}`, key: t.keys.admin, body: { expiryReminderDays: 5 } });
    const first = (await call(app, { method: 'GET', url: `/v1/audit-log?actor=${owner.email}&limit=2`, key: t.keys.admin })).json();
    expect(first.data.map((r: { request: { name: string } }) => r.request.name)).toEqual(['U3', 'U2']);
    expect(JSON.stringify(first)).not.toContain('secret password');
    const second = (await call(app, { method: 'GET', url: `/v1/audit-log?actor=${owner.email}&limit=2&cursor=${first.nextCursor}`, key: t.keys.admin })).json();
    expect(second.data.map((r: { request: { name: string } }) => r.request.name)).toEqual(['U1']);
    expect((await call(app, { method: 'GET', url: '/v1/audit-log?method=PATCH', key: t.keys.admin })).json().data.map((r: { actorName: string }) => r.actorName)).toEqual(['admin']);
  });
});
