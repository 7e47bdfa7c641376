// An in-memory stand-in for the database side of the ledger (services/ledger.ts, db/ledger.ts,
// db/settlement.ts), so the core's decide* functions can be driven thousands of times without
// a database. It writes decisions as writeDecision does, settles as the SQL of settlement.ts
// does, and checks each decision as it writes it: every entry balanced, lots within bounds.
import { balanceChanges } from '../../src/core/ledger/invariants.js';
import type { LotTake } from '../../src/core/ledger/consumption.js';
import {
  decideAdjust, decideCapture, decideEarn, decideHold, decideRedeem, decideReverse, decideTransfer, decideVoid,
  type ReversalTarget,
} from '../../src/core/ledger/operations.js';
import type { Balance, Decision, Hold, LedgerContext, Lot, LotMovement, NewEntry, WalletState } from '../../src/core/ledger/types.js';
import type { ProgramPolicy } from '../../src/core/program.js';
import { inactivityDeadline } from './ledger-model.js';

const bad = (what: string, detail: unknown): never => {
  throw new Error(`${what}: ${JSON.stringify(detail, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
};

export class MemoryLedger {
  now: Date;
  readonly lots = new Map<string, Lot>();
  readonly movements: LotMovement[] = [];
  readonly holds = new Map<string, Hold>();
  readonly entries = new Map<string, NewEntry>();
  readonly balances = new Map<string, Balance>();
  private seq = 0;

  constructor(readonly policy: ProgramPolicy, readonly zone: string, now: Date, readonly members: string[]) {
    this.now = now;
    for (const memberId of members) {
      this.balances.set(memberId, { memberId, walletId: 'wallet', wallet: 'points', available: 0n, pending: 0n, held: 0n,
        lifetimeEarned: 0n, lifetimeRedeemed: 0n, expired: 0n, lastActivityAt: null });
    }
  }

  /** Ids that sort in creation order, as UUIDv7s made in different milliseconds do. */
  private newId = (): string => `00000000-0000-7000-8000-${(++this.seq).toString(16).padStart(12, '0')}`;

  earn(m: string, amount: bigint): Decision {
    return this.operate([m], false, (w) => decideEarn(this.ctx(), w[0]!, amount, null));
  }
  redeem(m: string, amount: bigint): Decision {
    return this.operate([m], true, (w) => decideRedeem(this.ctx(), w[0]!, amount, null));
  }
  adjust(m: string, amount: bigint): Decision {
    return this.operate([m], amount < 0n, (w) => decideAdjust(this.ctx(), w[0]!, amount, 'correction'));
  }
  hold(m: string, amount: bigint, ttlSeconds: number): Decision {
    return this.operate([m], true, (w) => decideHold(this.ctx(), w[0]!, amount, new Date(this.now.getTime() + ttlSeconds * 1000), null));
  }
  capture(holdId: string, amount: bigint | null): Decision {
    const m = this.holds.get(holdId)!.memberId;
    return this.operate([m], false, (w) => decideCapture(this.ctx(), w[0]!, this.holds.get(holdId)!, this.consumption(this.holds.get(holdId)!.holdEntryId), amount, null));
  }
  void(holdId: string): Decision {
    const m = this.holds.get(holdId)!.memberId;
    return this.operate([m], false, (w) => decideVoid(this.ctx(), w[0]!, this.holds.get(holdId)!, this.consumption(this.holds.get(holdId)!.holdEntryId)));
  }
  transfer(from: string, to: string, amount: bigint): Decision {
    return this.operate([from, to], true, (w) => decideTransfer(this.ctx(), w[0]!, w[1]!, amount, null));
  }
  reverse(entryId: string, amount: bigint | null): Decision {
    const entry = this.entries.get(entryId)!;
    const members = [...new Set([entry.memberId, entry.counterpartyId].filter((x): x is string => x !== null))];
    return this.operate(members, true, (w) => {
      const of = (id: string) => w.find((x) => x.memberId === id)!;
      let reversed = 0n;
      for (const e of this.entries.values()) if (e.reversesEntryId === entryId) reversed += e.amount;
      const target: ReversalTarget = { entry, reversed };
      if (entry.kind === 'transfer') {
        target.receiver = of(entry.counterpartyId!);
        target.payer = of(entry.memberId);
      } else if (entry.lotId !== null) target.receiver = of(entry.memberId);
      else target.payer = of(entry.memberId);
      if (target.receiver) {
        const receiver = target.receiver.memberId;
        target.createdLots = [...this.lots.values()].filter((l) => l.entryId === entryId && l.amount > 0n).map((l) => ({ ...l }));
        target.holds = [...this.holds.values()].filter((h) => h.memberId === receiver && h.status === 'active')
          .map((h) => ({ hold: { ...h }, consumed: this.consumption(h.holdEntryId) }));
      }
      if (target.payer) {
        const hold = entry.holdId ? this.holds.get(entry.holdId)! : null;
        target.consumedGroupId = hold ? hold.holdEntryId : entryId;
        target.consumed = this.consumption(target.consumedGroupId).filter((t) => t.lot.memberId === entry.memberId);
      }
      return decideReverse(this.ctx(), target, amount, null);
    });
  }

  /** settleDue */
  settleAll(): void {
    for (const m of this.members) this.settle(m);
  }

  private ctx(): LedgerContext {
    return { now: this.now, newId: this.newId, policy: this.policy, timeZone: this.zone, actor: 'test', idempotencyKey: null };
  }

  /** As a service does, in one transaction: settle the wallets, decide on copies of them, write, and settle again when points came back or were owed. */
  private operate(members: string[], withLots: boolean, decide: (wallets: WalletState[]) => Decision): Decision {
    const before = structuredClone({ lots: this.lots, movements: this.movements, holds: this.holds, entries: this.entries, balances: this.balances, seq: this.seq });
    try {
      return this.run(members, withLots, decide);
    } catch (e) {
      // a refused operation rolls back, settlement included
      for (const [mine, saved] of [[this.lots, before.lots], [this.holds, before.holds], [this.entries, before.entries], [this.balances, before.balances]] as const) {
        mine.clear();
        for (const [k, v] of saved as Map<string, never>) (mine as Map<string, never>).set(k, v);
      }
      this.movements.splice(0, this.movements.length, ...before.movements);
      this.seq = before.seq;
      throw e;
    }
  }

  private run(members: string[], withLots: boolean, decide: (wallets: WalletState[]) => Decision): Decision {
    for (const m of members) this.settle(m);
    const wallets = members.map((m): WalletState => ({
      programId: 'program', walletId: 'wallet', walletKind: 'redeemable', memberId: m, balance: { ...this.balances.get(m)! },
      lots: withLots ? [...this.lots.values()].filter((l) => l.memberId === m && l.remaining !== 0n).map((l) => ({ ...l })) : [],
    }));
    const owing = wallets.some((w) => w.balance.available < 0n);
    const decision = decide(wallets);
    this.write(decision);
    const fresh = new Set(decision.lots.map((l) => l.lotId));
    if (owing || decision.movements.some((mv) => mv.delta > 0n && !fresh.has(mv.lotId))) for (const m of members) this.settle(m);
    return decision;
  }

  private write(d: Decision): void {
    for (const e of d.entries) {
      let sum = 0n;
      for (const p of e.postings) sum += p.amount;
      if (sum !== 0n || e.postings.length < 2) bad('unbalanced entry', e);
      if (e.postings.some((p) => p.amount === 0n || (p.memberId === null) !== ['issuance', 'redemption', 'expiry', 'adjustment', 'write_off'].includes(p.account))) bad('malformed posting', e);
      this.entries.set(e.entryId, e);
    }
    const fresh = new Set(d.lots.map((l) => l.lotId));
    for (const l of d.lots) {
      if (l.remaining !== l.amount) bad('a new lot is not whole', l);
      this.lots.set(l.lotId, { ...l });
    }
    for (const mv of d.movements) this.move(mv, !fresh.has(mv.lotId));
    for (const h of d.newHolds) this.holds.set(h.holdId, { ...h });
    for (const r of d.resolvedHolds) Object.assign(this.holds.get(r.holdId)!, { status: r.status, resolvedAt: this.now });
    for (const r of d.shrunkHolds) this.holds.get(r.holdId)!.amount = r.amount;
    for (const c of balanceChanges(d)) {
      const b = this.balances.get(c.memberId)!;
      b.available += c.available; b.pending += c.pending; b.held += c.held;
      b.lifetimeEarned += c.lifetimeEarned; b.lifetimeRedeemed += c.lifetimeRedeemed; b.expired += c.expired;
      if (c.active) b.lastActivityAt = this.now;
    }
  }

  private move(mv: LotMovement, apply = true): void {
    const lot = this.lots.get(mv.lotId) ?? bad('movement of an unknown lot', mv);
    this.movements.push(mv);
    if (apply) lot.remaining += mv.delta;
    const within = lot.amount > 0n ? lot.remaining >= 0n && lot.remaining <= lot.amount : lot.remaining <= 0n && lot.remaining >= lot.amount;
    if (!within) bad('lot out of bounds', lot);
  }

  /** db/ledger.ts loadConsumption: what a group took from each lot, net, where it took something. */
  private consumption(group: string): LotTake[] {
    const net = new Map<string, bigint>();
    for (const mv of this.movements) if (mv.groupEntryId === group) net.set(mv.lotId, (net.get(mv.lotId) ?? 0n) + mv.delta);
    return [...net].filter(([, n]) => n < 0n).map(([id, n]) => ({ lot: { ...this.lots.get(id)! }, amount: -n }));
  }

  /** db/settlement.ts settle(): release expired holds, mature, expire, repay debts. */
  private settle(m: string): void {
    const now = this.now.getTime();
    const b = this.balances.get(m)!;
    const lots = [...this.lots.values()].filter((l) => l.memberId === m);
    for (const h of this.holds.values()) {
      if (h.memberId !== m || h.status !== 'active' || h.expiresAt.getTime() > now) continue;
      const entryId = this.newId();
      for (const t of this.consumption(h.holdEntryId)) this.move({ entryId, groupEntryId: h.holdEntryId, lotId: t.lot.lotId, delta: t.amount });
      Object.assign(h, { status: 'expired', resolvedAt: this.now });
      b.held -= h.amount;
      b.available += h.amount;
    }
    for (const l of lots) {
      if (!l.pending || l.availableAt.getTime() > now) continue;
      l.pending = false;
      b.pending -= l.remaining;
      b.available += l.remaining;
    }
    const x = this.policy.expiry;
    const idle = x.kind === 'inactivity' && b.lastActivityAt !== null && inactivityDeadline(b.lastActivityAt.getTime(), x.months, this.zone) <= now;
    const expiring = lots.filter((l) => !l.pending && l.remaining > 0n && (l.expiresAt !== null ? l.expiresAt.getTime() <= now : idle));
    const entryId = this.newId();
    for (const l of expiring) {
      b.available -= l.remaining;
      b.expired += l.remaining;
      this.move({ entryId, groupEntryId: entryId, lotId: l.lotId, delta: -l.remaining });
    }
    const debts = lots.filter((l) => l.remaining < 0n).sort((p, q) => p.earnedAt.getTime() - q.earnedAt.getTime() || (p.lotId < q.lotId ? -1 : 1));
    const credits = lots.filter((l) => !l.pending && l.remaining > 0n && (l.expiresAt === null || l.expiresAt.getTime() > now))
      .sort((p, q) => (p.expiresAt?.getTime() ?? Infinity) - (q.expiresAt?.getTime() ?? Infinity)
        || p.earnedAt.getTime() - q.earnedAt.getTime() || (p.lotId < q.lotId ? -1 : 1));
    for (const debt of debts) {
      for (const c of credits) {
        const x = c.remaining < -debt.remaining ? c.remaining : -debt.remaining;
        if (x === 0n) continue;
        this.move({ entryId: debt.entryId, groupEntryId: debt.entryId, lotId: c.lotId, delta: -x });
        this.move({ entryId: debt.entryId, groupEntryId: debt.entryId, lotId: debt.lotId, delta: x });
      }
    }
  }
}
