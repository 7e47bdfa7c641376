// Group commit for the member ledger operations (earn, redeem, adjust, hold) and for the purchases
// and actions that need nothing but the member's points wallet, achievements and referral
// (services/events.ts). Operations that arrive while earlier batches are in flight wait in a queue;
// the next batch takes them, up to `maxSize`, and decides and writes them in one transaction: one
// statement looks up their idempotency keys, one locks their wallets (in one global order, so
// batches never deadlock each other), one per reader reads what deferred decisions need under those
// locks (an event's tallies, unlocks and referral), one writes every decision of a tenant. When
// nothing is in flight an operation goes at once, as a batch of one: an idle pipe adds no wait.
//
// Each operation keeps its own answer: a domain refusal (insufficient points, a suspended member)
// is decided in the core before anything is written and answers only its request. A database
// error fails the batch's transaction, which wrote nothing; then every operation of the batch runs
// again on its own, through the unbatched path, so one bad operation never fails its neighbours.
// A batch holds at most one operation per wallet, and a wallet in flight is not taken again until
// its batch ends: a member's operations apply in the order they arrived, as if sequential.
import { DomainError } from '../core/errors.js';
import { mergeDecisions, type Decision } from '../core/ledger/types.js';
import { preferGenericPlans } from '../db/connection.js';
import { eventRowsParts, type EventRows } from '../db/events.js';
import { findIdempotencyKeys, loadLots, lockWallets, walletRefKey, writeDecision, type LockedWallet, type StoredResponse, type Trx, type WalletRef } from '../db/ledger.js';
import type { Laurel } from './context.js';
import { replayStored } from './idempotency.js';

export interface BatchSettings {
  /** the most operations one transaction takes */
  maxSize: number;
  /** how long a batch waits to fill while others are in flight (0: it takes what is queued) */
  waitMs: number;
  /** batches in flight at once (PGlite runs one: it serialises transactions anyway) */
  concurrency: number;
}

/**
 * Reads many operations' rows under a batch's locks in one statement: each operation of the batch
 * that defers its decision to one reader gets the state its query asks for, in its query's place.
 */
export interface BatchRead<Q, S> {
  readAll(trx: Trx, queries: readonly Q[]): Promise<S[]>;
}

/** A decision that needs rows its batch reads first, with every other operation's of the same reader. */
export interface Deferred<T> {
  read: BatchRead<unknown, unknown>;
  query: unknown;
  finish(state: unknown): Promise<Decided<T> | null>;
}

/** A deferred decision, typed: what `decide` returns when it needs `read`'s rows. */
export const deferred = <Q, S, T>(read: BatchRead<Q, S>, query: Q, finish: (state: S) => Promise<Decided<T> | null>): Deferred<T> =>
  ({ read: read as BatchRead<unknown, unknown>, query, finish: finish as (state: unknown) => Promise<Decided<T> | null> });

/** What one operation decided: its writes and its answer, or `null` to go the unbatched way. */
export interface Decided<T> {
  decision: Decision;
  result: T;
  /** an event's own rows, written with the batch's ledger rows (services/events.ts) */
  event?: EventRows;
}

export interface BatchOperation<T> {
  wallet: WalletRef;
  key: string;
  operation: string;
  requestHash: string;
  /** refuse suspended and erased members */
  activeMember: boolean;
  /** load the spendable lots that cover this many points */
  lots?: bigint;
  /** the core's decision on the locked wallet, or after the batch reads what it needs; null when the operation needs the unbatched path */
  decide(wallet: LockedWallet, now: Date): Decided<T> | Deferred<T> | null;
  /** the operation through the unbatched path, in a transaction of its own */
  alone(): Promise<T>;
  encode(result: T): string;
}

interface Queued {
  op: BatchOperation<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Outcome = { result: unknown } | { error: unknown } | { alone: true };

/** What a process's batching did so far: for the benchmark's report and the tests. */
export interface BatchStats {
  batches: number;
  /** operations decided and answered in a batch */
  batched: number;
  largest: number;
  /** batches whose transaction failed, so that each of their operations ran alone */
  failed: number;
  /** operations a batch handed to the unbatched path: a failed batch, or one a batch cannot take */
  alone: number;
}

class Coalescer {
  private readonly queue: Queued[] = [];
  private inFlight = 0;
  /** wallets whose operation is in a batch in flight */
  private readonly busy = new Set<string>();
  private waiting = false;
  readonly stats: BatchStats = { batches: 0, batched: 0, largest: 0, failed: 0, alone: 0 };

  constructor(private readonly laurel: Laurel, private readonly settings: BatchSettings) {}

  submit<T>(op: BatchOperation<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op: op as BatchOperation<unknown>, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.settings.concurrency && this.queue.length > 0 && !this.waiting) {
      if (this.inFlight > 0 && this.settings.waitMs > 0 && this.queue.length < this.settings.maxSize) {
        this.waiting = true;
        setTimeout(() => {
          this.waiting = false;
          this.pump();
        }, this.settings.waitMs).unref();
        return;
      }
      const batch = this.take();
      if (batch.length === 0) return;
      this.inFlight++;
      for (const q of batch) this.busy.add(walletRefKey(q.op.wallet));
      void this.run(batch).finally(() => {
        for (const q of batch) this.busy.delete(walletRefKey(q.op.wallet));
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The queue's first operations, one per wallet and per key, skipping wallets in flight. */
  private take(): Queued[] {
    const batch: Queued[] = [];
    const wallets = new Set<string>();
    const keys = new Set<string>();
    const kept: Queued[] = [];
    for (const q of this.queue) {
      const wallet = walletRefKey(q.op.wallet);
      const key = `${q.op.wallet.tenantId}/${q.op.key}`;
      if (batch.length < this.settings.maxSize && !this.busy.has(wallet) && !wallets.has(wallet) && !keys.has(key)) {
        batch.push(q);
      } else {
        kept.push(q);
      }
      // A wallet skipped once stays skipped for this batch, so its later operations keep their order.
      wallets.add(wallet);
      keys.add(key);
    }
    this.queue.splice(0, this.queue.length, ...kept);
    return batch;
  }

  private async run(batch: Queued[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.laurel.db.transaction().execute(async (trx) => {
        if (this.laurel.engine === 'postgres' && batch.every((q) => q.op.lots === undefined)) await preferGenericPlans(trx);
        return this.apply(trx, batch);
      });
      this.stats.batches++;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
    } catch {
      // The transaction wrote nothing: each operation on its own, with its own answer or error.
      this.stats.failed++;
      outcomes = batch.map(() => ({ alone: true }));
    }
    for (const outcome of outcomes) {
      if ('alone' in outcome) this.stats.alone++;
      else this.stats.batched++;
    }
    await Promise.all(batch.map(async (q, i) => {
      const outcome = outcomes[i]!;
      if ('result' in outcome) q.resolve(outcome.result);
      else if ('error' in outcome) q.reject(outcome.error);
      else await q.op.alone().then(q.resolve, q.reject);
    }));
  }

  private async apply(trx: Trx, batch: Queued[]): Promise<Outcome[]> {
    const now = this.laurel.clock.now();
    const outcomes: Outcome[] = batch.map(() => ({ alone: true }));
    const stored = await findIdempotencyKeys(trx, batch.map((q) => ({ tenantId: q.op.wallet.tenantId, key: q.op.key })));
    const fresh: number[] = [];
    batch.forEach((q, i) => {
      const found = stored.get(`${q.op.wallet.tenantId}/${q.op.key}`);
      if (!found) fresh.push(i);
      else outcomes[i] = settled(() => replayStored(found, q.op.operation, q.op.requestHash));
    });
    if (fresh.length === 0) return outcomes;
    const locked = await lockWallets(trx, fresh.map((i) => batch[i]!.op.wallet), now);
    const writes = new Map<string, { decisions: Decision[]; records: StoredResponse[]; events: EventRows[] }>();
    const keep = (i: number, decided: Decided<unknown>) => {
      const { op } = batch[i]!;
      const tenant = writes.get(op.wallet.tenantId) ?? { decisions: [], records: [], events: [] };
      writes.set(op.wallet.tenantId, tenant);
      tenant.decisions.push(decided.decision);
      if (decided.event) tenant.events.push(decided.event);
      tenant.records.push({ key: op.key, operation: op.operation, requestHash: op.requestHash, response: op.encode(decided.result) });
      outcomes[i] = { result: decided.result };
    };
    const deferrals: { i: number; deferred: Deferred<unknown> }[] = [];
    for (const i of fresh) {
      const { op } = batch[i]!;
      const wallet = locked.get(walletRefKey(op.wallet));
      // A missing member or wallet: the unbatched path finds which, and says so. A wallet with
      // something to settle goes that way too: its settlement belongs to its operation's
      // transaction, and a refused operation writes nothing.
      if (!wallet || wallet.due) continue;
      if (op.activeMember && wallet.memberStatus !== 'active') {
        outcomes[i] = { error: new DomainError('conflict', `the member is ${wallet.memberStatus}`, 'memberId') };
        continue;
      }
      if (op.lots !== undefined) wallet.state.lots = await loadLots(trx, op.wallet.tenantId, wallet.state, now, op.lots);
      let decided: Decided<unknown> | Deferred<unknown> | null;
      try {
        decided = op.decide(wallet, now);
      } catch (e) {
        if (!(e instanceof DomainError)) throw e;
        outcomes[i] = { error: e };
        continue;
      }
      if (decided && 'finish' in decided) deferrals.push({ i, deferred: decided });
      else if (decided) keep(i, decided);
    }
    // The deferred decisions: one statement per reader reads every state they need, under the locks just taken.
    const readers = new Map<BatchRead<unknown, unknown>, { i: number; deferred: Deferred<unknown> }[]>();
    for (const d of deferrals) {
      const waiting = readers.get(d.deferred.read) ?? [];
      readers.set(d.deferred.read, waiting);
      waiting.push(d);
    }
    for (const [read, waiting] of readers) {
      const states = await read.readAll(trx, waiting.map((w) => w.deferred.query));
      for (const [n, { i, deferred }] of waiting.entries()) {
        try {
          const decided = await deferred.finish(states[n]);
          if (decided) keep(i, decided);
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          outcomes[i] = { error: e };
        }
      }
    }
    for (const [tenantId, { decisions, records, events }] of writes) {
      await writeDecision(trx, tenantId, mergeDecisions(...decisions), now, records, events.length > 0 ? eventRowsParts(tenantId, events, now) : []);
    }
    return outcomes;
  }
}

function settled(answer: () => unknown): Outcome {
  try {
    return { result: answer() };
  } catch (e) {
    return { error: e };
  }
}

/**
 * One coalescer per database and clock: a batch's operations happen at one instant of one clock
 * (a process has one; the demo seeding and the tests move clocks of their own over one database).
 */
const coalescers = new WeakMap<object, WeakMap<object, Coalescer>>();

const coalescerOf = (laurel: Laurel): Coalescer | undefined => coalescers.get(laurel.db)?.get(laurel.clock);

/** Runs `op` in the next batch of `laurel`'s database, or alone when batching is off. */
export function batched<T>(laurel: Laurel, op: BatchOperation<T>): Promise<T> {
  const settings = laurel.settings.batch;
  if (!settings) return op.alone();
  let coalescer = coalescerOf(laurel);
  if (!coalescer) {
    coalescer = new Coalescer(laurel, laurel.engine === 'pglite' ? { ...settings, concurrency: 1 } : settings);
    const byClock = coalescers.get(laurel.db) ?? new WeakMap<object, Coalescer>();
    byClock.set(laurel.clock, coalescer);
    coalescers.set(laurel.db, byClock);
  }
  return coalescer.submit(op);
}

/** The batching figures of `laurel`'s database and clock in this process (all zero before its first operation). */
export function batchStats(laurel: Laurel): BatchStats {
  return { ...(coalescerOf(laurel)?.stats ?? { batches: 0, batched: 0, largest: 0, failed: 0, alone: 0 }) };
}

const DEFAULTS: BatchSettings = { maxSize: 256, waitMs: 0, concurrency: 4 };

/**
 * LAUREL_BATCH=off turns group commit off; LAUREL_BATCH_MAX_SIZE (1–10000, default 256),
 * LAUREL_BATCH_WAIT_MS (0–100, default 0) and LAUREL_BATCH_CONCURRENCY (1–64, default 4) tune it.
 */
export function batchSettingsFromEnv(env: NodeJS.ProcessEnv): BatchSettings | null {
  const mode = (env.LAUREL_BATCH ?? 'on').trim().toLowerCase();
  if (mode !== 'on' && mode !== 'off') throw new Error(`LAUREL_BATCH must be on or off, not ${JSON.stringify(env.LAUREL_BATCH)}`);
  if (mode === 'off') return null;
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    maxSize: int('LAUREL_BATCH_MAX_SIZE', DEFAULTS.maxSize, 1, 10_000),
    waitMs: int('LAUREL_BATCH_WAIT_MS', DEFAULTS.waitMs, 0, 100),
    concurrency: int('LAUREL_BATCH_CONCURRENCY', DEFAULTS.concurrency, 1, 64),
  };
}
