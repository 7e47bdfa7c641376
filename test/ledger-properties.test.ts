// Random histories of ledger operations on a fresh tenant, checked after every step against the
// naive model of support/ledger-model.ts and against `laurel verify`. Refused operations must be
// refused with the code the model predicts and change nothing; replays must answer as the first time.
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { DomainError } from '../src/core/errors.js';
import type { Balance } from '../src/core/ledger/types.js';
import { settleDue } from '../src/db/settlement.js';
import {
  adjust, captureHold, createHold, earn, getBalance, redeem, reverseEntry, transfer, voidHold, type LedgerResult,
} from '../src/services/ledger.js';
import { MINUTE, runOptions, SCALE, scenarioArb, sized, type Cmd, type Scenario } from './support/ledger-commands.js';
import { expectation, LedgerModel, Rejected, type ModelBalance, type ModelResult } from './support/ledger-model.js';
import { expectVerified, key, lotsOf, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

// Sized to stay under two minutes on a busy 2-core machine with no time limit to cut it short:
// with 2 to 7 members a history costs ~3-5 s on PGlite beside another file (30 took 140 s in a
// suite run), ~1.5 s on PostgreSQL (50 took 79 s). LAUREL_PROPERTY_SCALE multiplies runs and
// lengths (nightly); the volume is in ledger-core-properties.test.ts, which needs no database.
const RUNS = Number(process.env.LAUREL_PROPERTY_RUNS ?? (onPostgres ? 50 : 20));

let shared: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { shared = await openTestLaurel(); });
afterAll(async () => { await shared.close(); });

const view = (b: Balance): ModelBalance => ({
  available: b.available, pending: b.pending, held: b.held, lifetimeEarned: b.lifetimeEarned,
  lifetimeRedeemed: b.lifetimeRedeemed, expired: b.expired, lastActivityAt: b.lastActivityAt,
});

interface Done { call: () => Promise<LedgerResult>; result: LedgerResult; tamper: () => Promise<unknown> }

async function runScenario(sc: Scenario): Promise<void> {
  // Its own clock on the file's database: a history never sees time go back because the one before ended later.
  const laurel = { ...shared, clock: new ManualClock(new Date(sc.start)) };
  const program = await newProgram(laurel, sc.policy, sc.zone);
  const tenantId = program.tenantId;
  const ids: string[] = [];
  for (let m = 0; m < sc.members; m++) ids.push(await newMember(laurel, program));
  const model = new LedgerModel(sc.policy, sc.zone, laurel.clock.now(), sc.members);
  const entries: { real: string; model: string; kind: string; reversible: boolean }[] = [];
  const holds: { real: string; model: string }[] = [];
  const done: Done[] = [];
  const trace: string[] = [`policy ${JSON.stringify(sc.policy)} in ${sc.zone} from ${new Date(sc.start).toISOString()}`];
  const journalSize = async () => (await sql<{ n: number }>`select count(*)::int as n from journal_entries
    where tenant_id = ${tenantId}`.execute(laurel.db)).rows[0]!.n;

  /** Runs one operation on both sides: the model predicts success (and what is written) or the refusal. */
  async function perform(label: string, predict: () => ModelResult, call: () => Promise<LedgerResult>, tamper: () => Promise<unknown>) {
    const expected = expectation(predict);
    if (expected instanceof Rejected) {
      trace.push(`${label} → refused: ${expected.code}`);
      const before = await journalSize();
      const error = await call().then(() => null, (e: unknown) => e);
      expect(error, `${trace.join('\n')}\nthe model expects ${expected.code} (${expected.message})`).toBeInstanceOf(DomainError);
      expect((error as DomainError).code, trace.join('\n')).toBe(expected.code);
      expect(await journalSize(), 'a refused operation wrote to the journal').toBe(before);
      return;
    }
    trace.push(label);
    const result = await call().catch((e: unknown) => { throw new Error(`${trace.join('\n')}\nthe model expects success, got ${String(e)}`, { cause: e }); });
    const want = expected;
    expect(result.entries.map((e) => [e.kind, e.amount]), trace.join('\n')).toEqual(want.entries.map((e) => [e.kind, e.amount]));
    result.entries.forEach((e, i) => entries.push({ real: e.entryId, model: want.entries[i]!.id, kind: e.kind, reversible: ['earn', 'redeem', 'adjust', 'transfer'].includes(e.kind) }));
    if (want.hold) holds.push({ real: result.hold!.holdId, model: want.hold });
    // The answer carries the balances as committed, not a guess.
    for (const b of result.balances) expect(view(b), `${trace.join('\n')}\nbalance answered for ${b.memberId}`).toEqual(model.balance(ids.indexOf(b.memberId)));
    done.push({ call, result, tamper });
  }

  const available = (m: number) => model.availableNow(m);
  const recentHold = (n: number) => holds[holds.length - 1 - (n % Math.max(1, holds.length))];

  async function step(c: Cmd): Promise<void> {
    const t = tenantId;
    const idempotencyKey = key();
    switch (c.op) {
      case 'earn': {
        const input = { tenantId: t, memberId: ids[c.m]!, amount: c.amount, idempotencyKey };
        return perform(`earn m${c.m} ${c.amount}`, () => model.earn(c.m, BigInt(c.amount)), () => earn(laurel, input), () => redeem(laurel, input));
      }
      case 'redeem': {
        const input = { tenantId: t, memberId: ids[c.m]!, amount: sized(c.size, available(c.m)), idempotencyKey };
        return perform(`redeem m${c.m} ${input.amount}`, () => model.redeem(c.m, BigInt(input.amount)), () => redeem(laurel, input), () => earn(laurel, input));
      }
      case 'adjust': {
        const amount = c.credit ? sized(c.size, 100n) : -sized(c.size, available(c.m));
        const input = { tenantId: t, memberId: ids[c.m]!, amount, reason: 'correction', actor: 'prop', idempotencyKey };
        return perform(`adjust m${c.m} ${amount}`, () => model.adjust(c.m, BigInt(amount)), () => adjust(laurel, input), () => adjust(laurel, { ...input, reason: 'other' }));
      }
      case 'hold': {
        const input = { tenantId: t, memberId: ids[c.m]!, amount: sized(c.size, available(c.m)), ttlSeconds: c.ttl, idempotencyKey };
        return perform(`hold m${c.m} ${input.amount} ttl ${c.ttl}s`, () => model.hold(c.m, BigInt(input.amount), c.ttl), () => createHold(laurel, input), () => createHold(laurel, { ...input, ref: 'other' }));
      }
      case 'capture': {
        const h = recentHold(c.recent);
        if (!h) return;
        const amount = c.part === null ? null : sized(c.part, model.heldBy(h.model));
        const input = { tenantId: t, holdId: h.real, idempotencyKey, ...(amount === null ? {} : { amount }) };
        return perform(`capture ${h.model} ${amount ?? 'all'}`, () => model.capture(h.model, amount === null ? null : BigInt(amount)), () => captureHold(laurel, input), () => captureHold(laurel, { ...input, ref: 'other' }));
      }
      case 'void': {
        const h = recentHold(c.recent);
        if (!h) return;
        const input = { tenantId: t, holdId: h.real, idempotencyKey };
        return perform(`void ${h.model}`, () => model.void(h.model), () => voidHold(laurel, input), () => voidHold(laurel, { ...input, holdId: ids[0]! }));
      }
      case 'transfer': {
        const amount = sized(c.size, available(c.from));
        const input = { tenantId: t, fromMemberId: ids[c.from]!, toMemberId: ids[c.to]!, amount, idempotencyKey };
        return perform(`transfer m${c.from}→m${c.to} ${amount}`, () => model.transfer(c.from, c.to, BigInt(amount)), () => transfer(laurel, input), () => transfer(laurel, { ...input, amount: amount + 1 }));
      }
      case 'reverse': {
        // A recent entry of the kind asked for; hold and reverse entries are there to be refused.
        const ofKind = entries.filter((e) => e.kind === c.kind);
        const pool = ofKind.length ? ofKind : entries.filter((e) => e.reversible);
        const e = pool[pool.length - 1 - (c.back % Math.max(1, pool.length))];
        if (!e) return;
        const left = e.reversible ? model.reversibleLeft(e.model) : 0n;
        const amount = c.part === null ? null : sized(c.part, left);
        const input = { tenantId: t, entryId: e.real, idempotencyKey, ...(amount === null ? {} : { amount }) };
        return perform(`reverse ${e.model} ${amount ?? 'all'}`, () => model.reverse(e.model, amount === null ? null : BigInt(amount)), () => reverseEntry(laurel, input), () => reverseEntry(laurel, { ...input, reason: 'other' }));
      }
      case 'travel':
      case 'edge': {
        const next = c.op === 'edge' && c.holds && model.upcoming(true).length ? model.upcoming(true) : model.upcoming();
        const ms = c.op === 'travel' ? c.ms
          : next.length ? Math.max(0, next[Math.min(c.pick, next.length - 1)]! + c.offset - model.now.getTime()) : MINUTE;
        trace.push(`travel ${ms} ms to ${new Date(model.now.getTime() + ms).toISOString()}`);
        laurel.clock.advance(ms);
        model.advance(ms);
        return c.op === 'edge' && c.settle ? step({ op: 'settle' }) : undefined;
      }
      case 'settle': {
        trace.push('settleDue');
        await settleDue(laurel.db, laurel.clock.now());
        return model.settleAll();
      }
      case 'replay': {
        const d = done[c.pick % done.length];
        if (!d) return;
        trace.push(`replay #${c.pick % done.length}${c.tamper ? ' with another body' : ''}`);
        const before = await journalSize();
        if (c.tamper) await expect(d.tamper(), trace.join('\n')).rejects.toMatchObject({ code: 'idempotency_conflict' });
        else expect(await d.call(), trace.join('\n')).toEqual(d.result);
        expect(await journalSize(), 'a replay wrote to the journal').toBe(before);
      }
    }
  }

  for (const c of sc.cmds) {
    await step(c);
    expect(laurel.clock.now()).toEqual(model.now);
    for (let m = 0; m < sc.members; m++) {
      expect(view(await getBalance(laurel, tenantId, ids[m]!)), `${trace.join('\n')}\nbalance of m${m}`).toEqual(model.balance(m));
      const lots = (await lotsOf(laurel, tenantId, ids[m]!)).map((l) => ({ ...l, pending: l.pending && l.remaining !== 0n }));
      expect(lots, `${trace.join('\n')}\nlots of m${m}`).toEqual(model.lotsOf(m));
    }
    await expectVerified(laurel, tenantId);
  }
}

describe('ledger properties', () => {
  it(`random histories agree with the model and keep every invariant (${RUNS * SCALE} sequences)`, async () => {
    await fc.assert(fc.asyncProperty(scenarioArb({ replay: true, badTtl: true, maxLength: 30 * SCALE }), runScenario), runOptions(RUNS, 30_000 * SCALE));
  }, 600_000);
});
