// What every route does before its handler runs, and how the server answers when it cannot
// serve: bodies that are not valid UTF-8, empty JSON bodies, the wrong content type or method,
// router-level errors, and requests that arrive while the server shuts down. Each answer is
// problem+json that names what to fix, with the request's x-request-id.
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/http/app.js';
import { call, idemKey, newTenant, openTestApp, type TestLaurel, type TestTenant } from './support/http.js';
import { expectVerified, openTestLaurel } from './support/laurel.js';
import { sleep } from './support/processes.js';

let laurel: TestLaurel;
let app: FastifyInstance;
let t: TestTenant;

beforeAll(async () => {
  ({ laurel, app } = await openTestApp());
  t = await newTenant(laurel);
});

afterAll(async () => {
  await app.close();
  await laurel.close();
});

const ZERO = '00000000-0000-7000-8000-000000000000';
/** A JSON object whose string holds 0xC3 0x28: not UTF-8 (a lead byte followed by a non-continuation byte). */
const INVALID_UTF8 = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);

function raw(method: string, url: string, payload: Buffer | string | undefined, headers: Record<string, string> = {}) {
  return app.inject({
    method: method as 'POST', url, payload,
    headers: { authorization: `Bearer ${t.keys.admin}`, 'idempotency-key': idemKey(), ...headers },
  });
}

describe('a JSON body that is not valid UTF-8', () => {
  it('is refused with 400 naming the body, not stored with replacement characters', async () => {
    const r = await raw('POST', '/v1/programs', INVALID_UTF8, { 'content-type': 'application/json' });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json()).toMatchObject({ type: '/problems/malformed-json', errors: [{ field: 'body', message: expect.stringMatching(/UTF-8/) }] });
    const programs = await call(app, { method: 'GET', url: '/v1/programs', key: t.keys.admin });
    expect(JSON.stringify(programs.json())).not.toContain('\ufffd');
  });

  it('is refused the same way on every route that takes a body', async () => {
    const doc = (await call(app, { method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops)
      .filter(([method, op]) => ['post', 'put', 'patch'].includes(method) && op.requestBody)
      .map(([method]) => [method.toUpperCase(), path.replace(/\{[^}]+\}/g, ZERO)] as const));
    expect(routes.length).toBeGreaterThan(20);
    for (const [method, url] of routes) {
      const r = await raw(method, url, INVALID_UTF8, { 'content-type': 'application/json' });
      expect([r.statusCode, r.json().errors?.[0]?.field], `${method} ${url}: ${r.body}`).toEqual([400, 'body']);
    }
  });
});

describe('an empty body with a JSON content type', () => {
  it('is the empty object: capture, void and reversal need no {}', async () => {
    const member = (await call(app, { method: 'POST', url: '/v1/members', key: t.keys.admin, body: { programId: t.program.programId, externalId: 'empty-body' } })).json();
    const adjusted = await call(app, { method: 'POST', url: `/v1/members/${member.memberId}/adjustments`, key: t.keys.admin, body: { amount: 300, reason: 'opening' } });
    expect(adjusted.statusCode, adjusted.body).toBe(201);
    const hold = async () => (await call(app, { method: 'POST', url: `/v1/members/${member.memberId}/holds`, key: t.keys.admin, body: { amount: 50, ttlSeconds: 600 } }))
      .json().entries[0].holdId as string;
    const json = { 'content-type': 'application/json' };
    const captured = await raw('POST', `/v1/holds/${await hold()}/capture`, undefined, json);
    expect(captured.statusCode, captured.body).toBe(201);
    const voided = await raw('POST', `/v1/holds/${await hold()}/void`, undefined, json);
    expect(voided.statusCode, voided.body).toBe(201);
    const entryId = adjusted.json().entries[0].entryId as string;
    const reversed = await raw('POST', `/v1/journal-entries/${entryId}/reversals`, '', json);
    expect(reversed.statusCode, reversed.body).toBe(201);
    await expectVerified(laurel, t.tenantId);
  });

  it('is validated as {}: a route that needs fields names them', async () => {
    const r = await raw('POST', '/v1/members', '', { 'content-type': 'application/json' });
    expect(r.statusCode).toBe(400);
    expect(r.json().errors.map((e: { field: string }) => e.field)).toContain('programId');
  });
});

describe('router-level errors', () => {
  it('415 says application/json is expected', async () => {
    const r = await raw('POST', '/v1/programs', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.statusCode).toBe(415);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json().detail).toContain('application/json');
  });

  it('405 with Allow for a known path and another method', async () => {
    const r = await raw('DELETE', '/v1/programs', undefined);
    expect(r.statusCode).toBe(405);
    expect(r.json().type).toBe('/problems/method-not-allowed');
    expect(r.headers.allow).toBe('GET, HEAD, POST');
    const member = await raw('PUT', `/v1/members/${ZERO}/adjustments`, undefined);
    expect([member.statusCode, member.headers.allow]).toEqual([405, 'POST']);
    expect((await raw('DELETE', '/v1/nothing-here', undefined)).statusCode).toBe(404);
  });

  it.each([
    ['404', 'GET', '/v1/nothing-here', undefined, undefined],
    ['405', 'DELETE', '/v1/programs', undefined, undefined],
    ['415', 'POST', '/v1/programs', 'x', 'text/plain'],
    ['400 malformed JSON', 'POST', '/v1/programs', '{"name":', 'application/json'],
    ['400 invalid UTF-8', 'POST', '/v1/programs', INVALID_UTF8, 'application/json'],
    ['400 bad percent-encoding', 'GET', '/v1/members/%E0%A4%A', undefined, undefined],
  ])('%s carries the x-request-id it was given', async (_name, method, url, body, type) => {
    const r = await raw(method, url, body, { 'x-request-id': 'req-abc.123', ...(type ? { 'content-type': type } : {}) });
    expect(r.statusCode).toBeGreaterThanOrEqual(400);
    expect(r.headers['x-request-id'], `${r.statusCode} ${r.body}`).toBe('req-abc.123');
    expect(r.json().requestId).toBe('req-abc.123');
  });
});

describe('a request that arrives while the server shuts down', () => {
  it('gets 503 problem+json with Retry-After, not a plain text 503', async () => {
    const own = await openTestLaurel();
    const server = await buildApp(own, { logger: false });
    let closingStarted!: () => void;
    const closing = new Promise<void>((resolve) => (closingStarted = resolve));
    server.addHook('preClose', async () => closingStarted());
    await server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.server.address() as net.AddressInfo;
    try {
      // A request whose first bytes came before close() began (so its connection is busy, not
      // idle, and stays open) and whose last bytes come during it: what a load balancer sends
      // to a server just told to stop.
      const socket = net.connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (d) => (received += d));
      const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      await sleep(200);
      const closed = server.close();
      await closing;
      socket.write('x-request-id: during-close\r\n\r\n');
      await ended;
      await closed;
      expect(received).toMatch(/^HTTP\/1\.1 503/);
      expect(received).toMatch(/content-type: application\/problem\+json/i);
      expect(received).toMatch(/retry-after: \d+/i);
      expect(received).toMatch(/x-request-id: during-close/i);
      expect(received).toContain('"type":"/problems/unavailable"');
    } finally {
      await own.close();
    }
  });
});
