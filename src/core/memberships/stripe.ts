// Stripe, as a payment provider of memberships. Two pure parts: the check of the
// `Stripe-Signature` header (Stripe's documented scheme: HMAC-SHA256 with the endpoint's secret
// over `${t}.${raw body}`, hex, in one or more `v1=` parts — several while a secret is rolled —
// and a timestamp within a tolerance), and the reading of an event into a lifecycle change.
// Payload shapes follow Stripe's API reference; both the older (subscription.current_period_*,
// invoice.subscription) and the 2025 (items' periods, invoice.parent.subscription_details) are read.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { invalid } from '../errors.js';
import { DAY_MS, periodEndOf, type Change, type Period, type Status } from './lifecycle.js';

export const STRIPE_TOLERANCE_SECONDS = 300;

export type SignatureResult = { ok: true } | { ok: false; reason: string };

/** Stripe's signature of `payload` at unix time `t`: what a `v1=` part holds. */
export function stripeSignature(secret: string, t: number, payload: string): string {
  return createHmac('sha256', secret).update(`${t}.${payload}`, 'utf8').digest('hex');
}

/** Checks a Stripe-Signature header against the raw body; any one v1 signature that matches passes. */
export function verifyStripeSignature(header: string | undefined, payload: string, secret: string, now: Date,
  toleranceSeconds = STRIPE_TOLERANCE_SECONDS): SignatureResult {
  if (!header) return { ok: false, reason: 'the Stripe-Signature header is missing' };
  let t: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const k = part.slice(0, at).trim();
    const v = part.slice(at + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) signatures.push(v);
  }
  if (t === null) return { ok: false, reason: 'the Stripe-Signature header has no timestamp' };
  if (signatures.length === 0) return { ok: false, reason: 'the Stripe-Signature header has no v1 signature' };
  if (Math.abs(now.getTime() / 1000 - t) > toleranceSeconds) return { ok: false, reason: 'the Stripe-Signature timestamp is outside the tolerance window' };
  const expected = Buffer.from(stripeSignature(secret, t, payload), 'hex');
  const match = signatures.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
  return match ? { ok: true } : { ok: false, reason: 'no v1 signature of the Stripe-Signature header matches the webhook secret' };
}

export const STRIPE_EVENT_TYPES = [
  'checkout.session.completed', 'customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
  'invoice.paid', 'invoice.payment_failed',
] as const;

/** Who the member is, as the brand put it on the checkout or the subscription. */
export interface StripeMemberRef {
  /** a Laurel member id (metadata.laurel_member_id or client_reference_id) */
  memberId: string | null;
  /** the member's externalId in the program (metadata.laurel_member) */
  externalId: string | null;
}

export interface StripeReading {
  eventId: string;
  type: string;
  created: Date;
  /** the subscription (or, for a one-off checkout, the checkout session): the membership's external id */
  externalId: string | null;
  customerId: string | null;
  member: StripeMemberRef;
  priceId: string | null;
  /** metadata.laurel_plan: a plan code */
  planCode: string | null;
  /**
   * The change to apply; `period: true` asks the caller to fill the period from the plan (a
   * checkout says that it was paid, not for which period). null: nothing for the lifecycle.
   */
  change: Change | null;
  /** only for a membership not known yet: a checkout starts one, never moves an existing one */
  onlyIfNew: boolean;
  /** a trial the plan's trialDays should fill */
  trialFromPlan: boolean;
  /** a paid period the plan should fill */
  periodFromPlan: boolean;
  fee: { amount: bigint; currency: string; periodStart: Date | null; periodEnd: Date | null; externalId: string } | null;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof obj(v)?.id === 'string' ? (obj(v)!.id as string) : null);
const secs = (v: unknown): Date | null => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? new Date(v * 1000) : null);
const first = (list: unknown): Obj | null => {
  const data = obj(list)?.data;
  return Array.isArray(data) ? obj(data[0]) : null;
};
const metadataOf = (...sources: unknown[]): Obj => Object.assign({}, ...sources.map((s) => obj(s) ?? {}).reverse());

function memberOf(metadata: Obj, clientReference: unknown = null): StripeMemberRef {
  return {
    memberId: str(metadata.laurel_member_id) ?? str(clientReference),
    externalId: str(metadata.laurel_member),
  };
}

/** What a Stripe subscription status means here; null: not yet a membership (incomplete, paused). */
export function statusOfSubscription(status: unknown, cancelAtPeriodEnd: boolean): Status | null {
  switch (status) {
    case 'trialing': return 'trialing';
    case 'active': return cancelAtPeriodEnd ? 'cancelled' : 'active';
    case 'past_due': case 'unpaid': return 'past_due';
    case 'canceled': case 'incomplete_expired': return 'expired';
    default: return null;
  }
}

/** Reads a verified Stripe event; refuses (400, naming the field) what is not an event. */
export function readStripeEvent(event: Obj): StripeReading {
  const eventId = str(event.id);
  if (eventId === null || !eventId.startsWith('evt_')) throw invalid('id', 'id must be a Stripe event id (evt_…)');
  if (typeof event.type !== 'string') throw invalid('type', 'type must be the Stripe event type');
  const created = secs(event.created);
  if (created === null) throw invalid('created', 'created must be the unix time of the event');
  const o = obj(obj(event.data)?.object);
  if (o === null) throw invalid('data.object', 'data.object must be the Stripe object of the event');
  const none: StripeReading = {
    eventId, type: event.type, created, externalId: null, customerId: str(o.customer), member: { memberId: null, externalId: null },
    priceId: null, planCode: null, change: null, onlyIfNew: false, trialFromPlan: false, periodFromPlan: false, fee: null,
  };
  switch (event.type) {
    case 'checkout.session.completed': {
      const metadata = metadataOf(o.metadata);
      const base = { ...none, member: memberOf(metadata, o.client_reference_id), planCode: str(metadata.laurel_plan), priceId: str(metadata.laurel_price) };
      if (o.mode === 'subscription') {
        const trial = o.payment_status === 'no_payment_required';
        return {
          ...base, externalId: str(o.subscription), onlyIfNew: true, trialFromPlan: trial, periodFromPlan: !trial,
          change: trial ? { kind: 'trial', at: created, trialEndsAt: created } : { kind: 'paid', at: created, periodStart: created, periodEnd: null },
        };
      }
      if (o.mode === 'payment' && o.payment_status === 'paid') {
        // A one-off payment (a lifetime membership): the session is the membership.
        const amount = typeof o.amount_total === 'number' && Number.isInteger(o.amount_total) ? BigInt(o.amount_total) : 0n;
        return {
          ...base, externalId: str(o.id), onlyIfNew: true, periodFromPlan: true,
          change: { kind: 'paid', at: created, periodStart: created, periodEnd: null },
          fee: amount > 0n && typeof o.currency === 'string' ? { amount, currency: o.currency.toUpperCase(), periodStart: created, periodEnd: null, externalId: str(o.id)! } : null,
        };
      }
      return base;
    }
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted': {
      const item = first(o.items);
      const price = obj(item?.price) ?? obj(o.plan);
      const metadata = metadataOf(o.metadata);
      const cancelAtPeriodEnd = o.cancel_at_period_end === true || (o.cancel_at !== null && o.cancel_at !== undefined && o.status === 'active');
      const status = event.type === 'customer.subscription.deleted' ? 'expired' : statusOfSubscription(o.status, cancelAtPeriodEnd);
      const periodStart = secs(o.current_period_start) ?? secs(item?.current_period_start);
      const periodEnd = secs(o.current_period_end) ?? secs(item?.current_period_end);
      return {
        ...none, externalId: str(o.id), member: memberOf(metadata), planCode: str(metadata.laurel_plan), priceId: str(price?.id),
        change: status === null ? null : {
          kind: 'state', at: created, status, periodStart, periodEnd, trialEndsAt: secs(o.trial_end), cancelAtPeriodEnd: status === 'cancelled',
        },
      };
    }
    case 'invoice.paid':
    case 'invoice.payment_failed': {
      const details = obj(obj(o.parent)?.subscription_details) ?? obj(o.subscription_details);
      const line = first(o.lines);
      const period = obj(line?.period);
      const price = obj(line?.price) ?? obj(obj(line?.pricing)?.price_details);
      const metadata = metadataOf(details?.metadata, o.metadata);
      const base = {
        ...none, externalId: str(details?.subscription) ?? str(o.subscription), member: memberOf(metadata),
        planCode: str(metadata.laurel_plan), priceId: str(price?.id) ?? str(price?.price),
      };
      if (event.type === 'invoice.payment_failed') return { ...base, change: { kind: 'failed', at: created } };
      const amount = typeof o.amount_paid === 'number' && Number.isInteger(o.amount_paid) ? BigInt(o.amount_paid) : 0n;
      // A 0 invoice opens a trial: it pays for nothing, the subscription's own events say trialing.
      if (amount === 0n) return base;
      const start = secs(period?.start) ?? secs(o.period_start) ?? created;
      const end = secs(period?.end) ?? secs(o.period_end);
      return {
        ...base, change: { kind: 'paid', at: created, periodStart: start, periodEnd: end }, periodFromPlan: end === null,
        fee: typeof o.currency === 'string' && str(o.id) ? { amount, currency: o.currency.toUpperCase(), periodStart: start, periodEnd: end, externalId: str(o.id)! } : null,
      };
    }
    default:
      return none;
  }
}

/**
 * The change a reading makes to a membership given its plan, or null when it makes none: a
 * checkout only ever starts a membership (an existing one has newer news from the subscription),
 * and a checkout's trial or period comes from the plan.
 */
export function stripeChange(reading: StripeReading, exists: boolean, plan: { period: Period; trialDays: number }): Change | null {
  const change = reading.change;
  if (change === null || reading.externalId === null || (exists && reading.onlyIfNew)) return null;
  if (reading.trialFromPlan && change.kind === 'trial') return { ...change, trialEndsAt: new Date(change.at.getTime() + plan.trialDays * DAY_MS) };
  if (reading.periodFromPlan && change.kind === 'paid') return { ...change, periodEnd: periodEndOf(plan.period, change.periodStart) };
  return change;
}
