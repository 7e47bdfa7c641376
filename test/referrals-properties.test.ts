// Referral property: whatever the order of referees' purchases, returns, fraud signals (a device
// the referrer used), a referrer suspended and reinstated, time passing and the referrals job,
// every referral ends in exactly one final state with the dates that state implies, each side is
// paid at most once (and a reversed one is taken back in full), and the ledger verifies.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/core/clock.js';
import { loadEntry } from '../src/db/ledger.js';
import { settleDue } from '../src/db/settlement.js';
import { ingestEvent } from '../src/services/events.js';
import { createMember, setMemberStatus } from '../src/services/members.js';
import { memberReferral, putReferralSettings, settleReferrals } from '../src/services/referrals.js';
import { expectVerified, newProgram, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2026-05-04T09:00:00Z'); });
afterAll(async () => { await laurel.close(); });

const REFEREES = 3;
type Step =
  | { kind: 'purchase'; who: number; total: number; device: 'none' | 'referrer' | 'own' }
  | { kind: 'return'; who: number; nth: number; full: boolean }
  | { kind: 'wait'; days: number }
  | { kind: 'suspend'; on: boolean }
  | { kind: 'job' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('purchase' as const), who: fc.nat(REFEREES - 1), total: fc.constantFrom(1000, 6000), device: fc.constantFrom('none' as const, 'referrer' as const, 'own' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('return' as const), who: fc.nat(REFEREES - 1), nth: fc.nat(3), full: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), days: fc.constantFrom(1, 6, 16) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('suspend' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'job' as const }) },
);

let serial = 0;

describe('referrals under any interleaving', () => {
  it('end in exactly one final state, pay each side at most once, and keep the ledger sound', async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), fc.integer({ min: 1, max: 3 }), async (steps, cap) => {
      const p = await newProgram(laurel, { returnWindowDays: 14 });
      await putReferralSettings(laurel, p.tenantId, p.programId, {
        enabled: true, linkBaseUrl: 'https://shop.example/join', condition: 'event.type == "purchase" && order.total >= 5000', withinDays: 10,
        referrer: { points: 300 }, referee: { points: 200 }, caps: { lifetime: cap },
      }, { actor: 'property' });
      const referrer = await createMember(laurel, p.tenantId, { programId: p.programId, externalId: `r-${++serial}` });
      const code = (await memberReferral(laurel, p.tenantId, referrer.memberId)).code!;
      await ingestEvent(laurel, p.tenantId, {
        programId: p.programId, memberId: referrer.memberId, type: 'purchase', externalId: `rp-${serial}`, lines: [{ sku: 'X', quantity: 1, unitPrice: 100 }],
        attributes: { deviceId: 'referrer-phone' },
      });
      const referees: string[] = [];
      for (let i = 0; i < REFEREES; i++) {
        referees.push((await createMember(laurel, p.tenantId, { programId: p.programId, externalId: `f-${serial}-${i}`, referralCode: code })).memberId);
      }
      const orders: string[][] = referees.map(() => []);
      let n = 0;
      const settle = async () => {
        await settleReferrals(laurel, laurel.clock.now());
        await settleDue(laurel.db, laurel.clock.now(), 1000);
      };
      for (const s of steps) {
        if (s.kind === 'purchase') {
          const externalId = `o-${serial}-${++n}`;
          await ingestEvent(laurel, p.tenantId, {
            programId: p.programId, memberId: referees[s.who]!, type: 'purchase', externalId, lines: [{ sku: 'X', quantity: 1, unitPrice: s.total }],
            attributes: s.device === 'none' ? {} : { deviceId: s.device === 'referrer' ? 'referrer-phone' : `own-${s.who}` },
          });
          orders[s.who]!.push(externalId);
        } else if (s.kind === 'return') {
          const order = orders[s.who]![s.nth];
          if (order === undefined) continue;
          await ingestEvent(laurel, p.tenantId, {
            programId: p.programId, type: 'return', externalId: `ret-${serial}-${++n}`, purchaseExternalId: order, ...(s.full ? { lines: [{ sku: 'X', quantity: 1 }] } : { refundAmount: 1 }),
          }).catch((e: unknown) => {
            // A second full return of one order is refused: nothing is left to return.
            if (!(e instanceof Error && 'code' in e)) throw e;
          });
        } else if (s.kind === 'wait') {
          laurel.clock.advance(s.days * DAY_MS);
        } else if (s.kind === 'suspend') {
          await setMemberStatus(laurel, p.tenantId, referrer.memberId, s.on ? 'suspended' : 'active');
        } else {
          await settle();
        }
      }
      // Long enough for every window and every hold to end.
      laurel.clock.advance(40 * DAY_MS);
      await settle();
      const referrals = await laurel.db.selectFrom('referrals').selectAll().where('tenant_id', '=', p.tenantId).execute();
      expect(referrals).toHaveLength(REFEREES);
      let paidReferrals = 0;
      for (const r of referrals) {
        expect(['rewarded', 'rejected', 'reversed']).toContain(r.state);
        expect(r.state === 'rejected').toBe(r.reason !== null);
        expect(r.rewarded_at !== null).toBe(r.state === 'rewarded');
        expect(r.reversed_at !== null).toBe(r.state === 'reversed');
        const rows = await laurel.db.selectFrom('journal_entries').select(['entry_id', 'member_id', 'amount'])
          .where('tenant_id', '=', p.tenantId).where('kind', '=', 'earn').where('ref', '=', `referral:${r.referral_id}`).execute();
        const earns = await Promise.all(rows.map(async (e) => ({
          member_id: e.member_id, amount: e.amount, reversed: (await laurel.db.transaction().execute((trx) => loadEntry(trx, p.tenantId, e.entry_id)))!.reversed,
        })));
        const byMember = (m: string) => earns.filter((e) => e.member_id === m);
        expect(byMember(r.referrer_id).length).toBeLessThanOrEqual(1);
        expect(byMember(r.referee_id).length).toBeLessThanOrEqual(1);
        if (r.state === 'rejected') expect(earns).toHaveLength(0);
        if (r.state === 'rewarded') {
          paidReferrals++;
          expect(byMember(r.referrer_id)).toEqual([{ member_id: r.referrer_id, amount: 300n, reversed: 0n }]);
          expect(byMember(r.referee_id)).toEqual([{ member_id: r.referee_id, amount: 200n, reversed: 0n }]);
        }
        if (r.state === 'reversed') for (const e of earns) expect(e.reversed).toBe(e.amount);
      }
      expect(paidReferrals).toBeLessThanOrEqual(cap);
      await expectVerified(laurel, p.tenantId);
    }), { numRuns: 12 });
  }, 600_000);
});
