// Accounting over random histories (SPEC §10), on the real ledger and events: any sequence of
// earning purchases, redemptions, returns, expiries and estimate changes leaves every monthly
// roll-forward tying (opening + lines = closing, points and money, each month's closing the next
// one's opening, the points outstanding equal to the members' balances), never recognises more
// than was allocated, and leaves exactly no liability once every point is redeemed or expired.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { runJobNow } from '../src/jobs/runner.js';
import { deferMembershipFee, putAccountingSettings, refundMembershipFee, setRate } from '../src/services/accounting.js';
import { accountingReport, presentReport } from '../src/services/accounting-reports.js';
import { ingestEvent } from '../src/services/events.js';
import { getBalance, redeem } from '../src/services/ledger.js';
import { createRule } from '../src/services/rules.js';
import { monthOf } from '../src/core/accounting/periods.js';
import { runOptions, SCALE } from './support/ledger-commands.js';
import { expectVerified, newMember, newProgram, onPostgres, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2026-01-15T10:00:00Z'); });
afterAll(async () => { await laurel.close(); });

type Step =
  | { kind: 'buy'; member: number; unitPrice: number; quantity: number }
  | { kind: 'redeem'; member: number; pct: number }
  | { kind: 'return'; order: number }
  | { kind: 'wait'; days: number }
  | { kind: 'rate'; bps: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('buy' as const), member: fc.nat(2), unitPrice: fc.integer({ min: 1, max: 40_000 }), quantity: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('redeem' as const), member: fc.nat(2), pct: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('return' as const), order: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), days: fc.integer({ min: 1, max: 75 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rate' as const), bps: fc.integer({ min: 1, max: 10_000 }) }) },
);

const RUNS = onPostgres ? 30 : 12;

describe('accounting over random histories', () => {
  it('roll-forwards tie every month, recognised ≤ allocated, and the liability is 0 once every point is redeemed or expired', { timeout: 600_000 * SCALE }, async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 * SCALE }), async (steps) => {
      laurel.clock.set('2026-01-15T10:00:00Z');
      // Points expire 3 months after they are earned; a claw-back beyond the balance is written off (no debt stays outstanding).
      const program = await newProgram(laurel, { expiry: { kind: 'rolling', months: 3 }, negativeBalance: 'write_off' });
      const t = program.tenantId;
      await createRule(laurel, t, program.programId, { name: '1 per 10', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 10 } }, { actor: 'test' });
      await putAccountingSettings(laurel, t, program.programId, { pointValue: { points: 3, minor: 2 }, expectedRedemptionRate: '0.8' }, 'test');
      const members = [await newMember(laurel, program), await newMember(laurel, program), await newMember(laurel, program)];
      const orders: { externalId: string; left: number }[] = [];
      let serial = 0;
      for (const s of steps) {
        if (s.kind === 'buy') {
          const externalId = `o-${++serial}`;
          await ingestEvent(laurel, t, { programId: program.programId, memberId: members[s.member]!, type: 'purchase', externalId, lines: [{ sku: 'A', quantity: s.quantity, unitPrice: s.unitPrice }] });
          orders.push({ externalId, left: s.quantity });
        } else if (s.kind === 'redeem') {
          const available = (await getBalance(laurel, t, members[s.member]!)).available;
          const amount = (available * BigInt(s.pct)) / 100n;
          if (amount > 0n) await redeem(laurel, { tenantId: t, memberId: members[s.member]!, amount, idempotencyKey: `r-${++serial}`, actor: 'test' });
        } else if (s.kind === 'return') {
          const order = orders.filter((o) => o.left > 0)[s.order % Math.max(1, orders.length)];
          if (!order) continue;
          order.left--;
          await ingestEvent(laurel, t, { programId: program.programId, type: 'return', externalId: `ret-${++serial}`, purchaseExternalId: order.externalId, lines: [{ sku: 'A', quantity: 1 }] });
        } else if (s.kind === 'wait') {
          laurel.clock.advance(s.days * DAY_MS);
          await runJobNow(laurel, 'settle');
        } else {
          const next = monthOf(new Date(monthOf(laurel.clock.now(), 'Europe/Paris').end.getTime() + DAY_MS), 'Europe/Paris').label;
          await setRate(laurel, t, program.programId, next, { expectedRedemptionRate: (s.bps / 10_000).toFixed(4) }, 'test');
        }
      }
      const checkMonths = async (expectEmpty: boolean) => {
        const months: string[] = [];
        for (let m = monthOf(new Date('2026-01-15T10:00:00Z'), 'Europe/Paris'); m.start <= laurel.clock.now(); m = monthOf(m.end, 'Europe/Paris')) months.push(m.label);
        let previous: ReturnType<typeof presentReport> | null = null;
        for (const label of months) {
          const r = presentReport(await accountingReport(laurel, t, program.programId, label));
          const l = r.liability;
          const p = r.points;
          expect(l.opening + l.issued + l.returned + l.redeemed + l.breakage + l.expired + l.estimateChange, label).toBe(l.closing);
          expect(p.opening + p.issued + p.returned + p.redeemed + p.expired + p.adjusted, label).toBe(p.closing);
          if (previous) expect([l.opening, p.opening], label).toEqual([previous.liability.closing, previous.points.closing]);
          expect(r.toDate.recognised).toBeGreaterThanOrEqual(0);
          expect(r.toDate.recognised).toBeLessThanOrEqual(r.toDate.allocated);
          expect(l.closing).toBe(r.toDate.liability);
          if (p.closing === 0) expect(l.closing, label).toBe(0);
          previous = r;
        }
        let outstanding = 0n;
        for (const m of members) {
          const b = await getBalance(laurel, t, m);
          outstanding += b.available + b.pending + b.held;
        }
        expect(BigInt(previous!.points.closing)).toBe(outstanding);
        if (expectEmpty) expect([previous!.points.closing, previous!.liability.closing]).toEqual([0, 0]);
      };
      await checkMonths(false);
      // Every point left expires: nothing is outstanding, so nothing is owed.
      laurel.clock.advance(120 * DAY_MS);
      await runJobNow(laurel, 'settle');
      await checkMonths(true);
      await expectVerified(laurel, t);
    }), runOptions(RUNS));
  });

  it('membership fees and their refunds: every month ties, and once every service period is over nothing is deferred and revenue is what was kept', { timeout: 600_000 * SCALE }, async () => {
    const fee = fc.record({
      amount: fc.integer({ min: 1, max: 100_000 }), startDay: fc.integer({ min: 0, max: 60 }), days: fc.integer({ min: 1, max: 400 }),
      refunds: fc.array(fc.record({ pct: fc.integer({ min: 1, max: 100 }), day: fc.integer({ min: -30, max: 420 }) }), { maxLength: 2 }),
    });
    await fc.assert(fc.asyncProperty(fc.array(fee, { minLength: 1, maxLength: 4 }), async (fees) => {
      laurel.clock.set('2026-01-15T10:00:00Z');
      const program = await newProgram(laurel);
      const t = program.tenantId;
      await putAccountingSettings(laurel, t, program.programId, { pointValue: { points: 1, minor: 1 }, expectedRedemptionRate: '0.8' }, 'test');
      // every payment and refund in time order, each posted when it happens
      const BASE = Date.parse('2026-01-15T10:00:00Z');
      type Write = { at: number; run: (now: Date) => Promise<unknown> };
      const writes: Write[] = [];
      let kept = 0n;
      fees.forEach((f, i) => {
        const start = BASE + f.startDay * DAY_MS;
        const feeRef = `pay-${i}`;
        writes.push({ at: start, run: (now) => laurel.db.transaction().execute((trx) => deferMembershipFee(trx, t, {
          programId: program.programId, feeRef, memberId: null, amount: BigInt(f.amount), serviceStart: new Date(start), serviceEnd: new Date(start + f.days * DAY_MS),
        }, now)) });
        let refunded = 0n;
        f.refunds.forEach((r, k) => {
          const amount = (BigInt(f.amount) * BigInt(r.pct)) / 100n;
          if (amount === 0n || refunded + amount > BigInt(f.amount)) return;
          refunded += amount;
          writes.push({ at: Math.max(start + 1, start + r.day * DAY_MS), run: (now) => laurel.db.transaction().execute((trx) => refundMembershipFee(trx, t, {
            programId: program.programId, refundRef: `refund-${i}-${k}`, refundedFeeRef: feeRef, memberId: null, amount, at: now,
          }, now)) });
        });
        kept += BigInt(f.amount) - refunded;
      });
      writes.sort((a, b) => a.at - b.at);
      for (const w of writes) {
        laurel.clock.set(new Date(w.at));
        await w.run(laurel.clock.now());
      }
      laurel.clock.set(new Date(BASE + 500 * DAY_MS));
      let opening = 0;
      let revenue = 0;
      for (let m = monthOf(new Date(BASE), 'Europe/Paris'); m.start <= laurel.clock.now(); m = monthOf(m.end, 'Europe/Paris')) {
        const d = presentReport(await accountingReport(laurel, t, program.programId, m.label)).deferredFees;
        expect(d.opening, m.label).toBe(opening);
        expect(d.opening + d.received + d.refunded + d.recognised, m.label).toBe(d.closing);
        opening = d.closing;
        revenue -= d.recognised;
      }
      expect(opening).toBe(0);
      expect(BigInt(revenue)).toBe(kept);
    }), runOptions(RUNS));
  });
});
