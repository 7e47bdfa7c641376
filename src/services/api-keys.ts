// API keys. Only a SHA-256 of the key is stored (a generated key carries 256 random bits, so a
// fast hash is enough and lookup by hash is one index probe); the key is shown once.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DomainError, invalid, notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import type { Trx } from '../db/ledger.js';
import type { Db } from '../db/schema.js';
import type { Laurel } from './context.js';
import { writeOnce } from './idempotency.js';
import { requireId, requireText } from './validate.js';

export const SCOPES = ['admin', 'pos', 'read'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
  keyId: string;
  tenantId: string;
  name: string;
  scopes: Scope[];
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

function keyOf(r: { key_id: string; tenant_id: string; name: string; scopes: string[]; created_at: Date; revoked_at: Date | null; last_used_at: Date | null }): ApiKey {
  return { keyId: r.key_id, tenantId: r.tenant_id, name: r.name, scopes: r.scopes as Scope[], createdAt: r.created_at, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at };
}

export function validateScopes(scopes: unknown): Scope[] {
  if (!Array.isArray(scopes) || scopes.length === 0 || scopes.some((s) => !SCOPES.includes(s))) {
    throw invalid('scopes', 'scopes must be a non-empty list of admin, pos, read');
  }
  return [...new Set(scopes as Scope[])];
}

export interface NewApiKey extends ApiKey {
  /**
   * The full key, in the answer that created it only. A replay of the same idempotency key gets
   * null: Laurel keeps the key's hash, never the key (nor in the stored answer).
   */
  secret: string | null;
}

/** What a replay answers: the key without its secret. */
export const withoutSecret = (k: NewApiKey): NewApiKey => ({ ...k, secret: null });

export function newSecret(chosen: string | undefined): string {
  const secret = chosen ?? `lk_${randomBytes(32).toString('base64url')}`;
  if (secret.length < 16 || secret.length > 200 || /\s/.test(secret)) throw invalid('secret', 'a key is 16 to 200 characters without spaces');
  return secret;
}

/** Writes a key in the caller's transaction (a new tenant's first key is written with the tenant). */
export async function insertApiKey(trx: Trx, tenantId: string, input: { name: string; scopes: Scope[]; secret: string }, now: Date): Promise<NewApiKey> {
  const row = await trx.insertInto('api_keys').values({
    tenant_id: tenantId, key_id: uuidv7(now.getTime()), name: input.name, scopes: input.scopes, secret_hash: hash(input.secret), created_at: now,
  }).returningAll().executeTakeFirstOrThrow();
  return { ...keyOf(row), secret: input.secret };
}

type KeyInput = { name: string; scopes: Scope[]; secret?: string };

/**
 * Creates a key; the returned `secret` is the only time the full key is seen. An operator may
 * choose the key (LAUREL_ADMIN_KEY); otherwise it is `lk_` and 256 random bits. With an
 * idempotency key, a retry creates nothing and answers the first key without its secret.
 */
export async function createApiKey(laurel: Laurel, tenantId: string, input: KeyInput): Promise<ApiKey & { secret: string }>;
export async function createApiKey(laurel: Laurel, tenantId: string, input: KeyInput, idempotencyKey: string | undefined): Promise<NewApiKey>;
export async function createApiKey(laurel: Laurel, tenantId: string, input: KeyInput, idempotencyKey?: string): Promise<NewApiKey> {
  const name = requireText(input.name, 'name', 100);
  const scopes = validateScopes(input.scopes);
  const secret = newSecret(input.secret);
  return writeOnce(laurel, tenantId, idempotencyKey, 'create_api_key', { name, scopes },
    (trx, now) => insertApiKey(trx, tenantId, { name, scopes, secret }, now), { replayed: withoutSecret });
}

/** A tenant's keys, or (null: an operator's view) every tenant's. */
export async function listApiKeys(laurel: Laurel, tenantId: string | null): Promise<ApiKey[]> {
  let query = laurel.db.selectFrom('api_keys').selectAll();
  if (tenantId !== null) query = query.where('tenant_id', '=', tenantId);
  const rows = await query.orderBy('tenant_id').orderBy('key_id').execute();
  return rows.map(keyOf);
}

/**
 * Revokes a key of the tenant, or (tenantId null: an operator, who knows the key by its id alone)
 * of whichever tenant holds it; key ids are UUIDv7, unique across tenants.
 */
export async function revokeApiKey(laurel: Laurel, tenantId: string | null, keyId: string): Promise<ApiKey> {
  const id = requireId(keyId, 'keyId', 'API key');
  let update = laurel.db.updateTable('api_keys').set({ revoked_at: laurel.clock.now() }).where('key_id', '=', id).where('revoked_at', 'is', null);
  if (tenantId !== null) update = update.where('tenant_id', '=', tenantId);
  const row = await update.returningAll().executeTakeFirst();
  if (row) {
    const cache = cacheOf(laurel);
    for (const [h, { key }] of cache) if (key.keyId === row.key_id) cache.delete(h);
    return keyOf(row);
  }
  let existing = laurel.db.selectFrom('api_keys').select('key_id').where('key_id', '=', id);
  if (tenantId !== null) existing = existing.where('tenant_id', '=', tenantId);
  if (!(await existing.executeTakeFirst())) throw notFound('API key', 'keyId');
  throw new DomainError('conflict', 'the API key is already revoked', 'keyId');
}

/**
 * Keys this process has found lately, by hash, per database: a request then costs no lookup.
 * Only valid keys are kept (unknown secrets would let anyone fill the map), at most
 * MAX_CACHED_KEYS, the oldest dropped first; each for settings.apiKeyCacheMs of real time, the
 * delay after which a key revoked by another process stops working here.
 */
const recentKeys = new WeakMap<Db, Map<string, { key: ApiKey; until: number }>>();
const MAX_CACHED_KEYS = 10_000;

function cacheOf(laurel: Laurel): Map<string, { key: ApiKey; until: number }> {
  let cache = recentKeys.get(laurel.db);
  if (!cache) recentKeys.set(laurel.db, cache = new Map());
  return cache;
}

/** The key a presented secret belongs to, or null: unknown or revoked. */
export async function authenticateApiKey(laurel: Laurel, presented: string): Promise<ApiKey | null> {
  if (presented.length < 16 || presented.length > 200) return null;
  const h = hash(presented);
  const cache = cacheOf(laurel);
  const now = performance.now();
  const hit = cache.get(h);
  if (hit && hit.until > now) return hit.key;
  cache.delete(h);
  const row = await laurel.db.selectFrom('api_keys').selectAll().where('secret_hash', '=', h).executeTakeFirst();
  if (!row || row.revoked_at) return null;
  const key = keyOf(row);
  if (laurel.settings.apiKeyCacheMs > 0) {
    if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value!);
    cache.set(h, { key, until: now + laurel.settings.apiKeyCacheMs });
  }
  return key;
}
