// The rate limit with several processes: with REDIS_URL, every app using that Redis shares one
// budget per API key (N processes allow the limit, not N times it); without, each process
// counts on its own. A REDIS_URL that leads nowhere stops the start with a message naming it.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/http/app.js';
import { newTenant, type TestLaurel, type TestTenant } from './support/http.js';
import { openTestLaurel } from './support/laurel.js';
import { freePort } from './support/processes.js';

const REDIS_URL = process.env.LAUREL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const redisUp = await new Promise<boolean>((resolve) => {
  const { hostname, port } = new URL(REDIS_URL);
  const s = net.connect(Number(port || 6379), hostname);
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

const LIMIT = 5;
let laurel: TestLaurel;
let t: TestTenant;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  laurel = await openTestLaurel();
  t = await newTenant(laurel);
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await laurel.close();
});

async function app(redisUrl: string | undefined, namespace: string): Promise<FastifyInstance> {
  const a = await buildApp(laurel, { logger: false, rateLimitPerMinute: LIMIT, redisUrl, rateLimitNamespace: namespace });
  apps.push(a);
  return a;
}

const get = (a: FastifyInstance) => a.inject({ method: 'GET', url: '/v1/tenant', headers: { authorization: `Bearer ${t.keys.read}` } });

/** Statuses of `n` requests sent to the apps in turn. */
async function statuses(on: FastifyInstance[], n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(on[i % on.length]!)).statusCode);
  return out;
}

describe('the rate limit across processes', () => {
  it.skipIf(!redisUp)('with REDIS_URL, two apps share one budget per key', async () => {
    const ns = `laurel-test-${randomBytes(6).toString('hex')}-`;
    const both = [await app(REDIS_URL, ns), await app(REDIS_URL, ns)];
    expect(await statuses(both, LIMIT + 2)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const refused = await get(both[1]!);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).toBeDefined();
  });

  it('without REDIS_URL, each app counts on its own', async () => {
    const both = [await app(undefined, 'unused-'), await app(undefined, 'unused-')];
    expect(await statuses(both, 2 * LIMIT)).toEqual(Array.from({ length: 2 * LIMIT }, () => 200));
    expect((await get(both[0]!)).statusCode).toBe(429);
  });

  it('a REDIS_URL where no Redis answers stops the start with a message naming REDIS_URL', async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}`;
    await expect(buildApp(laurel, { logger: false, redisUrl: nowhere })).rejects.toThrow(/REDIS_URL is set but Redis does not answer/);
  });
});
