// An app on a test Laurel, and a tenant with one key per scope, for HTTP tests.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { createApiKey } from '../../src/services/api-keys.js';
import { createTenant, createProgram, type Program } from '../../src/services/tenants.js';
import { basicProgram, openTestLaurel } from './laurel.js';

export type TestLaurel = Awaited<ReturnType<typeof openTestLaurel>>;

export interface TestTenant {
  tenantId: string;
  program: Program;
  keys: { admin: string; pos: string; read: string };
}

export async function openTestApp(): Promise<{ laurel: TestLaurel; app: FastifyInstance }> {
  const laurel = await openTestLaurel();
  const app = await buildApp(laurel, { logger: false, rateLimitPerMinute: 1_000_000 });
  return { laurel, app };
}

export async function newTenant(laurel: TestLaurel, overrides: Partial<typeof basicProgram> = {}): Promise<TestTenant> {
  const tenant = await createTenant(laurel, { name: 'HTTP tenant', timeZone: 'Europe/Paris', currency: 'EUR' });
  const program = await createProgram(laurel, tenant.tenantId, { ...basicProgram, ...overrides });
  const key = async (scope: 'admin' | 'pos' | 'read') =>
    (await createApiKey(laurel, tenant.tenantId, { name: scope, scopes: [scope] })).secret;
  return { tenantId: tenant.tenantId, program, keys: { admin: await key('admin'), pos: await key('pos'), read: await key('read') } };
}

let n = 0;
export const idemKey = () => `http-${process.pid}-${Date.now()}-${++n}`;

export interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  key?: string;
  body?: unknown;
  idempotencyKey?: string | false;
  headers?: Record<string, string>;
}

/** One request; POSTs get a fresh Idempotency-Key unless told otherwise. */
export function call(app: FastifyInstance, c: Call): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (c.key) headers.authorization = `Bearer ${c.key}`;
  if (c.method === 'POST' && c.idempotencyKey !== false) headers['idempotency-key'] = c.idempotencyKey ?? idemKey();
  return app.inject({ method: c.method, url: c.url, headers, ...(c.body !== undefined ? { payload: c.body as object } : {}) });
}
