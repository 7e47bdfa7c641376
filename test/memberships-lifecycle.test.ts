// The membership state machine (core/memberships) under Stripe's webhooks as Stripe sends them:
// random subscription lifecycles become the events Stripe would send (checkout, subscription
// created/updated/deleted, invoices paid and failed), which are then delivered with duplicates
// and in any order. Whatever the order, the membership ends in the state the newest event implies,
// and its benefits are on exactly while it entitles them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allowed, DAY_MS, entitled, periodEndOf, STATUSES, transition, type Membership, type PlanTerms, type Status,
} from '../src/core/memberships/lifecycle.js';
import { readStripeEvent, stripeChange } from '../src/core/memberships/stripe.js';

const PLAN = { period: 'monthly' as const, trialDays: 14, graceDays: 3 };
const TERMS: PlanTerms = { period: PLAN.period, graceDays: PLAN.graceDays };
const START = Date.parse('2026-09-01T10:00:00Z') / 1000;
const SUB = 'sub_prop';

type Step = 'renew' | 'fail' | 'recover' | 'cancel_at_end' | 'resume' | 'end';
type Json = Record<string, unknown>;

/** A Stripe lifecycle: its events in the order Stripe created them, and the status each step leaves. */
function lifecycle(trial: boolean, steps: Step[]): { events: Json[]; status: Status } {
  const events: Json[] = [];
  let t = START;
  let n = 0;
  let periodStart = START;
  let status: Status = trial ? 'trialing' : 'active';
  const ev = (type: string, object: Json) => events.push({ id: `evt_${++n}`, object: 'event', type, created: t++, data: { object } });
  const meta = { laurel_member: 'm' };
  const sub = (s: string, extra: Json = {}) => ({
    id: SUB, object: 'subscription', status: s, customer: 'cus_1', metadata: meta, cancel_at_period_end: false,
    items: { data: [{ price: { id: 'price_1' }, current_period_start: periodStart, current_period_end: periodStart + 30 * 86_400 }] }, ...extra,
  });
  const invoice = (paid: number) => ({
    id: `in_${n}`, object: 'invoice', amount_paid: paid, currency: 'eur', customer: 'cus_1',
    parent: { subscription_details: { subscription: SUB, metadata: meta } },
    lines: { data: [{ period: { start: periodStart, end: periodStart + 30 * 86_400 }, pricing: { price_details: { price: 'price_1' } } }] },
  });
  ev('checkout.session.completed', { id: 'cs_1', object: 'checkout.session', mode: 'subscription', payment_status: trial ? 'no_payment_required' : 'paid', subscription: SUB, customer: 'cus_1', metadata: meta });
  ev('customer.subscription.created', sub(trial ? 'trialing' : 'active', trial ? { trial_end: START + 14 * 86_400 } : {}));
  ev('invoice.paid', invoice(trial ? 0 : 499));
  for (const step of steps) {
    if (status === 'expired') break;
    t += 86_400;
    switch (step) {
      case 'renew':
        if (status !== 'active' && status !== 'trialing') continue;
        periodStart = t;
        ev('invoice.paid', invoice(499));
        ev('customer.subscription.updated', sub('active'));
        status = 'active';
        break;
      case 'fail':
        if (status !== 'active' && status !== 'trialing') continue;
        ev('invoice.payment_failed', invoice(0));
        ev('customer.subscription.updated', sub('past_due'));
        status = 'past_due';
        break;
      case 'recover':
        if (status !== 'past_due') continue;
        ev('invoice.paid', invoice(499));
        ev('customer.subscription.updated', sub('active'));
        status = 'active';
        break;
      case 'cancel_at_end':
        if (status !== 'active') continue;
        ev('customer.subscription.updated', sub('active', { cancel_at_period_end: true }));
        status = 'cancelled';
        break;
      case 'resume':
        if (status !== 'cancelled') continue;
        ev('customer.subscription.updated', sub('active'));
        status = 'active';
        break;
      case 'end':
        ev('customer.subscription.deleted', sub('canceled', { ended_at: t }));
        status = 'expired';
        break;
    }
  }
  return { events, status };
}

/** What the service does with one verified event, without the database. */
function deliver(state: Membership | null, event: Json): Membership | null {
  const reading = readStripeEvent(event);
  const change = stripeChange(reading, state !== null, PLAN);
  if (change === null) return state;
  try {
    return transition(state, change, TERMS).next;
  } catch {
    return state; // refused: recorded as such, the state stays
  }
}

const STEPS = fc.array(fc.constantFrom<Step>('renew', 'fail', 'recover', 'cancel_at_end', 'resume', 'end'), { maxLength: 12 });

/** The delivery: every event at least once, some twice or three times, in any order. */
const delivery = (events: Json[]) => fc.tuple(
  fc.array(fc.nat({ max: Math.max(0, events.length - 1) }), { maxLength: events.length }),
  fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
).map(([again, random]) => {
  const sent = [...events, ...again.map((i) => events[i]!)];
  const it = random[Symbol.iterator]();
  return sent.map((e) => ({ e, k: it.next().value as number })).sort((a, b) => a.k - b.k).map((x) => x.e);
});

describe('membership lifecycle under Stripe events', () => {
  it('in order, a lifecycle ends in the status of its last step', () => {
    fc.assert(fc.property(fc.boolean(), STEPS, (trial, steps) => {
      const { events, status } = lifecycle(trial, steps);
      const final = events.reduce<Membership | null>(deliver, null);
      expect(final?.status).toBe(status);
    }), { numRuns: 300 });
  });

  it('duplicated and reordered, it ends in the same state as in order (the newest event decides)', () => {
    fc.assert(fc.property(fc.boolean(), STEPS, (trial, steps) => {
      const { events, status } = lifecycle(trial, steps);
      fc.assert(fc.property(delivery(events), (sent) => {
        const final = sent.reduce<Membership | null>(deliver, null);
        expect(final?.status).toBe(status);
        const inOrder = events.reduce<Membership | null>(deliver, null)!;
        expect(final!.periodEnd?.getTime()).toBe(inOrder.periodEnd?.getTime());
        expect(final!.cancelAtPeriodEnd).toBe(inOrder.cancelAtPeriodEnd);
      }), { numRuns: 10 });
    }), { numRuns: 100 });
  });

  it('an updated before its created, and a deleted before both, end right', () => {
    const { events } = lifecycle(false, ['renew']);
    const [checkout, created, firstInvoice, renewal, updated] = events as [Json, Json, Json, Json, Json];
    let m = [updated, created, checkout, firstInvoice, renewal].reduce<Membership | null>(deliver, null)!;
    expect(m.status).toBe('active');
    expect(m.periodStart!.getTime()).toBe((updated.created as number - 1) * 1000);
    const deleted = { id: 'evt_del', type: 'customer.subscription.deleted', created: (updated.created as number) + 100, data: { object: { id: SUB, status: 'canceled', metadata: {} } } };
    m = [deleted, ...events].reduce<Membership | null>(deliver, null)!;
    expect(m.status).toBe('expired');
  });

  it('benefits are on exactly while the membership entitles them', () => {
    fc.assert(fc.property(fc.boolean(), STEPS, fc.integer({ min: -5, max: 400 }), (trial, steps, probeDays) => {
      const { events } = lifecycle(trial, steps);
      const m = events.reduce<Membership | null>(deliver, null)!;
      const probe = new Date(START * 1000 + probeDays * DAY_MS);
      const grace = PLAN.graceDays * DAY_MS;
      const until = m.status === 'trialing' ? m.trialEndsAt!.getTime() + grace
        : m.status === 'active' ? m.periodEnd!.getTime() + grace
          : m.status === 'past_due' ? m.pastDueSince!.getTime() + grace
            : m.status === 'cancelled' ? m.periodEnd!.getTime() : -Infinity;
      expect(entitled(m, probe)).toBe(probe >= m.since && probe.getTime() < until);
    }), { numRuns: 300 });
  });

  it('refuses impossible transitions: nothing leaves expired, nothing returns to trialing', () => {
    for (const from of STATUSES) {
      for (const to of STATUSES) {
        expect(allowed(from, to), `${from} → ${to}`).toBe(from !== 'expired' && (to !== 'trialing' || from === 'trialing'));
      }
    }
    const at = new Date('2026-09-01T10:00:00Z');
    const { next } = transition(null, { kind: 'paid', at, periodStart: at, periodEnd: periodEndOf('monthly', at) }, TERMS);
    const expired = transition(next, { kind: 'expire', at: new Date(at.getTime() + 1000) }, TERMS).next!;
    expect(() => transition(expired, { kind: 'paid', at: new Date(at.getTime() + 2000), periodStart: at, periodEnd: null }, TERMS)).toThrow(/expired/);
    expect(() => transition(next, { kind: 'trial', at: new Date(at.getTime() + 2000), trialEndsAt: at }, TERMS)).toThrow(/active to trialing/);
    expect(() => transition(next, { kind: 'resume', at: new Date(at.getTime() + 2000) }, TERMS)).toThrow(/resumed/);
  });

  it('a month is a calendar month, clamped at its end', () => {
    expect(periodEndOf('monthly', new Date('2027-01-31T10:00:00Z'))!.toISOString()).toBe('2027-02-28T10:00:00.000Z');
    expect(periodEndOf('annual', new Date('2028-02-29T00:00:00Z'))!.toISOString()).toBe('2029-02-28T00:00:00.000Z');
    expect(periodEndOf('lifetime', new Date())).toBeNull();
  });
});
