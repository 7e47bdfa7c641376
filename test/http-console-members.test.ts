// The API behind the console's rewards and member pages: reward pictures, partner codes issued
// once, the program's redemptions list, a reward issued to a member by support, GDPR erase from
// a session, and the journal newest first by date — each write refused to the roles that may not
// make it, nothing of one tenant visible to another, bad input answered 400 naming the field.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { settleDue } from '../src/db/settlement.js';
import { createUser, type Role } from '../src/services/users.js';
import { call, idemKey, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { expectVerified } from './support/laurel.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await laurel.close(); });

const PASSWORD = 'console members password';
let users = 0;
interface Signed { cookie: string; csrf: string }

async function signedIn(t: TestTenant, role: Role): Promise<Signed> {
  const email = `${role}-${++users}@example.com`;
  await createUser(laurel, t.tenantId, { email, name: role, role, password: PASSWORD });
  const r = await app.inject({ method: 'POST', url: '/v1/session', payload: { email, password: PASSWORD } });
  expect(r.statusCode, r.body).toBe(201);
  return { cookie: String(r.headers['set-cookie']).split(';')[0]!, csrf: r.json().csrfToken as string };
}

/** A console request with the session's cookie and CSRF token, as the console sends it. */
function as(s: Signed, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { cookie: s.cookie };
  if (method !== 'GET') headers['x-csrf-token'] = s.csrf;
  if (method === 'POST') headers['idempotency-key'] = idemKey();
  return app.inject({ method, url, headers, ...(body !== undefined ? { payload: body as object } : {}) });
}

const fieldsOf = (r: LightMyRequestResponse) => (r.json().errors as { field: string }[] | undefined)?.map((e) => e.field) ?? [];

async function enrol(t: TestTenant, cardCode: string, points = 0): Promise<string> {
  const m = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, cardCode, email: `${cardCode.toLowerCase()}@example.com` } });
  expect(m.statusCode, m.body).toBe(201);
  const memberId = m.json().memberId as string;
  if (points) expect((await call(app, { method: 'POST', url: `/v1/members/${memberId}/adjustments`, key: t.keys.admin, body: { amount: points, reason: 'test' } })).statusCode).toBe(201);
  return memberId;
}

async function newReward(t: TestTenant, body: Record<string, unknown>): Promise<string> {
  const r = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rewards`, key: t.keys.admin, body });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().rewardId as string;
}

const redeem = (t: TestTenant, memberId: string, rewardId: string) =>
  call(app, { method: 'POST', url: `/v1/members/${memberId}/rewards/${rewardId}/redeem`, key: t.keys.pos, body: {} });

describe('a reward\'s picture', () => {
  it('takes an http or https URL, shows it, and refuses anything else with 400 naming imageUrl, writing nothing', async () => {
    const t = await newTenant(laurel);
    const base = { name: 'A latte', value: { type: 'free_product', sku: 'LATTE' }, cost: 100 };
    const https = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rewards`, key: t.keys.admin, body: { ...base, code: 'latte', imageUrl: 'https://cdn.example.com/latte.jpg' } });
    expect(https.statusCode, https.body).toBe(201);
    expect(https.json().imageUrl).toBe('https://cdn.example.com/latte.jpg');
    const http = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rewards`, key: t.keys.admin, body: { ...base, code: 'mocha', imageUrl: 'http://shop.example/mocha.png' } });
    expect(http.statusCode, http.body).toBe(201);
    for (const [i, imageUrl] of ['javascript:alert(1)', 'data:image/png;base64,AAAA', 'ftp://files.example/x.png', 'https://', 'a latte.jpg', 'https://cdn.example.com/a b.jpg', `https://cdn.example.com/${'x'.repeat(2000)}`].entries()) {
      const r = await call(app, { method: 'POST', url: `/v1/programs/${t.program.programId}/rewards`, key: t.keys.admin, body: { ...base, code: `bad-${i}`, imageUrl } });
      expect(r.statusCode, imageUrl).toBe(400);
      expect(new Set(fieldsOf(r)), imageUrl).toEqual(new Set(['imageUrl']));
    }
    const list = await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/rewards`, key: t.keys.read });
    expect(list.json().data.map((r: { code: string; imageUrl: string }) => [r.code, r.imageUrl])).toEqual([
      ['latte', 'https://cdn.example.com/latte.jpg'], ['mocha', 'http://shop.example/mocha.png'],
    ]);
  });
});

describe('partner codes', () => {
  it('a marketer imports a partner\'s codes; each is issued once, then the reward is out of stock; support and viewers may not import', async () => {
    const t = await newTenant(laurel);
    const rewardId = await newReward(t, { code: 'cinema', name: 'A cinema ticket', value: { type: 'partner_voucher', partner: 'Le Grand Rex' }, cost: 10 });
    const marketer = await signedIn(t, 'marketer');
    for (const role of ['support', 'viewer', 'finance'] as const) {
      const refused = await as(await signedIn(t, role), 'POST', `/v1/rewards/${rewardId}/partner-codes`, { codes: ['X-1'] });
      expect(refused.statusCode, role).toBe(403);
    }
    const imported = await as(marketer, 'POST', `/v1/rewards/${rewardId}/partner-codes`, { codes: ['REX-1', 'REX-2', 'REX-3'] });
    expect(imported.statusCode, imported.body).toBe(201);
    expect(imported.json()).toEqual({ object: 'partner_codes', imported: 3, free: 3 });
    // the same file again: nothing new
    expect((await as(marketer, 'POST', `/v1/rewards/${rewardId}/partner-codes`, { codes: ['REX-3', 'REX-2'] })).json()).toEqual({ object: 'partner_codes', imported: 0, free: 3 });
    const listed = (await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/rewards`, key: t.keys.read })).json().data;
    expect(listed.map((r: { code: string; partnerCodesFree?: number }) => [r.code, r.partnerCodesFree])).toEqual([['cinema', 3]]);
    const bad = await as(marketer, 'POST', `/v1/rewards/${rewardId}/partner-codes`, { codes: ['REX-4', 'has space'] });
    expect(bad.statusCode).toBe(400);
    expect(fieldsOf(bad)).toEqual(['codes[1]']);

    const given: string[] = [];
    for (let i = 0; i < 3; i++) {
      const member = await enrol(t, `PC-${i}`, 10);
      const r = await redeem(t, member, rewardId);
      expect(r.statusCode, r.body).toBe(201);
      given.push(r.json().instance.partnerCode as string);
    }
    expect(given.sort()).toEqual(['REX-1', 'REX-2', 'REX-3']);
    // the catalog says how many codes are left
    const catalog = async () => (await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/rewards`, key: t.keys.read })).json().data[0];
    expect(await catalog()).toMatchObject({ code: 'cinema', partnerCodesFree: 0, issued: 3 });
    const late = await redeem(t, await enrol(t, 'PC-late', 10), rewardId);
    expect(late.statusCode).toBe(409);
    expect(late.json().detail).toContain('stock');
    // another tenant's marketer cannot reach the reward
    expect((await as(await signedIn(await newTenant(laurel), 'marketer'), 'POST', `/v1/rewards/${rewardId}/partner-codes`, { codes: ['Z'] })).statusCode).toBe(404);
    await expectVerified(laurel, t.tenantId);
  });
});

describe('the redemptions list', () => {
  it('lists the program\'s reward instances newest first, filtered by status, reward and member, a page at a time', async () => {
    const t = await newTenant(laurel);
    const latte = await newReward(t, { code: 'latte', name: 'A latte', value: { type: 'free_product', sku: 'LATTE' }, cost: 10 });
    const cake = await newReward(t, { code: 'cake', name: 'A cake', value: { type: 'free_product', sku: 'CAKE' }, cost: 20 });
    const ann = await enrol(t, 'R-ANN', 100);
    const bob = await enrol(t, 'R-BOB', 100);
    const a1 = (await redeem(t, ann, latte)).json().instance;
    const a2 = (await redeem(t, ann, cake)).json().instance;
    const b1 = (await redeem(t, bob, latte)).json().instance;
    expect((await call(app, { method: 'POST', url: '/v1/reward-instances/consume', key: t.keys.pos, body: { code: a1.code, orderRef: 'order-1' } })).statusCode).toBe(200);
    expect((await call(app, { method: 'POST', url: `/v1/reward-instances/${a2.instanceId}/cancel`, key: t.keys.pos })).statusCode).toBe(200);

    const list = async (query: string, key = t.keys.read) => {
      const r = await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/reward-instances${query}`, key });
      expect(r.statusCode, r.body).toBe(200);
      return r.json() as { data: { instanceId: string; status: string; memberId: string }[]; hasMore: boolean; nextCursor: string | null };
    };
    expect((await list('')).data.map((i) => [i.instanceId, i.status])).toEqual([[b1.instanceId, 'issued'], [a2.instanceId, 'cancelled'], [a1.instanceId, 'consumed']]);
    expect((await list('?status=consumed&status=cancelled')).data.map((i) => i.instanceId)).toEqual([a2.instanceId, a1.instanceId]);
    expect((await list(`?rewardId=${latte}`)).data.map((i) => i.instanceId)).toEqual([b1.instanceId, a1.instanceId]);
    expect((await list(`?memberId=${bob}`)).data.map((i) => i.instanceId)).toEqual([b1.instanceId]);
    expect((await list(`?to=${encodeURIComponent(laurel.clock.now().toISOString())}`)).data).toEqual([]);
    const first = await list('?limit=2');
    expect(first.hasMore).toBe(true);
    const second = await list(`?limit=2&cursor=${first.nextCursor}`);
    expect([...first.data, ...second.data].map((i) => i.instanceId)).toEqual([b1.instanceId, a2.instanceId, a1.instanceId]);
    expect(second.hasMore).toBe(false);
    // every console role may read it
    for (const role of ['viewer', 'support', 'finance', 'marketer'] as const) {
      expect((await as(await signedIn(t, role), 'GET', `/v1/programs/${t.program.programId}/reward-instances`)).statusCode, role).toBe(200);
    }
  });

  it('shows nothing of another tenant, refuses a member token, and answers bad filters with 400 naming them', async () => {
    const t = await newTenant(laurel);
    const other = await newTenant(laurel);
    const latte = await newReward(t, { code: 'latte', name: 'A latte', value: { type: 'free_product', sku: 'LATTE' }, cost: 10 });
    const ann = await enrol(t, 'I-ANN', 100);
    expect((await redeem(t, ann, latte)).statusCode).toBe(201);
    const url = `/v1/programs/${t.program.programId}/reward-instances`;
    expect((await call(app, { method: 'GET', url, key: other.keys.admin })).statusCode).toBe(404);
    // another tenant's reward or member as a filter finds nothing here
    const otherReward = await newReward(other, { code: 'latte', name: 'A latte', value: { type: 'free_product', sku: 'LATTE' }, cost: 10 });
    expect((await call(app, { method: 'GET', url: `/v1/programs/${other.program.programId}/reward-instances?rewardId=${latte}`, key: other.keys.read })).json().data).toEqual([]);
    expect((await call(app, { method: 'GET', url: `/v1/programs/${other.program.programId}/reward-instances?rewardId=${otherReward}`, key: other.keys.read })).json().data).toEqual([]);
    const token = (await call(app, { method: 'POST', url: `/v1/members/${ann}/tokens`, key: t.keys.pos, body: {} })).json().token as string;
    expect((await call(app, { method: 'GET', url, key: token })).statusCode).toBe(403);
    for (const [query, field] of [['status=used', 'status'], ['rewardId=latte', 'rewardId'], ['memberId=42', 'memberId'], ['from=yesterday', 'from'], ['limit=0', 'limit'], ['cursor=abc', 'cursor']]) {
      const r = await call(app, { method: 'GET', url: `${url}?${query}`, key: t.keys.read });
      expect(r.statusCode, query).toBe(400);
      expect(fieldsOf(r).join(), query).toContain(field);
    }
  });
});

describe('support issues a reward to a member', () => {
  it('support redeems a reward for the member from the console (their points pay it); marketers, finance and viewers may not', async () => {
    const t = await newTenant(laurel);
    const latte = await newReward(t, { code: 'latte', name: 'A latte', value: { type: 'free_product', sku: 'LATTE' }, cost: 30 });
    const ann = await enrol(t, 'S-ANN', 100);
    const url = `/v1/members/${ann}/rewards/${latte}/redeem`;
    for (const role of ['marketer', 'finance', 'viewer'] as const) {
      expect((await as(await signedIn(t, role), 'POST', url, { channel: 'console' })).statusCode, role).toBe(403);
    }
    const issued = await as(await signedIn(t, 'support'), 'POST', url, { channel: 'console' });
    expect(issued.statusCode, issued.body).toBe(201);
    expect(issued.json()).toMatchObject({ instance: { memberId: ann, status: 'issued', cost: 30, channel: 'console' }, ledger: [{ balances: [{ available: 70 }] }] });
    // and the audit log says who
    const audit = await call(app, { method: 'GET', url: `/v1/audit-log?path=${encodeURIComponent(url)}`, key: t.keys.admin });
    expect(audit.json().data).toEqual([expect.objectContaining({ actor: expect.stringMatching(/^user:/), actorName: expect.stringMatching(/^support-/) })]);
    // a member of another tenant is not found
    expect((await as(await signedIn(await newTenant(laurel), 'support'), 'POST', url, {})).statusCode).toBe(404);
    await expectVerified(laurel, t.tenantId);
  });
});

describe('GDPR erase from the console', () => {
  it('support erases a member: identifiers gone, status erased, the ledger intact; other roles and tenants may not', async () => {
    const t = await newTenant(laurel);
    const ann = await enrol(t, 'E-ANN', 100);
    const url = `/v1/members/${ann}/erase`;
    for (const role of ['marketer', 'finance', 'viewer'] as const) expect((await as(await signedIn(t, role), 'POST', url)).statusCode, role).toBe(403);
    expect((await as(await signedIn(await newTenant(laurel), 'support'), 'POST', url)).statusCode).toBe(404);
    const erased = await as(await signedIn(t, 'support'), 'POST', url);
    expect(erased.statusCode, erased.body).toBe(200);
    expect(erased.json()).toMatchObject({ memberId: ann, status: 'erased', email: null, cardCode: null, externalId: null, phone: null });
    expect((await call(app, { method: 'GET', url: '/v1/members/search?q=E-ANN', key: t.keys.read })).json().data).toEqual([]);
    const balances = await call(app, { method: 'GET', url: `/v1/members/${ann}/balances`, key: t.keys.read });
    expect(balances.json().data[0]).toMatchObject({ wallet: 'points', available: 100 });
    await expectVerified(laurel, t.tenantId);
  });
});

describe('the journal, newest first by date', () => {
  it('orders entries by when they were made, not by id (settlement makes its ids in the database), and pages on the same order', async () => {
    // Settlement makes its entries' ids in the database from the real time; with the clock years
    // ahead (as a demo seeded over past days is behind), their ids sort apart from their dates.
    laurel.clock.advance(3 * 365 * DAY_MS);
    const t = await newTenant(laurel, { expiry: { kind: 'rolling', months: 1 } });
    const ann = await enrol(t, 'J-ANN');
    const adjust = async (amount: number, reason: string) =>
      expect((await call(app, { method: 'POST', url: `/v1/members/${ann}/adjustments`, key: t.keys.admin, body: { amount, reason } })).statusCode).toBe(201);
    await adjust(40, 'first');
    laurel.clock.advance(40 * DAY_MS);
    await settleDue(laurel.db, laurel.clock.now());
    laurel.clock.advance(DAY_MS);
    await adjust(10, 'second');

    const r = await call(app, { method: 'GET', url: `/v1/members/${ann}/journal`, key: t.keys.read });
    const entries = r.json().data as { entryId: string; kind: string; createdAt: string }[];
    expect(entries.map((e) => e.kind)).toEqual(['adjust', 'expire', 'adjust']);
    // the ids alone would put the expiry last
    expect(entries[1]!.entryId < entries[2]!.entryId).toBe(true);
    const times = entries.map((e) => Date.parse(e.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // one page at a time gives the same order
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const p = await call(app, { method: 'GET', url: `/v1/members/${ann}/journal?limit=1${cursor ? `&cursor=${cursor}` : ''}`, key: t.keys.read });
      paged.push(...(p.json().data as { entryId: string }[]).map((e) => e.entryId));
      cursor = p.json().nextCursor as string | null;
    } while (cursor);
    expect(paged).toEqual(entries.map((e) => e.entryId));
    await expectVerified(laurel, t.tenantId);
  });
});
