// Every write runs through here: one transaction, keyed by an idempotency key.
// Same key and same request: the stored result. Same key, other request: a conflict.
// Two requests racing with one key: the loser's insert of the key fails, it retries and replays.
import { createHash } from 'node:crypto';
import { DomainError, invalid } from '../core/errors.js';
import { decodeJson, encodeJson } from '../core/json.js';
import { findIdempotency, storeIdempotency, type StoredResponse, type Trx } from '../db/ledger.js';
import type { Laurel } from './context.js';

const MAX_ATTEMPTS = 5;

export function requireIdempotencyKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
    throw invalid('idempotencyKey', 'an idempotency key of 1 to 255 characters is required');
  }
  return key;
}

/** A stable fingerprint of a request: same operation and same fields, same hash. */
export function requestHash(operation: string, request: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(operation).update('\0').update(JSON.stringify(canonical(request))).digest('hex');
}

export interface IdempotentWork<T> {
  /** writes the operation; when `record` is given, it must be written in the same transaction */
  (trx: Trx, now: Date, stored: (result: T) => StoredResponse): Promise<T>;
}

function replay<T>(stored: StoredResponse, operation: string, hash: string): T {
  if (stored.operation !== operation || stored.requestHash !== hash) {
    throw new DomainError('idempotency_conflict', 'this idempotency key was used with a different request', 'idempotencyKey');
  }
  return decodeJson<T>(stored.response);
}

const sqlState = (e: unknown): string | undefined => (e as { code?: string } | null)?.code;
const constraintOf = (e: unknown): string | undefined => (e as { constraint?: string } | null)?.constraint;

export const isUniqueViolation = (e: unknown, constraint?: string): boolean =>
  sqlState(e) === '23505' && (constraint === undefined || constraintOf(e) === constraint || String((e as Error).message).includes(constraint));

/** Deadlocks and serialization failures: safe to run the whole transaction again. */
const isTransient = (e: unknown): boolean => sqlState(e) === '40P01' || sqlState(e) === '40001';

export async function idempotent<T>(laurel: Laurel, tenantId: string, key: string, operation: string, request: unknown, work: IdempotentWork<T>): Promise<T> {
  const hash = requestHash(operation, request);
  for (let attempt = 1; ; attempt++) {
    try {
      return await laurel.db.transaction().execute(async (trx) => {
        const stored = await findIdempotency(trx, tenantId, key);
        if (stored) return replay<T>(stored, operation, hash);
        const now = laurel.clock.now();
        return work(trx, now, (result) => ({ key, operation, requestHash: hash, response: encodeJson(result) }));
      });
    } catch (e) {
      const retry = isUniqueViolation(e, 'idempotency_keys_pkey') || isTransient(e);
      if (!retry || attempt >= MAX_ATTEMPTS) throw e;
    }
  }
}

/**
 * Runs a write in one transaction; with an idempotency key, at most once (its result is stored
 * with the write and replayed). For writes whose key is optional, such as creating a member.
 */
export async function writeOnce<T>(laurel: Laurel, tenantId: string, key: string | undefined, operation: string, request: unknown,
  work: (trx: Trx, now: Date) => Promise<T>): Promise<T> {
  if (key === undefined) return laurel.db.transaction().execute((trx) => work(trx, laurel.clock.now()));
  return idempotent(laurel, tenantId, requireIdempotencyKey(key), operation, request, async (trx, now, store) => {
    const result = await work(trx, now);
    await storeIdempotency(trx, tenantId, store(result), now);
    return result;
  });
}
