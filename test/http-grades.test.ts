// Customer grades over HTTP: a brand's back office sets a grading scheme, grades on demand and
// reads the members per grade; a member portal reads its own grade history. Bad schemes are
// refused as problem+json naming the field; keys and member tokens stay in their lanes.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';

let laurel: TestLaurel;
let app: FastifyInstance;

beforeAll(async () => { ({ laurel, app } = await openTestApp()); });
afterAll(async () => { await app.close(); await laurel.close(); });

let serial = 0;
const ext = (prefix: string) => `${prefix}-${process.pid}-${++serial}`;
const UNKNOWN = '01a20c82-4d1f-7939-b601-6e85e79978fe';

function expectProblem(r: LightMyRequestResponse, status: number, field?: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  if (field) expect(r.json().errors.map((e: { field: string }) => e.field), r.body).toContain(field);
}

/** PUT is not among call()'s methods: the same, by hand. */
const put = (url: string, key: string, body: unknown) =>
  app.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${key}` }, payload: body as object });

const grading = (t: TestTenant, programId = t.program.programId) => `/v1/programs/${programId}/grading`;

const RFM = {
  kind: 'rfm', windowMonths: 12, quantiles: 5, weights: { recency: 1, frequency: 1, monetary: 1 },
  grades: [{ code: 'a', minScore: '4' }, { code: 'b', minScore: 3 }, { code: 'c', minScore: '2.5' }, { code: 'd', minScore: '0' }],
};
// Every member without a purchase is `none`; a purchase makes them `buyer`.
const BUYERS = { kind: 'expression', grades: [{ code: 'buyer', condition: 'stats.purchases > 0' }, { code: 'none', condition: 'true' }] };

async function member(t: TestTenant): Promise<string> {
  const r = await call(app, { method: 'POST', url: '/v1/members', key: t.keys.pos, body: { programId: t.program.programId, externalId: ext('cust') } });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().memberId;
}

async function purchase(t: TestTenant, memberId: string, unitPrice = 2500): Promise<void> {
  const r = await call(app, { method: 'POST', url: '/v1/events', key: t.keys.pos, idempotencyKey: false, body: {
    programId: t.program.programId, externalId: ext('order'), type: 'purchase', memberId, lines: [{ sku: 'ITEM', quantity: 1, unitPrice }],
  } });
  expect(r.statusCode, r.body).toBe(201);
}

async function recompute(t: TestTenant) {
  const r = await call(app, { method: 'POST', url: `${grading(t)}/recompute`, key: t.keys.admin });
  expect(r.statusCode, r.body).toBe(200);
  return r.json();
}

describe('the grading scheme', () => {
  it('is set with an admin key (normalised), read with any key, and refused to read and pos keys', async () => {
    const t = await newTenant(laurel);
    const r = await put(grading(t), t.keys.admin, RFM);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({
      object: 'grading', programId: t.program.programId, kind: 'rfm', windowMonths: 12, quantiles: 5, weights: { recency: 1, frequency: 1, monetary: 1 },
      grades: [{ code: 'a', minScore: '4.00' }, { code: 'b', minScore: '3.00' }, { code: 'c', minScore: '2.50' }, { code: 'd', minScore: '0.00' }],
      updatedBy: expect.stringMatching(/^key:/), updatedAt: laurel.clock.now().toISOString(),
    });
    const read = await call(app, { method: 'GET', url: grading(t), key: t.keys.read });
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toEqual(r.json());
    for (const key of [t.keys.read, t.keys.pos]) {
      expectProblem(await put(grading(t), key, BUYERS), 403);
      expectProblem(await call(app, { method: 'POST', url: `${grading(t)}/recompute`, key }), 403);
      expectProblem(await call(app, { method: 'DELETE', url: grading(t), key }), 403);
    }
    expectProblem(await call(app, { method: 'GET', url: grading(t) }), 401);
    // a PUT replaces the whole scheme
    const replaced = await put(grading(t), t.keys.admin, BUYERS);
    expect(replaced.json()).toMatchObject({ kind: 'expression', grades: BUYERS.grades });
    expect(replaced.json()).not.toHaveProperty('quantiles');
  });

  it('refuses a bad scheme with 400 naming the field', async () => {
    const t = await newTenant(laurel);
    const cases: [unknown, string][] = [
      [{ ...RFM, kind: 'abc' }, 'kind'],
      [{ ...RFM, quantiles: 11 }, 'quantiles'],
      [{ ...RFM, windowMonths: undefined }, 'windowMonths'],
      [{ ...RFM, weights: { recency: 0, frequency: 0, monetary: 0 } }, 'weights'],
      [{ ...RFM, weights: { recency: 1, frequency: 1 } }, 'weights.monetary'],
      [{ ...RFM, grades: [{ code: 'a', minScore: '2' }, { code: 'b', minScore: '3' }, { code: 'c', minScore: '0' }] }, 'grades[1].minScore'],
      [{ ...RFM, grades: [{ code: 'a', minScore: '4' }, { code: 'b', minScore: '1' }] }, 'grades[1].minScore'],
      [{ ...RFM, grades: [{ code: 'a', minScore: '6' }, { code: 'b', minScore: '0' }] }, 'grades[0].minScore'],
      [{ ...RFM, grades: [{ code: 'a', minScore: '2.555' }, { code: 'b', minScore: '0' }] }, 'grades[0].minScore'],
      [{ ...RFM, grades: [{ code: 'A', minScore: '0' }] }, 'grades[0].code'],
      [{ ...RFM, grades: [{ code: 'a', minScore: '1' }, { code: 'a', minScore: '0' }] }, 'grades[1].code'],
      [{ ...RFM, grades: [{ code: 'a', condition: 'true' }] }, 'grades[0].condition'],
      [{ ...RFM, extra: 1 }, 'extra'],
      [{ ...RFM, grades: [] }, 'grades'],
      [{ ...BUYERS, grades: [{ code: 'x', condition: 'stats.spendd > 3' }] }, 'grades[0].condition'],
      [{ ...BUYERS, grades: [{ code: 'x', condition: 'stats.spend' }] }, 'grades[0].condition'],
      [{ ...BUYERS, grades: [{ code: 'x', condition: 'true' }, { code: 'y', condition: 'stats.spend > 0' }] }, 'grades[0].condition'],
      [{ ...BUYERS, windowMonths: 12 }, 'windowMonths'],
    ];
    for (const [body, field] of cases) expectProblem(await put(grading(t), t.keys.admin, body), 400, field);
    expectProblem(await call(app, { method: 'GET', url: grading(t), key: t.keys.admin }), 404);
  });

  it('answers 404 for a program that is not the tenant\'s, and for a program without a scheme', async () => {
    const t = await newTenant(laurel);
    const other = await newTenant(laurel);
    for (const programId of [UNKNOWN, other.program.programId]) {
      expectProblem(await put(grading(t, programId), t.keys.admin, RFM), 404, 'programId');
      expectProblem(await call(app, { method: 'GET', url: grading(t, programId), key: t.keys.admin }), 404, 'programId');
      expectProblem(await call(app, { method: 'POST', url: `${grading(t, programId)}/recompute`, key: t.keys.admin }), 404, 'programId');
      expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${programId}/grades`, key: t.keys.read }), 404, 'programId');
    }
    expectProblem(await call(app, { method: 'GET', url: grading(t, 'not-a-uuid'), key: t.keys.admin }), 400, 'programId');
    expectProblem(await call(app, { method: 'DELETE', url: grading(t), key: t.keys.admin }), 404);
    // recompute without a scheme: nothing to grade by
    expectProblem(await call(app, { method: 'POST', url: `${grading(t)}/recompute`, key: t.keys.admin }), 409, 'programId');
  });
});

describe('grading, the report and the history', () => {
  it('grades on demand, counts members per grade, and keeps grades when the scheme is removed', async () => {
    const t = await newTenant(laurel);
    const [ann, bob, cat] = [await member(t), await member(t), await member(t)];
    await purchase(t, ann);
    expect((await put(grading(t), t.keys.admin, BUYERS)).statusCode).toBe(200);
    const report = () => call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/grades`, key: t.keys.read });
    // before any run: nobody has a grade
    expect((await report()).json()).toEqual({ object: 'grade_report', programId: t.program.programId, graded: true, grades: [{ grade: 'buyer', members: 0 }, { grade: 'none', members: 0 }, { grade: null, members: 3 }] });

    laurel.clock.advance(60_000);
    expect(await recompute(t)).toEqual({ object: 'grading_run', programId: t.program.programId, at: laurel.clock.now().toISOString(), members: 3, changed: 3 });
    expect(await recompute(t)).toMatchObject({ members: 3, changed: 0 });
    expect((await report()).json().grades).toEqual([{ grade: 'buyer', members: 1 }, { grade: 'none', members: 2 }]);
    const profile = await call(app, { method: 'GET', url: `/v1/members/${bob}`, key: t.keys.read });
    expect(profile.json().grade).toBe('none');

    const removed = await call(app, { method: 'DELETE', url: grading(t), key: t.keys.admin });
    expect(removed.statusCode, removed.body).toBe(200);
    expect(removed.json()).toMatchObject({ object: 'grading', kind: 'expression' });
    expectProblem(await call(app, { method: 'GET', url: grading(t), key: t.keys.read }), 404);
    expectProblem(await call(app, { method: 'DELETE', url: grading(t), key: t.keys.admin }), 404);
    await purchase(t, cat);
    expectProblem(await call(app, { method: 'POST', url: `${grading(t)}/recompute`, key: t.keys.admin }), 409);
    // members keep the grades they had; the report still counts them
    expect((await report()).json().grades).toEqual([{ grade: 'buyer', members: 1 }, { grade: 'none', members: 2 }]);
  });

  it("pages a member's grade history, newest first; a member token reads only its own", async () => {
    const t = await newTenant(laurel);
    const [ann, bob] = [await member(t), await member(t)];
    await put(grading(t), t.keys.admin, BUYERS);
    laurel.clock.advance(60_000);
    await recompute(t);
    await purchase(t, ann);
    laurel.clock.advance(60_000);
    expect(await recompute(t)).toMatchObject({ changed: 1 });

    const history = (query = '', key = t.keys.read, memberId = ann) => call(app, { method: 'GET', url: `/v1/members/${memberId}/grade-history${query}`, key });
    const first = await history('?limit=1');
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({
      object: 'list', hasMore: true,
      data: [{ object: 'grade_change', memberId: ann, fromGrade: 'none', toGrade: 'buyer', reason: 'expression: grades[0] buyer (stats.purchases > 0)' }],
    });
    const second = await history(`?limit=1&cursor=${first.json().nextCursor}`);
    expect(second.json()).toMatchObject({ hasMore: false, nextCursor: null, data: [{ fromGrade: null, toGrade: 'none', reason: 'expression: grades[1] none (true)' }] });
    expect(new Date(second.json().data[0].at).getTime()).toBeLessThan(new Date(first.json().data[0].at).getTime());
    expectProblem(await history('?cursor=nonsense'), 400, 'cursor');
    expectProblem(await history('?limit=0'), 400);
    expectProblem(await history('', t.keys.read, UNKNOWN), 404, 'memberId');

    const token = (await call(app, { method: 'POST', url: `/v1/members/${ann}/tokens`, key: t.keys.pos, body: {} })).json().token;
    const own = await history('', token);
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().data.map((c: { toGrade: string }) => c.toGrade)).toEqual(['buyer', 'none']);
    expectProblem(await history('', token, bob), 403);
    expectProblem(await call(app, { method: 'GET', url: `/v1/programs/${t.program.programId}/grades`, key: token }), 403);
    // another tenant's key finds no such member
    const other = await newTenant(laurel);
    expectProblem(await history('', other.keys.read), 404);
  });
});
