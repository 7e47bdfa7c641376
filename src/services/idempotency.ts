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

/**
 * The lookup of the request's key. idempotent() makes it in a statement of its own, unless the
 * work makes it part of its own first statement (`lookupInWork`, see lockWalletFindingKey): one
 * round trip fewer. Then the work hands what it found to `found` before it does anything else.
 */
export interface KeyLookup {
  readonly key: string;
  /** with a stored response, ends the work: the stored result is replayed, or a different request is refused */
  found(stored: StoredResponse | null): void;
}

export interface IdempotentWork<T> {
  /** writes the operation; `store(result)` is the idempotency record to write in the same transaction */
  (trx: Trx, now: Date, store: (result: T) => StoredResponse, lookup: KeyLookup): Promise<T>;
}

export interface IdempotentOptions {
  /** the work looks the key up itself, in its first statement, and calls `lookup.found` with what it found */
  lookupInWork?: boolean;
  /**
   * Unique constraints besides the key's whose violation means a twin of this request committed
   * first: the key is stored in the same statement, which may report either. Run again, the
   * request replays the twin's answer.
   */
  twinConstraints?: readonly string[];
}

/** Thrown by KeyLookup.found to end the transaction (which wrote nothing) with the stored result. */
class Replay {
  constructor(readonly result: unknown) {}
}

/** The stored answer of a request made again; a conflict when the key was used for another request. */
export function replayStored<T>(stored: StoredResponse, operation: string, hash: string): T {
  if (stored.operation !== operation || stored.requestHash !== hash) {
    throw new DomainError('idempotency_conflict', 'this idempotency key was used with a different request', 'idempotencyKey');
  }
  return decodeJson<T>(stored.response);
}

const sqlState = (e: unknown): string | undefined => (e as { code?: string } | null)?.code;
const constraintOf = (e: unknown): string | undefined => (e as { constraint?: string } | null)?.constraint;

export const isUniqueViolation = (e: unknown, constraint?: string): boolean =>
  sqlState(e) === '23505' && (constraint === undefined || constraintOf(e) === constraint || String((e as Error).message).includes(constraint));

/**
 * Thrown by work that finds it must lock more than it did before it may decide (an event whose
 * budget shard holds too little, services/earning.ts): its transaction ends, writing nothing, and
 * runs again, the work having noted what to lock from the start.
 */
export class RunAgain extends Error {}

/** Deadlocks, serialization failures and work that must run again: safe to run the whole transaction again. */
const isTransient = (e: unknown): boolean => sqlState(e) === '40P01' || sqlState(e) === '40001' || e instanceof RunAgain;

export async function idempotent<T>(laurel: Laurel, tenantId: string, key: string, operation: string, request: unknown,
  work: IdempotentWork<T>, options: IdempotentOptions = {}): Promise<T> {
  const hash = requestHash(operation, request);
  for (let attempt = 1; ; attempt++) {
    try {
      return await laurel.db.transaction().execute(async (trx) => {
        let looked = false;
        const lookup: KeyLookup = {
          key,
          found: (stored) => {
            looked = true;
            if (stored) throw new Replay(replayStored<T>(stored, operation, hash));
          },
        };
        if (!options.lookupInWork) lookup.found(await findIdempotency(trx, tenantId, key));
        const now = laurel.clock.now();
        return await work(trx, now, (result) => {
          if (!looked) throw new Error(`${operation}: the idempotency key must be looked up before the result is stored`);
          return { key, operation, requestHash: hash, response: encodeJson(result) };
        }, lookup);
      });
    } catch (e) {
      if (e instanceof Replay) return e.result as T;
      const retry = isUniqueViolation(e, 'idempotency_keys_pkey') || (options.twinConstraints ?? []).some((c) => isUniqueViolation(e, c)) || isTransient(e);
      if (!retry || attempt >= MAX_ATTEMPTS) throw e;
    }
  }
}

export interface WriteOnceOptions<T> {
  /** what a replay answers, when not the result itself: a secret shown only once is left out of what is stored */
  replayed?: (result: T) => T;
}

/**
 * Runs a write in one transaction; with an idempotency key, at most once (its result is stored
 * with the write and replayed). For writes whose key is optional, such as creating a member.
 */
export async function writeOnce<T>(laurel: Laurel, tenantId: string, key: string | undefined, operation: string, request: unknown,
  work: (trx: Trx, now: Date) => Promise<T>, options: WriteOnceOptions<T> = {}): Promise<T> {
  if (key === undefined) return laurel.db.transaction().execute((trx) => work(trx, laurel.clock.now()));
  return idempotent(laurel, tenantId, requireIdempotencyKey(key), operation, request, async (trx, now, store) => {
    const result = await work(trx, now);
    await storeIdempotency(trx, tenantId, store(options.replayed ? options.replayed(result) : result), now);
    return result;
  });
}
