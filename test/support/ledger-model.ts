// A deliberately naive reference model of one program's points ledger, written from the spec
// (SPEC.md §3), not from src/core: plain arrays, loops, and a copy of the whole state per
// operation. It is the oracle of the property tests, so it must not share code with what it judges.
import { DateTime } from 'luxon';

export type ModelExpiry =
  | { kind: 'none' }
  | { kind: 'rolling'; months: number }
  | { kind: 'fixed_date'; month: number; day: number; yearsAfter: number }
  | { kind: 'inactivity'; months: number };

export interface ModelPolicy {
  returnWindowDays: number;
  expiry: ModelExpiry;
  negativeBalance: 'debt' | 'write_off';
}

export type ModelEntryKind = 'earn' | 'redeem' | 'adjust' | 'transfer' | 'hold' | 'release' | 'reverse';

export interface ModelBalance {
  available: bigint;
  pending: bigint;
  held: bigint;
  lifetimeEarned: bigint;
  lifetimeRedeemed: bigint;
  expired: bigint;
  lastActivityAt: Date | null;
}

export interface ModelLot {
  amount: bigint;
  remaining: bigint;
  pending: boolean;
  expiresAt: string | null;
}

/** What a successful operation wrote, in the order the service answers its entries. */
export interface ModelResult {
  entries: { id: string; kind: ModelEntryKind; amount: bigint }[];
  hold?: string;
}

/** The model's prediction that an operation is refused, with the DomainError code it expects. */
export class Rejected extends Error {
  constructor(readonly code: 'validation' | 'conflict' | 'insufficient_points', message: string) {
    super(message);
  }
}

/** What the model says of an operation: what it writes, or the refusal it expects. */
export function expectation(predict: () => ModelResult): ModelResult | Rejected {
  try {
    return predict();
  } catch (e) {
    if (e instanceof Rejected) return e;
    throw e;
  }
}

interface Lot {
  id: number; member: number;
  amount: bigint; remaining: bigint; pending: boolean;
  earnedAt: number; availableAt: number; expiresAt: number | null;
}
interface Hold { id: string; member: number; amount: bigint; status: 'active' | 'captured' | 'voided' | 'expired'; expiresAt: number; group: string }
interface Entry {
  id: string; kind: ModelEntryKind; member: number; counterparty: number | null;
  amount: bigint; reversed: bigint; lots: number[]; group: string | null; credit: boolean;
}
interface Counters { earned: bigint; redeemed: bigint; expired: bigint; lastActivity: number | null }
interface State {
  now: number; seq: number; lots: Lot[]; holds: Hold[]; entries: Entry[]; counters: Counters[];
  /** per consumption group (a spending entry, or a hold's entry): points taken from each lot, net */
  taken: Record<string, Record<number, bigint>>;
}

const MAX_HOLD_SECONDS = 30 * 86_400;
const min = (a: bigint, b: bigint) => (a < b ? a : b);

export class LedgerModel {
  private s: State;
  /** set when the running operation returned points to existing lots */
  private gaveBack = false;

  constructor(readonly policy: ModelPolicy, readonly zone: string, now: Date, members = 2) {
    this.s = {
      now: now.getTime(), seq: 0, lots: [], holds: [], entries: [], taken: {},
      counters: Array.from({ length: members }, () => ({ earned: 0n, redeemed: 0n, expired: 0n, lastActivity: null })),
    };
  }

  get now(): Date { return new Date(this.s.now); }
  advance(ms: number): void { this.s.now += ms; }

  balance(m: number): ModelBalance {
    return balanceOf(this.s, m);
  }

  /**
   * A member's lots in the order they were made (as their UUIDv7s sort), oldest earned first.
   * `pending` only for lots that hold points: a lot clawed back to zero while pending is never
   * looked at again, and whether it was matured depends on what else was due.
   */
  lotsOf(m: number): ModelLot[] {
    return this.s.lots.filter((l) => l.member === m).sort((a, b) => a.earnedAt - b.earnedAt || a.id - b.id)
      .map((l) => ({ amount: l.amount, remaining: l.remaining, pending: l.pending && l.remaining !== 0n, expiresAt: l.expiresAt === null ? null : new Date(l.expiresAt).toISOString() }));
  }

  /** What is left to reverse of an entry, and what a hold holds: for commands sized relative to the state. */
  reversibleLeft(entryId: string): bigint {
    const e = this.s.entries.find((x) => x.id === entryId)!;
    return e.amount - e.reversed;
  }
  heldBy(holdId: string): bigint { return this.findHold(this.s, holdId).amount; }
  /** The available points an operation would find, once the wallet is settled. */
  availableNow(m: number): bigint {
    const copy = structuredClone(this.s);
    this.settle(copy, m);
    return balanceOf(copy, m).available;
  }

  /** Future instants at which something falls due (only hold deadlines if asked): for time travel that lands exactly on a boundary. */
  upcoming(holdsOnly = false): number[] {
    const s = this.s;
    const t: number[] = [];
    for (const h of s.holds) if (h.status === 'active') t.push(h.expiresAt);
    if (!holdsOnly) {
      for (const l of s.lots) {
        if (l.pending) t.push(l.availableAt);
        else if (l.remaining > 0n && l.expiresAt !== null) t.push(l.expiresAt);
      }
      if (this.policy.expiry.kind === 'inactivity') {
        for (const c of s.counters) if (c.lastActivity !== null) t.push(inactivityDeadline(c.lastActivity, this.policy.expiry.months, this.zone));
      }
    }
    return [...new Set(t.filter((x) => x > s.now))].sort((a, b) => a - b);
  }

  /** settleDue: every wallet is brought up to now. */
  settleAll(): void {
    this.tx((s) => { for (let m = 0; m < s.counters.length; m++) this.settle(s, m); });
  }

  earn(m: number, amount: bigint): ModelResult {
    return this.tx((s) => this.operate(s, [m], () => {
      const id = this.credit(s, m, 'earn', amount);
      s.counters[m]!.earned += amount;
      this.touch(s, m);
      return { entries: [this.ref(s, id)] };
    }));
  }

  adjust(m: number, amount: bigint): ModelResult {
    if (amount === 0n) throw new Rejected('validation', 'a zero adjustment');
    return this.tx((s) => this.operate(s, [m], () => {
      if (amount > 0n) {
        const id = this.credit(s, m, 'adjust', amount);
        this.touch(s, m); // points given by support restart the inactivity clock; a correction taking some does not
        return { entries: [this.ref(s, id)] };
      }
      const e = this.entry(s, 'adjust', m, -amount);
      this.spend(s, m, -amount, e.id);
      e.group = e.id;
      return { entries: [this.ref(s, e.id)] };
    }));
  }

  redeem(m: number, amount: bigint): ModelResult {
    return this.tx((s) => this.operate(s, [m], () => {
      const e = this.entry(s, 'redeem', m, amount);
      this.spend(s, m, amount, e.id);
      e.group = e.id;
      s.counters[m]!.redeemed += amount;
      this.touch(s, m);
      return { entries: [this.ref(s, e.id)] };
    }));
  }

  hold(m: number, amount: bigint, ttlSeconds: number): ModelResult {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_HOLD_SECONDS) throw new Rejected('validation', 'ttl out of range');
    return this.tx((s) => this.operate(s, [m], () => {
      const e = this.entry(s, 'hold', m, amount);
      this.spend(s, m, amount, e.id);
      const id = `h${++s.seq}`;
      s.holds.push({ id, member: m, amount, status: 'active', expiresAt: s.now + ttlSeconds * 1000, group: e.id });
      this.touch(s, m);
      return { entries: [this.ref(s, e.id)], hold: id };
    }));
  }

  capture(holdId: string, amount: bigint | null): ModelResult {
    return this.tx((s) => {
      const m = this.findHold(s, holdId).member;
      return this.operate(s, [m], () => {
        const h = this.findHold(s, holdId);
        if (h.status !== 'active') throw new Rejected('conflict', `hold is ${h.status}`);
        if (h.expiresAt <= s.now) throw new Rejected('conflict', 'hold has expired');
        const captured = amount ?? h.amount;
        if (captured > h.amount) throw new Rejected('validation', 'capture more than held');
        const e = this.entry(s, 'redeem', m, captured);
        e.group = h.group;
        s.counters[m]!.redeemed += captured;
        this.touch(s, m);
        h.status = 'captured';
        const entries = [this.ref(s, e.id)];
        if (captured < h.amount) {
          this.giveBack(s, h.group, m, h.amount - captured);
          entries.push(this.ref(s, this.entry(s, 'release', m, h.amount - captured).id));
        }
        return { entries };
      });
    });
  }

  void(holdId: string): ModelResult {
    return this.tx((s) => {
      const m = this.findHold(s, holdId).member;
      return this.operate(s, [m], () => {
        const h = this.findHold(s, holdId);
        if (h.status !== 'active') throw new Rejected('conflict', `hold is ${h.status}`);
        h.status = 'voided';
        this.giveBack(s, h.group, m, h.amount);
        return { entries: [this.ref(s, this.entry(s, 'release', m, h.amount).id)] };
      });
    });
  }

  transfer(from: number, to: number, amount: bigint): ModelResult {
    if (from === to) throw new Rejected('validation', 'transfer to oneself');
    return this.tx((s) => this.operate(s, [from, to], () => {
      const e = this.entry(s, 'transfer', from, amount);
      e.counterparty = to;
      e.group = e.id;
      for (const t of this.spend(s, from, amount, e.id)) {
        // The receiver's points keep the age and the expiry of the points they came from.
        const lot = this.newLot(s, to, t.amount, t.lot.earnedAt, s.now, t.lot.expiresAt);
        e.lots.push(lot.id);
      }
      this.touch(s, from);
      this.touch(s, to);
      return { entries: [this.ref(s, e.id)] };
    }));
  }

  reverse(entryId: string, amount: bigint | null): ModelResult {
    return this.tx((s) => {
      const e = s.entries.find((x) => x.id === entryId)!;
      if (!['earn', 'redeem', 'adjust', 'transfer'].includes(e.kind)) throw new Rejected('conflict', `${e.kind} is not reversible`);
      const left = e.amount - e.reversed;
      if (left === 0n) throw new Rejected('conflict', 'already fully reversed');
      const reversing = amount ?? left;
      if (reversing > left) throw new Rejected('validation', 'reversing more than is left');
      const takesBack = e.kind === 'earn' || e.kind === 'transfer' || (e.kind === 'adjust' && e.credit);
      const restores = e.kind === 'redeem' || e.kind === 'transfer' || (e.kind === 'adjust' && !e.credit);
      const members = e.counterparty === null ? [e.member] : [e.member, e.counterparty];
      return this.operate(s, members, () => {
        const r = this.entry(s, 'reverse', e.member, reversing);
        if (takesBack) this.takeBack(s, e, e.kind === 'transfer' ? e.counterparty! : e.member, reversing);
        if (restores) this.giveBack(s, e.group!, e.member, reversing);
        if (e.kind === 'earn') s.counters[e.member]!.earned -= reversing;
        if (e.kind === 'redeem') s.counters[e.member]!.redeemed -= reversing;
        e.reversed += reversing;
        return { entries: [this.ref(s, r.id)] };
      });
    });
  }

  // ---- internals -------------------------------------------------------------------------

  /** Runs an operation on a copy of the state and keeps the copy only if it succeeds: refusals change nothing. */
  private tx<T>(work: (s: State) => T): T {
    const draft = structuredClone(this.s);
    const result = work(draft);
    this.s = draft;
    return result;
  }

  /**
   * An operation settles its wallets first. Afterwards, when it gave points back to existing lots
   * (they may be past expiry) or a wallet owed points (new points repay the debt), it settles again.
   */
  private operate<T>(s: State, members: number[], work: () => T): T {
    for (const m of members) this.settle(s, m);
    const owing = members.some((m) => balanceOf(s, m).available < 0n);
    this.gaveBack = false;
    const result = work();
    if (this.gaveBack || owing) for (const m of members) this.settle(s, m);
    return result;
  }

  private settle(s: State, m: number): void {
    for (const h of s.holds) {
      if (h.member === m && h.status === 'active' && h.expiresAt <= s.now) {
        h.status = 'expired';
        this.giveBack(s, h.group, m, h.amount);
      }
    }
    for (const l of s.lots) if (l.member === m && l.pending && l.availableAt <= s.now) l.pending = false;
    const idle = this.idle(s, m);
    for (const l of s.lots) {
      if (l.member !== m || l.pending || l.remaining <= 0n) continue;
      const dated = l.expiresAt !== null && l.expiresAt <= s.now;
      if (dated || (idle && l.expiresAt === null)) {
        s.counters[m]!.expired += l.remaining;
        l.remaining = 0n;
      }
    }
    const debts = s.lots.filter((l) => l.member === m && l.remaining < 0n).sort((a, b) => a.earnedAt - b.earnedAt || a.id - b.id);
    for (const debt of debts) {
      for (const lot of this.spendable(s, m)) {
        if (debt.remaining === 0n) break;
        const x = min(lot.remaining, -debt.remaining);
        lot.remaining -= x;
        debt.remaining += x;
      }
    }
  }

  private idle(s: State, m: number): boolean {
    const last = s.counters[m]!.lastActivity;
    return this.policy.expiry.kind === 'inactivity' && last !== null && inactivityDeadline(last, this.policy.expiry.months, this.zone) <= s.now;
  }

  /** Spendable lots, in the order they are spent: soonest expiry first (never last), then oldest, then first made. */
  private spendable(s: State, m: number): Lot[] {
    return s.lots
      .filter((l) => l.member === m && !l.pending && l.remaining > 0n && (l.expiresAt === null || l.expiresAt > s.now))
      .sort(spendOrder);
  }

  private spend(s: State, m: number, amount: bigint, group: string): { lot: Lot; amount: bigint }[] {
    const lots = this.spendable(s, m);
    let total = 0n;
    for (const l of lots) total += l.remaining;
    let available = 0n;
    for (const l of s.lots) if (l.member === m && !l.pending) available += l.remaining;
    if (total < amount || available < amount) throw new Rejected('insufficient_points', `${amount} wanted`);
    const takes: { lot: Lot; amount: bigint }[] = [];
    let left = amount;
    for (const lot of lots) {
      if (left === 0n) break;
      const x = min(lot.remaining, left);
      lot.remaining -= x;
      left -= x;
      const g = (s.taken[group] ??= {});
      g[lot.id] = (g[lot.id] ?? 0n) + x;
      takes.push({ lot, amount: x });
    }
    return takes;
  }

  /** Returns points to the lots a consumption group took them from, the latest-expiring first. */
  private giveBack(s: State, group: string, m: number, amount: bigint): void {
    const g = s.taken[group] ?? {};
    const lots = s.lots.filter((l) => l.member === m && (g[l.id] ?? 0n) > 0n).sort((a, b) => spendOrder(b, a));
    let left = amount;
    for (const lot of lots) {
      if (left === 0n) break;
      const x = min(g[lot.id]!, left);
      lot.remaining += x;
      g[lot.id]! -= x;
      left -= x;
    }
    if (left !== 0n) throw new Error(`model: group ${group} cannot give back ${amount}`);
    this.gaveBack = true;
  }

  /** A claw-back: the entry's own lots first (pending or not), then other spendable lots, then active holds, then debt or write-off. */
  private takeBack(s: State, e: Entry, m: number, amount: bigint): void {
    let left = amount;
    const own = s.lots.filter((l) => e.lots.includes(l.id) && l.remaining > 0n).sort(spendOrder);
    const others = this.spendable(s, m).filter((l) => !e.lots.includes(l.id));
    for (const lot of [...own, ...others]) {
      if (left === 0n) break;
      const x = min(lot.remaining, left);
      lot.remaining -= x;
      left -= x;
    }
    // Points an active hold keeps aside are still the member's: the newest holds give them up
    // (the lots they took from stay as they are) before anything becomes a debt or is written off.
    for (const h of [...s.holds].reverse()) {
      if (left === 0n) break;
      if (h.member !== m || h.status !== 'active') continue;
      let x = min(h.amount, left);
      h.amount -= x;
      left -= x;
      if (h.amount === 0n) h.status = 'voided';
      const g = s.taken[h.group] ?? {};
      for (const lot of s.lots.filter((l) => (g[l.id] ?? 0n) > 0n).sort((a, b) => spendOrder(b, a))) {
        const y = min(g[lot.id]!, x);
        g[lot.id]! -= y;
        x -= y;
      }
    }
    if (left > 0n && this.policy.negativeBalance === 'debt') {
      s.lots.push({ id: ++s.seq, member: m, amount: -left, remaining: -left, pending: false, earnedAt: s.now, availableAt: s.now, expiresAt: null });
    }
  }

  private credit(s: State, m: number, kind: 'earn' | 'adjust', amount: bigint): string {
    const e = this.entry(s, kind, m, amount);
    e.credit = true;
    const availableAt = kind === 'earn' && this.policy.returnWindowDays > 0
      ? DateTime.fromMillis(s.now, { zone: this.zone }).plus({ days: this.policy.returnWindowDays }).toMillis()
      : s.now;
    e.lots.push(this.newLot(s, m, amount, s.now, availableAt, this.expiryOf(s.now)).id);
    return e.id;
  }

  private expiryOf(earnedAt: number): number | null {
    const x = this.policy.expiry;
    const local = DateTime.fromMillis(earnedAt, { zone: this.zone });
    if (x.kind === 'rolling') return inactivityDeadline(earnedAt, x.months, this.zone);
    if (x.kind === 'fixed_date') {
      // "expires on 31 December" means the points are gone when 1 January starts, in the tenant's zone
      return DateTime.fromObject({ year: local.year + x.yearsAfter, month: x.month, day: x.day }, { zone: this.zone })
        .endOf('day').plus({ milliseconds: 1 }).toMillis();
    }
    return null;
  }

  private newLot(s: State, m: number, amount: bigint, earnedAt: number, availableAt: number, expiresAt: number | null): Lot {
    const lot = { id: ++s.seq, member: m, amount, remaining: amount, pending: availableAt > s.now, earnedAt, availableAt, expiresAt };
    s.lots.push(lot);
    return lot;
  }

  private entry(s: State, kind: ModelEntryKind, member: number, amount: bigint): Entry {
    const e: Entry = { id: `e${++s.seq}`, kind, member, counterparty: null, amount, reversed: 0n, lots: [], group: null, credit: false };
    s.entries.push(e);
    return e;
  }

  private ref(s: State, id: string): ModelResult['entries'][number] {
    const e = s.entries.find((x) => x.id === id)!;
    return { id, kind: e.kind, amount: e.amount };
  }

  private touch(s: State, m: number): void { s.counters[m]!.lastActivity = s.now; }

  private findHold(s: State, id: string): Hold { return s.holds.find((h) => h.id === id)!; }
}

/**
 * `months` calendar months after `t`: when a wallet last active at `t` has been idle too long,
 * and when a lot earned at `t` expires under a rolling policy. A wall-clock time that occurs
 * twice (the hour repeated when DST ends) is its later, standard-time instant, as PostgreSQL
 * reads it; Laurel's rolling expiry agrees (core/program.ts monthsLater). Written here on its own,
 * a second way, so that the model does not just repeat the code it checks.
 */
export function inactivityDeadline(t: number, months: number, zone: string): number {
  const k = `${t}/${months}/${zone}`;
  let deadline = deadlines.get(k);
  if (deadline === undefined) {
    const at = DateTime.fromMillis(t, { zone }).plus({ months });
    // an hour later the clocks read the same: `at` is the first of a repeated hour
    const repeated = at.plus({ hours: 1 }).offset === at.offset - 60;
    deadline = at.toMillis() + (repeated ? 3_600_000 : 0);
    if (deadlines.size > 100_000) deadlines.clear();
    deadlines.set(k, deadline);
  }
  return deadline;
}
const deadlines = new Map<string, number>();

function balanceOf(s: State, m: number): ModelBalance {
  let available = 0n, pending = 0n, held = 0n;
  for (const l of s.lots) {
    if (l.member !== m) continue;
    if (l.pending) pending += l.remaining;
    else available += l.remaining;
  }
  for (const h of s.holds) if (h.member === m && h.status === 'active') held += h.amount;
  const c = s.counters[m]!;
  return {
    available, pending, held, lifetimeEarned: c.earned, lifetimeRedeemed: c.redeemed, expired: c.expired,
    lastActivityAt: c.lastActivity === null ? null : new Date(c.lastActivity),
  };
}

function spendOrder(a: Lot, b: Lot): number {
  const ea = a.expiresAt ?? Number.POSITIVE_INFINITY;
  const eb = b.expiresAt ?? Number.POSITIVE_INFINITY;
  if (ea !== eb) return ea < eb ? -1 : 1;
  return a.earnedAt - b.earnedAt || a.id - b.id;
}
