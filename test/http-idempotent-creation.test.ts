// Creating a tenant or an API key is safe to retry: an Idempotency-Key makes a retry answer the
// first tenant or key instead of making a second. The key's secret is shown once: a replay answers
// it withheld (`key: null`, `keyWithheld: true`), since Laurel keeps only its hash.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, idemKey, newTenant, openTestApp, type TestLaurel } from './support/http.js';

const OPERATOR_KEY = 'operator-key-for-the-creation-test-0123456789';
process.env.LAUREL_OPERATOR_KEY = OPERATOR_KEY;

let laurel: TestLaurel;
let app: FastifyInstance;
beforeAll(async () => ({ laurel, app } = await openTestApp()));
afterAll(async () => { await app.close(); await laurel.close(); });

const tenantsNamed = async (name: string) => (await laurel.db.selectFrom('tenants').select('tenant_id').where('name', '=', name).execute()).length;

describe('POST /v1/tenants with an Idempotency-Key', () => {
  it('creates one tenant and one key however often it is retried; the replay withholds the key', async () => {
    const k = idemKey();
    const body = { name: `Retry Roasters ${k}`, timeZone: 'Europe/Paris', currency: 'EUR' };
    const first = await call(app, { method: 'POST', url: '/v1/tenants', key: OPERATOR_KEY, body, idempotencyKey: k });
    expect(first.statusCode, first.body).toBe(201);
    const created = first.json();
    expect(created.apiKey).toMatchObject({ key: expect.stringMatching(/^lk_/), keyWithheld: false });
    const again = await call(app, { method: 'POST', url: '/v1/tenants', key: OPERATOR_KEY, body, idempotencyKey: k });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toEqual({ tenant: created.tenant, apiKey: { keyId: created.apiKey.keyId, key: null, keyWithheld: true } });
    expect(await tenantsNamed(body.name)).toBe(1);
    // the one key works, and it is the tenant's only key
    const keys = await call(app, { method: 'GET', url: '/v1/api-keys', key: created.apiKey.key });
    expect(keys.json().data.map((x: { keyId: string }) => x.keyId)).toEqual([created.apiKey.keyId]);
    // the same key with another body is refused, and creates nothing
    const other = await call(app, { method: 'POST', url: '/v1/tenants', key: OPERATOR_KEY, body: { ...body, currency: 'USD' }, idempotencyKey: k });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toMatchObject({ errors: [{ field: 'idempotencyKey' }] });
    expect(await tenantsNamed(body.name)).toBe(1);
  });

  it('without a key, each call is a new tenant (as before)', async () => {
    const body = { name: `Twice ${idemKey()}`, timeZone: 'Pacific/Auckland', currency: 'NZD' };
    for (let i = 0; i < 2; i++) expect((await call(app, { method: 'POST', url: '/v1/tenants', key: OPERATOR_KEY, body, idempotencyKey: false })).statusCode).toBe(201);
    expect(await tenantsNamed(body.name)).toBe(2);
  });
});

describe('POST /v1/api-keys with an Idempotency-Key', () => {
  it('creates one key however often it is retried; the replay withholds the secret, and another body is refused', async () => {
    const t = await newTenant(laurel);
    const k = idemKey();
    const first = await call(app, { method: 'POST', url: '/v1/api-keys', key: t.keys.admin, body: { name: 'till 3', scopes: ['pos'] }, idempotencyKey: k });
    expect(first.statusCode, first.body).toBe(201);
    const created = first.json();
    expect(created).toMatchObject({ object: 'api_key', name: 'till 3', key: expect.stringMatching(/^lk_/), keyWithheld: false });
    const again = await call(app, { method: 'POST', url: '/v1/api-keys', key: t.keys.admin, body: { name: 'till 3', scopes: ['pos'] }, idempotencyKey: k });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json()).toEqual({ ...created, key: null, keyWithheld: true });
    const named = (await call(app, { method: 'GET', url: '/v1/api-keys', key: t.keys.admin })).json().data.filter((x: { name: string }) => x.name === 'till 3');
    expect(named).toHaveLength(1);
    expect((await call(app, { method: 'GET', url: '/v1/tenant', key: created.key })).statusCode).toBe(200);
    const other = await call(app, { method: 'POST', url: '/v1/api-keys', key: t.keys.admin, body: { name: 'till 3', scopes: ['read'] }, idempotencyKey: k });
    expect(other.statusCode).toBe(409);
    // the secret is nowhere in the stored answer: only its hash is kept
    const stored = await laurel.db.selectFrom('idempotency_keys').select('response').where('tenant_id', '=', t.tenantId).where('key', '=', `client:${k}`).executeTakeFirstOrThrow();
    expect(JSON.stringify(stored.response)).not.toContain(created.key);
  });
});
