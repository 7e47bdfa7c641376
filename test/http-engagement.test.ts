// Recognition, NPS and households over HTTP: every endpoint, keys and member tokens in their
// lanes, another tenant seeing nothing, and bad input refused as problem+json naming the field
// with nothing written.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember } from '../src/services/members.js';
import { createProgram } from '../src/services/tenants.js';
import { expectVerified } from './support/laurel.js';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await app.close(); await laurel.close(); });

function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  if (field) expect(r.json().errors.map((e: { field: string }) => e.field), r.body).toContain(field);
}

const put = (url: string, key: string, body: unknown) => app.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${key}` }, payload: body as object });
const del = (url: string, key: string) => app.inject({ method: 'DELETE', url, headers: { authorization: `Bearer ${key}` } });
const ok = (r: LightMyRequestResponse, status = 200) => {
  expect(r.statusCode, r.body).toBe(status);
  return r.json();
};

let serial = 0;
const SETTINGS = { allowance: 500, period: 'month', maxGift: 300, approvalThreshold: 200, values: ['teamwork', 'ownership'] };

async function kudosTenant(): Promise<TestTenant & { kudos: string; staff: string[] }> {
  const t = await newTenant(laurel);
  const kudos = await createProgram(laurel, t.tenantId, {
    name: 'Kudos', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'debt',
    wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'giving', kind: 'qualifying' }],
  });
  const staff = [];
  for (const team of ['stores', 'stores', 'support']) {
    staff.push((await createMember(laurel, t.tenantId, { programId: kudos.programId, externalId: `e-${++serial}`, attributes: { team } })).memberId);
  }
  return { ...t, kudos: kudos.programId, staff };
}

describe('recognition over HTTP', () => {
  it('runs a month of giving: settings, allowance, gifts, approval, decline, feed, leaderboard, report', async () => {
    const t = await kudosTenant();
    const [a, b, c] = t.staff as [string, string, string];
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/recognition`, key: t.keys.read }), 404, 'programId');
    expectProblem(await put(`/v1/programs/${t.kudos}/recognition`, t.keys.pos, SETTINGS), 403);
    const saved = ok(await put(`/v1/programs/${t.kudos}/recognition`, t.keys.admin, SETTINGS));
    expect(saved).toMatchObject({ kind: 'recognition', allowance: 500, givingWallet: 'giving', receivingWallet: 'points', carryOver: false });
    expect(ok(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/recognition`, key: t.keys.read }))).toEqual(saved);
    expect(ok(await call(app, { method: 'GET', url: '/v1/recognition-programs', key: t.keys.read })).data).toEqual([saved]);
    expect(ok(await call(app, { method: 'POST', url: `/v1/programs/${t.kudos}/recognition/allowances`, key: t.keys.admin }))).toMatchObject({ members: 3, points: 1500 });
    expect(ok(await call(app, { method: 'POST', url: `/v1/programs/${t.kudos}/recognition/allowances`, key: t.keys.admin }))).toMatchObject({ members: 0 });

    // An employee gives from the portal with their own member token.
    const token = ok(await call(app, { method: 'POST', url: `/v1/members/${a}/tokens`, key: t.keys.pos, body: { ttlSeconds: 600 } }), 201).token;
    const small = ok(await call(app, { method: 'POST', url: `/v1/members/${a}/gifts`, key: token, body: { receiverId: b, amount: 120, message: 'Thanks for the cover', value: 'teamwork' } }), 201);
    expect(small.gift).toMatchObject({ status: 'approved', amount: 120, decidedBy: 'auto' });
    expect(small.balances.map((x: { wallet: string; available: number }) => [x.wallet, x.available])).toEqual([['giving', 380], ['points', 120]]);
    // …but not as someone else.
    expectProblem(await call(app, { method: 'POST', url: `/v1/members/${b}/gifts`, key: token, body: { receiverId: a, amount: 1, message: 'x', value: 'teamwork' } }), 403);
    const big = ok(await call(app, { method: 'POST', url: `/v1/members/${b}/gifts`, key: t.keys.pos, body: { receiverId: c, amount: 250, message: 'Saved the launch', value: 'ownership' } }), 201);
    expect(big.gift.status).toBe('pending');
    const other = ok(await call(app, { method: 'POST', url: `/v1/members/${c}/gifts`, key: t.keys.pos, body: { receiverId: a, amount: 201, message: 'Great', value: 'teamwork' } }), 201);
    expect(ok(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/gifts?status=pending`, key: t.keys.read })).data.map((g: { giftId: string }) => g.giftId))
      .toEqual([other.gift.giftId, big.gift.giftId]);
    expectProblem(await call(app, { method: 'POST', url: `/v1/gifts/${big.gift.giftId}/approve`, key: t.keys.pos, body: {} }), 403);
    // A member token decides no gift, not even one given to its own member: that is a manager's.
    const receiverToken = ok(await call(app, { method: 'POST', url: `/v1/members/${c}/tokens`, key: t.keys.pos, body: { ttlSeconds: 600 } }), 201).token;
    for (const verb of ['approve', 'decline']) {
      for (const key of [token, receiverToken]) expectProblem(await call(app, { method: 'POST', url: `/v1/gifts/${big.gift.giftId}/${verb}`, key, body: {} }), 403);
    }
    expect(ok(await call(app, { method: 'GET', url: `/v1/gifts/${big.gift.giftId}`, key: t.keys.read }))).toMatchObject({ status: 'pending' });
    const approved = ok(await call(app, { method: 'POST', url: `/v1/gifts/${big.gift.giftId}/approve`, key: t.keys.admin, body: { note: 'yes' } }), 201);
    expect(approved.gift).toMatchObject({ status: 'approved', note: 'yes' });
    expectProblem(await call(app, { method: 'POST', url: `/v1/gifts/${big.gift.giftId}/decline`, key: t.keys.admin, body: {} }), 409, 'giftId');
    const declined = ok(await call(app, { method: 'POST', url: `/v1/gifts/${other.gift.giftId}/decline`, key: t.keys.admin, body: {} }), 201);
    expect(declined.balances[0]).toMatchObject({ wallet: 'giving', available: 500 });
    expect(ok(await call(app, { method: 'GET', url: `/v1/gifts/${other.gift.giftId}`, key: t.keys.read }))).toMatchObject({ status: 'declined' });

    const feed = ok(await call(app, { method: 'GET', url: `/v1/members/${a}/recognition-feed?limit=1`, key: token }));
    expect(feed.data.map((g: { amount: number }) => g.amount)).toEqual([250]);
    expect(feed.hasMore).toBe(true);
    const next = ok(await call(app, { method: 'GET', url: `/v1/members/${a}/recognition-feed?limit=5&cursor=${feed.nextCursor}`, key: token }));
    expect(next.data.map((g: { amount: number }) => g.amount)).toEqual([120]);
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${b}/recognition-feed`, key: token }), 403);

    const board = ok(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/recognition/leaderboard`, key: t.keys.read }));
    expect(board.leaders.map((l: { memberId: string; received: number; rank: number }) => [l.rank, l.memberId, l.received])).toEqual([[1, c, 250], [2, b, 120]]);
    const report = ok(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/recognition/report?attribute=team`, key: t.keys.read }));
    expect(report.groups.map((g: { group: string; given: number; received: number; givers: number }) => [g.group, g.given, g.givers, g.received]))
      .toEqual([['stores', 370, 2, 120], ['support', 0, 0, 250]]);
    await expectVerified(laurel, t.tenantId);
  });

  it('refuses bad input naming the field, writing nothing', async () => {
    const t = await kudosTenant();
    const [a, b] = t.staff as [string, string];
    const url = `/v1/programs/${t.kudos}/recognition`;
    for (const [body, field] of [
      [{ ...SETTINGS, allowance: 0 }, 'allowance'], [{ ...SETTINGS, period: 'day' }, 'period'], [{ ...SETTINGS, values: [] }, 'values'],
      [{ ...SETTINGS, values: ['Team Work'] }, 'values[0]'], [{ ...SETTINGS, approvalThreshold: 300 }, 'approvalThreshold'],
      [{ ...SETTINGS, givingWallet: 'nope' }, 'givingWallet'], [{ ...SETTINGS, receivingWallet: 'giving', givingWallet: 'points' }, 'receivingWallet'],
      [{ ...SETTINGS, colour: 'blue' }, 'colour'],
    ] as const) expectProblem(await put(url, t.keys.admin, body), 400, field);
    expectProblem(await call(app, { method: 'GET', url, key: t.keys.read }), 404);
    ok(await put(url, t.keys.admin, SETTINGS));
    ok(await call(app, { method: 'POST', url: `${url}/allowances`, key: t.keys.admin }));
    const give = (body: Record<string, unknown>) => call(app, { method: 'POST', url: `/v1/members/${a}/gifts`, key: t.keys.pos, body: { receiverId: b, amount: 10, message: 'hi', value: 'teamwork', ...body } });
    expectProblem(await give({ receiverId: a }), 400, 'receiverId');
    expectProblem(await give({ amount: 301 }), 400, 'amount');
    expectProblem(await give({ amount: -1 }), 400, 'amount');
    expectProblem(await give({ value: 'speed' }), 400, 'value');
    expectProblem(await give({ message: '' }), 400, 'message');
    expectProblem(await give({ receiverId: 'bob' }), 400, 'receiverId');
    expectProblem(await call(app, { method: 'POST', url: `/v1/members/${a}/gifts`, key: t.keys.pos, idempotencyKey: false, body: { receiverId: b, amount: 10, message: 'hi', value: 'teamwork' } }), 400);
    ok(await give({ amount: 300 }), 201);
    ok(await give({ amount: 150 }), 201);
    expectProblem(await give({ amount: 51 }), 422, 'amount');
    expect(await laurel.db.selectFrom('recognition_gifts').select('gift_id').where('tenant_id', '=', t.tenantId).execute()).toHaveLength(2);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/recognition/leaderboard?at=yesterday`, key: t.keys.read }), 400, 'at');
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/recognition/report?attribute=a-b`, key: t.keys.read }), 400, 'attribute');
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/gifts?status=lost`, key: t.keys.read }), 400, 'status');
    // a URN passes the uuid format but is no id the database reads (found by the fuzz test)
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/gifts?memberId=urn%3Auuid%3A5fe99de1-528c-87fd-8000-000bffffffec`, key: t.keys.read }), 400, 'memberId');
    await expectVerified(laurel, t.tenantId);
  });

  it('keeps tenants apart', async () => {
    const t = await kudosTenant();
    const intruder = await newTenant(laurel);
    ok(await put(`/v1/programs/${t.kudos}/recognition`, t.keys.admin, SETTINGS));
    ok(await call(app, { method: 'POST', url: `/v1/programs/${t.kudos}/recognition/allowances`, key: t.keys.admin }));
    const gift = ok(await call(app, { method: 'POST', url: `/v1/members/${t.staff[0]}/gifts`, key: t.keys.pos, body: { receiverId: t.staff[1], amount: 250, message: 'x', value: 'teamwork' } }), 201);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/recognition`, key: intruder.keys.read }), 404);
    expect(ok(await call(app, { method: 'GET', url: '/v1/recognition-programs', key: intruder.keys.read })).data).toEqual([]);
    expectProblem(await put(`/v1/programs/${t.kudos}/recognition`, intruder.keys.admin, SETTINGS), 404);
    expectProblem(await call(app, { method: 'POST', url: `/v1/programs/${t.kudos}/recognition/allowances`, key: intruder.keys.admin }), 404);
    expectProblem(await call(app, { method: 'POST', url: `/v1/members/${t.staff[0]}/gifts`, key: intruder.keys.pos, body: { receiverId: t.staff[1], amount: 1, message: 'x', value: 'teamwork' } }), 404);
    expectProblem(await call(app, { method: 'POST', url: `/v1/gifts/${gift.gift.giftId}/approve`, key: intruder.keys.admin, body: {} }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/gifts/${gift.gift.giftId}`, key: intruder.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/gifts`, key: intruder.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${t.staff[0]}/recognition-feed`, key: intruder.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/recognition/leaderboard`, key: intruder.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.kudos}/recognition/report?attribute=team`, key: intruder.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/nps`, key: intruder.keys.read }), 404);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/nps/comments`, key: intruder.keys.read }), 404);
  });
});

describe('NPS over HTTP', () => {
  it('reports what survey_response events say, and refuses bad ones naming the field', async () => {
    const t = await newTenant(laurel);
    const members = [];
    for (let i = 0; i < 3; i++) members.push((await createMember(laurel, t.tenantId, { programId: t.program.programId, externalId: `n-${++serial}`, attributes: { region: i ? 'north' : 'south' } })).memberId);
    const send = (memberId: string, attributes: unknown, channel = 'app') => call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: {
      programId: t.program.programId, memberId, externalId: `sv-${++serial}`, type: 'survey_response', channel, occurredAt: '2026-01-10T12:00:00Z', attributes,
    } });
    expectProblem(await send(members[0]!, { score: 11 }), 400, 'attributes.score');
    expectProblem(await send(members[0]!, { comment: 'no score' }), 400, 'attributes.score');
    expectProblem(await send(members[0]!, { score: 5, comment: ['a'] }), 400, 'attributes.comment');
    expect(await laurel.db.selectFrom('events').select('event_id').where('tenant_id', '=', t.tenantId).execute()).toEqual([]);
    ok(await send(members[0]!, { score: 2, comment: 'Rude staff' }, 'store'), 201);
    ok(await send(members[1]!, { score: 9 }), 201);
    ok(await send(members[2]!, { score: 10, comment: 'Love it' }), 201);
    const base = `/v1/programs/${t.program.programId}/nps?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z`;
    const r = ok(await call(app, { method: 'GET', url: `${base}&groupBy=channel&groupBy=segment&segment=region`, key: t.keys.read }));
    expect(r.total).toEqual({ responses: 3, promoters: 2, passives: 0, detractors: 1, nps: 33.3 });
    expect(r.groups.map((g: { channel: string; segment: string; nps: number }) => [g.channel, g.segment, g.nps])).toEqual([['app', 'north', 100], ['store', 'south', -100]]);
    const byMonth = ok(await call(app, { method: 'GET', url: base, key: t.keys.read }));
    expect(byMonth.groups).toEqual([{ period: '2025-12-31T23:00:00.000Z', channel: null, segment: null, responses: 3, promoters: 2, passives: 0, detractors: 1, nps: 33.3 }]);
    const comments = ok(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/nps/comments?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z`, key: t.keys.read }));
    expect(comments.data.map((c: { score: number; category: string; comment: string }) => [c.score, c.category, c.comment])).toEqual([[2, 'detractor', 'Rude staff'], [10, 'promoter', 'Love it']]);
    expectProblem(await call(app, { method: 'GET', url: `${base}&period=decade`, key: t.keys.read }), 400, 'period');
    expectProblem(await call(app, { method: 'GET', url: `${base}&groupBy=segment`, key: t.keys.read }), 400, 'segment');
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/nps?from=last-week`, key: t.keys.read }), 400, 'from');
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/nps/comments?minScore=11`, key: t.keys.read }), 400, 'minScore');
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/nps`, key: t.keys.pos.replace(/.$/, 'x') }), 401);
  });
});

describe('households over HTTP', () => {
  it('creates, joins, spends with permission, reads the journal, leaves — tenants apart, bad input refused', async () => {
    const t = await newTenant(laurel);
    const intruder = await newTenant(laurel);
    const [mum, kid] = [
      (await createMember(laurel, t.tenantId, { programId: t.program.programId, externalId: `h-${++serial}` })).memberId,
      (await createMember(laurel, t.tenantId, { programId: t.program.programId, externalId: `h-${++serial}` })).memberId,
    ];
    ok(await call(app, { method: 'POST', url: `/v1/members/${mum}/adjustments`, key: t.keys.admin, body: { amount: 200, reason: 'welcome' } }), 201);
    expectProblem(await call(app, { method: 'POST', url: '/v1/households', key: t.keys.pos, body: { programId: t.program.programId, name: '' } }), 400, 'name');
    expectProblem(await call(app, { method: 'POST', url: '/v1/households', key: t.keys.read, body: { programId: t.program.programId, name: 'X' } }), 403);
    expectProblem(await call(app, { method: 'POST', url: '/v1/households', key: intruder.keys.pos, body: { programId: t.program.programId, name: 'X' } }), 404, 'programId');
    const h = ok(await call(app, { method: 'POST', url: '/v1/households', key: t.keys.pos, body: { programId: t.program.programId, name: 'The Lees' } }), 201);
    const url = `/v1/households/${h.householdId}`;
    expectProblem(await put(`${url}/members/${mum}`, t.keys.pos, { canSpend: 'yes' }), 400, 'canSpend');
    expectProblem(await put(`${url}/members/${mum}`, intruder.keys.pos, { canSpend: true }), 404);
    const joined = ok(await put(`${url}/members/${mum}`, t.keys.pos, { canSpend: true }));
    expect(joined).toMatchObject({ joined: true, brought: 200, household: { balance: { available: 200 } } });
    ok(await put(`${url}/members/${kid}`, t.keys.pos, { canSpend: false }));
    expectProblem(await call(app, { method: 'POST', url: `${url}/redemptions`, key: t.keys.pos, body: { memberId: kid, amount: 10 } }), 409, 'memberId');
    expectProblem(await call(app, { method: 'POST', url: `${url}/redemptions`, key: t.keys.pos, body: { memberId: mum, amount: 0 } }), 400, 'amount');
    expectProblem(await call(app, { method: 'POST', url: `${url}/redemptions`, key: t.keys.pos, body: { memberId: mum, amount: 201 } }), 422, 'amount');
    expectProblem(await call(app, { method: 'POST', url: `${url}/redemptions`, key: intruder.keys.pos, body: { memberId: mum, amount: 1 } }), 404);
    const spent = ok(await call(app, { method: 'POST', url: `${url}/redemptions`, key: t.keys.pos, body: { memberId: mum, amount: 80, ref: 'order-1' } }), 201);
    expect(spent.balances[0]).toMatchObject({ available: 120 });
    const token = ok(await call(app, { method: 'POST', url: `/v1/members/${kid}/tokens`, key: t.keys.pos, body: { ttlSeconds: 600 } }), 201).token;
    expect(ok(await call(app, { method: 'GET', url: `/v1/members/${kid}/household`, key: token }))).toMatchObject({ name: 'The Lees', balance: { available: 120 } });
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${mum}/household`, key: token }), 403);
    expectProblem(await call(app, { method: 'GET', url, key: intruder.keys.read }), 404);
    expect(ok(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/households`, key: t.keys.read })).data.map((x: { name: string }) => x.name)).toEqual(['The Lees']);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/households`, key: intruder.keys.read }), 404);
    const journal = ok(await call(app, { method: 'GET', url: `${url}/journal`, key: t.keys.read }));
    expect(journal.data.map((e: { action: string; memberId: string; change: number }) => [e.action, e.memberId, e.change])).toEqual([['spent', mum, -80], ['brought', mum, 200]]);
    expectProblem(await call(app, { method: 'GET', url: `${url}/journal`, key: intruder.keys.read }), 404);
    expectProblem(await del(`${url}/members/${kid}`, intruder.keys.pos), 404);
    const left = ok(await del(`${url}/members/${kid}`, t.keys.pos));
    expect(left.members.map((m: { memberId: string }) => m.memberId)).toEqual([mum]);
    expectProblem(await del(`${url}/members/${kid}`, t.keys.pos), 404, 'memberId');
    expectProblem(await call(app, { method: 'GET', url: `/v1/members/${kid}/household`, key: token }), 404);
    await expectVerified(laurel, t.tenantId);
  });
});
