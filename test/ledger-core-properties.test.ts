// The core's decisions (core/ledger/operations.ts) against the model, over thousands of random
// histories and without a database: support/memory-ledger.ts stands in for the adapter and the
// settlement SQL, and refuses any decision with an unbalanced entry or a lot out of bounds.
// After every step: balances and lots equal the model's, lots equal the sum of their movements
// and back the buckets, and no wallet owes a debt while it has points to pay it.
// The database-level twin is ledger-properties.test.ts; this one trades realism for volume.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/errors.js';
import type { Decision } from '../src/core/ledger/types.js';
import { MINUTE, runOptions, SCALE, scenarioArb, sized, type Cmd, type Scenario } from './support/ledger-commands.js';
import { expectation, LedgerModel, Rejected, type ModelBalance, type ModelResult } from './support/ledger-model.js';
import { MemoryLedger } from './support/memory-ledger.js';

// ~3 ms a history (more with 5 to 7 members): 3,000 take ~10-20 s on a busy 2-core machine.
// LAUREL_PROPERTY_SCALE multiplies the runs and the history lengths (nightly).
const RUNS = Number(process.env.LAUREL_CORE_PROPERTY_RUNS ?? 3000);

function runScenario(sc: Scenario): void {
  const IDS = Array.from({ length: sc.members }, (_, m) => `00000000-0000-7000-8000-0000000000a${m}`);
  const ledger = new MemoryLedger(sc.policy, sc.zone, new Date(sc.start), [...IDS]);
  const model = new LedgerModel(sc.policy, sc.zone, new Date(sc.start), sc.members);
  const entries: { real: string; model: string; kind: string; reversible: boolean }[] = [];
  const holds: { real: string; model: string }[] = [];
  const trace: string[] = [`policy ${JSON.stringify(sc.policy)} in ${sc.zone} from ${new Date(sc.start).toISOString()}`];
  const why = (more = '') => `${trace.join('\n')}${more ? `\n${more}` : ''}`;

  function perform(label: string, predict: () => ModelResult, call: () => Decision): void {
    const expected = expectation(predict);
    if (expected instanceof Rejected) {
      trace.push(`${label} → refused: ${expected.code}`);
      let error: unknown = null;
      try { call(); } catch (e) { error = e; }
      expect(error, why(`the model expects ${expected.code} (${expected.message})`)).toBeInstanceOf(DomainError);
      expect((error as DomainError).code, why()).toBe(expected.code);
      return;
    }
    trace.push(label);
    let decision: Decision;
    try { decision = call(); } catch (e) { throw new Error(why(`the model expects success, got ${String(e)}`), { cause: e }); }
    const want = expected;
    const wrote = decision.entries.map((e) => `${e.kind} ${e.amount}`).join(', ');
    const predicted = want.entries.map((e) => `${e.kind} ${e.amount}`).join(', ');
    if (wrote !== predicted) expect(wrote, why('entries written')).toBe(predicted);
    decision.entries.forEach((e, i) => entries.push({ real: e.entryId, model: want.entries[i]!.id, kind: e.kind, reversible: ['earn', 'redeem', 'adjust', 'transfer'].includes(e.kind) }));
    if (want.hold) holds.push({ real: decision.newHolds[0]!.holdId, model: want.hold });
  }

  const available = (m: number) => model.availableNow(m);
  const recentHold = (n: number) => holds[holds.length - 1 - (n % Math.max(1, holds.length))];

  function step(c: Cmd): void {
    switch (c.op) {
      case 'earn':
        return perform(`earn m${c.m} ${c.amount}`, () => model.earn(c.m, BigInt(c.amount)), () => ledger.earn(IDS[c.m]!, BigInt(c.amount)));
      case 'redeem': {
        const amount = BigInt(sized(c.size, available(c.m)));
        return perform(`redeem m${c.m} ${amount}`, () => model.redeem(c.m, amount), () => ledger.redeem(IDS[c.m]!, amount));
      }
      case 'adjust': {
        const amount = BigInt(c.credit ? sized(c.size, 100n) : -sized(c.size, available(c.m)));
        return perform(`adjust m${c.m} ${amount}`, () => model.adjust(c.m, amount), () => ledger.adjust(IDS[c.m]!, amount));
      }
      case 'hold': {
        const amount = BigInt(sized(c.size, available(c.m)));
        return perform(`hold m${c.m} ${amount} ttl ${c.ttl}s`, () => model.hold(c.m, amount, c.ttl), () => ledger.hold(IDS[c.m]!, amount, c.ttl));
      }
      case 'capture': {
        const h = recentHold(c.recent);
        if (!h) return;
        const amount = c.part === null ? null : BigInt(sized(c.part, model.heldBy(h.model)));
        return perform(`capture ${h.model} ${amount ?? 'all'}`, () => model.capture(h.model, amount), () => ledger.capture(h.real, amount));
      }
      case 'void': {
        const h = recentHold(c.recent);
        if (!h) return;
        return perform(`void ${h.model}`, () => model.void(h.model), () => ledger.void(h.real));
      }
      case 'transfer': {
        const amount = BigInt(sized(c.size, available(c.from)));
        return perform(`transfer m${c.from}→m${c.to} ${amount}`, () => model.transfer(c.from, c.to, amount), () => ledger.transfer(IDS[c.from]!, IDS[c.to]!, amount));
      }
      case 'reverse': {
        const ofKind = entries.filter((e) => e.kind === c.kind);
        const pool = ofKind.length ? ofKind : entries.filter((e) => e.reversible);
        const e = pool[pool.length - 1 - (c.back % Math.max(1, pool.length))];
        if (!e) return;
        const left = e.reversible ? model.reversibleLeft(e.model) : 0n;
        const amount = c.part === null ? null : BigInt(sized(c.part, left));
        return perform(`reverse ${e.model} ${amount ?? 'all'}`, () => model.reverse(e.model, amount), () => ledger.reverse(e.real, amount));
      }
      case 'travel':
      case 'edge': {
        const next = c.op === 'edge' && c.holds && model.upcoming(true).length ? model.upcoming(true) : model.upcoming();
        const ms = c.op === 'travel' ? c.ms
          : next.length ? Math.max(0, next[Math.min(c.pick, next.length - 1)]! + c.offset - model.now.getTime()) : MINUTE;
        trace.push(`travel ${ms} ms to ${new Date(model.now.getTime() + ms).toISOString()}`);
        ledger.now = new Date(ledger.now.getTime() + ms);
        model.advance(ms);
        return c.op === 'edge' && c.settle ? step({ op: 'settle' }) : undefined;
      }
      case 'settle':
        trace.push('settleDue');
        ledger.settleAll();
        return model.settleAll();
      case 'replay':
        return;
    }
  }

  // Plain comparisons first, `expect` only on a mismatch (for its diff): this runs after every step.
  function check(): void {
    const lotSums = new Map<string, bigint>();
    for (const mv of ledger.movements) lotSums.set(mv.lotId, (lotSums.get(mv.lotId) ?? 0n) + mv.delta);
    for (const lot of ledger.lots.values()) {
      if (lot.remaining !== (lotSums.get(lot.lotId) ?? 0n)) expect(lot.remaining, why(`lot ${lot.lotId} against its movements`)).toBe(lotSums.get(lot.lotId) ?? 0n);
    }
    IDS.forEach((id, m) => {
      const { memberId: _m, walletId: _w, wallet: _c, ...b } = ledger.balances.get(id)!;
      const want = model.balance(m);
      if (!sameBalance(b, want)) expect(b, why(`balance of m${m}`)).toEqual(want);
      const lots = [...ledger.lots.values()].filter((l) => l.memberId === id);
      const views = lots.sort((p, q) => p.earnedAt.getTime() - q.earnedAt.getTime() || (p.lotId < q.lotId ? -1 : 1))
        .map((l) => ({ amount: l.amount, remaining: l.remaining, pending: l.pending && l.remaining !== 0n, expiresAt: l.expiresAt?.toISOString() ?? null }));
      const wantLots = model.lotsOf(m);
      if (JSON.stringify(views, big) !== JSON.stringify(wantLots, big)) expect(views, why(`lots of m${m}`)).toEqual(wantLots);
      let matured = 0n, pending = 0n, held = 0n;
      for (const l of lots) if (l.pending) pending += l.remaining; else matured += l.remaining;
      for (const h of ledger.holds.values()) if (h.memberId === id && h.status === 'active') held += h.amount;
      if (matured !== b.available || pending !== b.pending || held !== b.held) {
        expect({ available: matured, pending, held }, why(`lots and holds of m${m} against the balance`)).toEqual({ available: b.available, pending: b.pending, held: b.held });
      }
      const owes = lots.some((l) => l.remaining < 0n);
      const spendable = lots.some((l) => !l.pending && l.remaining > 0n && (l.expiresAt === null || l.expiresAt > ledger.now));
      if (owes && spendable) expect.fail(why(`m${m} owes a debt while holding spendable points`));
    });
  }

  for (const c of sc.cmds) {
    step(c);
    check();
  }
}

const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? `${v}` : v);

function sameBalance(a: ModelBalance, b: ModelBalance): boolean {
  return a.available === b.available && a.pending === b.pending && a.held === b.held && a.lifetimeEarned === b.lifetimeEarned
    && a.lifetimeRedeemed === b.lifetimeRedeemed && a.expired === b.expired && a.lastActivityAt?.getTime() === b.lastActivityAt?.getTime();
}

describe('ledger core properties', () => {
  it(`decisions agree with the model over random histories (${RUNS * SCALE} sequences)`, () => {
    fc.assert(fc.property(scenarioArb({ replay: false, badTtl: false, maxLength: 40 * SCALE }), runScenario), runOptions(RUNS));
  }, 600_000);
});
