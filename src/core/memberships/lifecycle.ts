// A paid membership's lifecycle as a pure state machine: payments and the provider's view of the
// subscription are changes; `transition` decides the next state, refuses what cannot happen
// (nothing leaves `expired`; nothing goes back to `trialing`) and ignores a provider's state older
// than the newest one applied, so a webhook sent twice or out of order ends where the newest says.
// When the benefits stop is decided here too (`expiresAt`), so a set-based job can expire them.
import { DomainError } from '../errors.js';

export const STATUSES = ['trialing', 'active', 'past_due', 'cancelled', 'expired'] as const;
export type Status = (typeof STATUSES)[number];
export const PERIODS = ['monthly', 'annual', 'lifetime'] as const;
export type Period = (typeof PERIODS)[number];

export const DAY_MS = 86_400_000;

export interface Membership {
  status: Status;
  /** when it started: `member.membership.since` */
  since: Date;
  periodStart: Date | null;
  /** null: no end (a lifetime plan) */
  periodEnd: Date | null;
  trialEndsAt: Date | null;
  pastDueSince: Date | null;
  cancelAtPeriodEnd: boolean;
  /** when the benefits stop; null: never (a lifetime membership, or active with no period end) */
  expiresAt: Date | null;
  /** the time of the newest change applied: an older one arriving late is stale */
  changedAt: Date;
}

export type Change =
  | { kind: 'trial'; at: Date; trialEndsAt: Date }
  /** a payment for [periodStart, periodEnd); periodEnd null: for life */
  | { kind: 'paid'; at: Date; periodStart: Date; periodEnd: Date | null }
  | { kind: 'failed'; at: Date }
  /** money given back: the benefits stop at once */
  | { kind: 'refunded'; at: Date }
  | { kind: 'cancel'; at: Date; atPeriodEnd: boolean }
  /** a cancellation at period end withdrawn before the end */
  | { kind: 'resume'; at: Date }
  | { kind: 'expire'; at: Date }
  /** the provider's whole view of the subscription (a Stripe subscription object) */
  | {
    kind: 'state'; at: Date; status: Status; periodStart: Date | null; periodEnd: Date | null;
    trialEndsAt: Date | null; cancelAtPeriodEnd: boolean;
  };

/** What a transition means to the outside: the outbox message it sends (membership.<event>). */
export type LifecycleEvent = 'started' | 'renewed' | 'past_due' | 'cancelled' | 'expired';

export interface Decision {
  /** false: stale or changes nothing; nothing is written */
  changed: boolean;
  next: Membership | null;
  from: Status | null;
  to: Status | null;
  event: LifecycleEvent | null;
}

export interface PlanTerms {
  period: Period;
  /** days a past_due (or an active past its period, or a trial past its end) keeps its benefits */
  graceDays: number;
}

/** Which statuses may follow which: expired is final, and trialing only ever comes first. */
export function allowed(from: Status | null, to: Status): boolean {
  if (from === null) return true;
  if (from === 'expired') return false;
  if (to === 'trialing') return from === 'trialing';
  return true;
}

/** The end of a paid period that starts at `start`; null for lifetime. */
export function periodEndOf(period: Period, start: Date): Date | null {
  if (period === 'lifetime') return null;
  const end = new Date(start.getTime());
  // Month ends clamp (31 January + 1 month = 28/29 February), as payment providers bill.
  const months = period === 'monthly' ? 1 : 12;
  const day = end.getUTCDate();
  end.setUTCDate(1);
  end.setUTCMonth(end.getUTCMonth() + months);
  const last = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() + 1, 0)).getUTCDate();
  end.setUTCDate(Math.min(day, last));
  return end;
}

const plus = (d: Date | null, days: number): Date | null => (d === null ? null : new Date(d.getTime() + days * DAY_MS));

/** When the benefits of this state stop. */
export function expiresAtOf(m: Omit<Membership, 'expiresAt'>, terms: PlanTerms, at: Date): Date | null {
  switch (m.status) {
    case 'trialing': return plus(m.trialEndsAt ?? at, terms.graceDays);
    case 'active': return plus(m.periodEnd, terms.graceDays);
    case 'past_due': return plus(m.pastDueSince ?? at, terms.graceDays);
    case 'cancelled': return m.cancelAtPeriodEnd && m.periodEnd !== null && m.periodEnd > at ? m.periodEnd : at;
    case 'expired': return at;
  }
}

/** Whether the membership gives its benefits at `at`. */
export function entitled(m: Membership, at: Date): boolean {
  return m.status !== 'expired' && at >= m.since && (m.expiresAt === null || at < m.expiresAt);
}

const conflict = (message: string) => new DomainError('conflict', message, 'type');

function targetOf(current: Membership | null, change: Change): Omit<Membership, 'expiresAt' | 'changedAt' | 'since'> | null {
  const base = current ?? {
    status: 'active' as Status, periodStart: null, periodEnd: null, trialEndsAt: null, pastDueSince: null, cancelAtPeriodEnd: false,
  };
  switch (change.kind) {
    case 'trial':
      return { ...base, status: 'trialing', trialEndsAt: change.trialEndsAt, cancelAtPeriodEnd: false, pastDueSince: null };
    case 'paid':
      return { ...base, status: 'active', periodStart: change.periodStart, periodEnd: change.periodEnd, pastDueSince: null, cancelAtPeriodEnd: false };
    case 'failed':
      return { ...base, status: 'past_due', pastDueSince: base.status === 'past_due' ? base.pastDueSince ?? change.at : change.at };
    case 'refunded':
      return { ...base, status: 'cancelled', cancelAtPeriodEnd: false };
    case 'cancel':
      return { ...base, status: 'cancelled', cancelAtPeriodEnd: change.atPeriodEnd && base.periodEnd !== null };
    case 'resume':
      if (current === null || current.status !== 'cancelled' || !current.cancelAtPeriodEnd) throw conflict('only a membership cancelled at period end can be resumed');
      return { ...base, status: 'active', cancelAtPeriodEnd: false };
    case 'expire':
      return { ...base, status: 'expired' };
    case 'state':
      return {
        status: change.status, periodStart: change.periodStart ?? base.periodStart, periodEnd: change.periodEnd ?? base.periodEnd,
        trialEndsAt: change.trialEndsAt ?? base.trialEndsAt, cancelAtPeriodEnd: change.cancelAtPeriodEnd,
        pastDueSince: change.status === 'past_due' ? (base.status === 'past_due' ? base.pastDueSince : change.at) : null,
      };
  }
}

function eventOf(from: Status | null, to: Status, before: Membership | null, after: Omit<Membership, 'expiresAt'>): LifecycleEvent | null {
  if (to === 'expired') return from === 'expired' ? null : 'expired';
  if (from === null) return 'started';
  if (to === 'past_due') return from === 'past_due' ? null : 'past_due';
  if (to === 'cancelled') return from === 'cancelled' ? null : 'cancelled';
  if (to === 'active') {
    if (from !== 'active') return 'renewed';
    return before?.periodEnd?.getTime() !== after.periodEnd?.getTime() ? 'renewed' : null;
  }
  return null;
}

const same = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

/**
 * The next state after `change`. Provider changes older than the newest applied are stale (no
 * change); a change the lifecycle forbids is refused (DomainError conflict).
 */
export function transition(current: Membership | null, change: Change, terms: PlanTerms): Decision {
  const unchanged: Decision = { changed: false, next: current, from: current?.status ?? null, to: current?.status ?? null, event: null };
  if (current !== null && change.at < current.changedAt) return unchanged;
  if (current?.status === 'expired' && (change.kind === 'expire' || (change.kind === 'state' && change.status === 'expired'))) return unchanged;
  const target = targetOf(current, change);
  if (target === null) return unchanged;
  const from = current?.status ?? null;
  if (!allowed(from, target.status)) {
    throw conflict(from === 'expired'
      ? 'this membership has expired: a new payment starts a new membership'
      : `a membership cannot go from ${from} to ${target.status}`);
  }
  const since = current?.since ?? (target.status === 'expired' ? change.at : change.kind === 'paid' ? change.periodStart : change.at);
  const withoutExpiry = { ...target, since, changedAt: change.at };
  const expiresAt = expiresAtOf(withoutExpiry, terms, change.at);
  const next: Membership = { ...withoutExpiry, expiresAt };
  if (current !== null && current.status === next.status && same(current.periodEnd, next.periodEnd) && same(current.trialEndsAt, next.trialEndsAt)
    && current.cancelAtPeriodEnd === next.cancelAtPeriodEnd && same(current.expiresAt, next.expiresAt)) {
    // Nothing a reader sees moves; remember only that this provider state was seen.
    return { changed: false, next: { ...current, changedAt: change.at }, from, to: from, event: null };
  }
  return { changed: true, next, from, to: next.status, event: eventOf(from, next.status, current, withoutExpiry) };
}

/** What rules read as `member.membership`; empty text when the member has no membership. */
export interface MembershipFacts {
  plan: string;
  status: string;
  /** ISO date-time it started; "" when none */
  since: string;
  /** whether its benefits apply at the event's time */
  active: boolean;
  /** the plan's earn multiplier ("2"); "" when none or not entitled */
  multiplier: string;
  /** the plan's percent back ("10"); "" when none or not entitled */
  percentBack: string;
  flags: string[];
}

export const NO_MEMBERSHIP: MembershipFacts = { plan: '', status: '', since: '', active: false, multiplier: '', percentBack: '', flags: [] };

/** How a plan's tier acts while the membership entitles: at least it (floor), or exactly it (override). */
export const TIER_MODES = ['floor', 'override'] as const;
export type TierMode = (typeof TIER_MODES)[number];

export interface IncludedReward {
  rewardId: string;
  /** instances issued each paid period */
  quantity: number;
}

export interface Benefits {
  earnMultiplier: string | null;
  percentBack: string | null;
  tier: string | null;
  tierMode: TierMode;
  flags: string[];
  /** catalog rewards issued, free, with each paid period */
  includedRewards: IncludedReward[];
}

export function membershipFacts(m: Membership | null, plan: { code: string; benefits: Benefits } | null, at: Date): MembershipFacts {
  if (m === null || plan === null) return NO_MEMBERSHIP;
  const on = entitled(m, at);
  return {
    plan: plan.code, status: m.status, since: m.since.toISOString(), active: on,
    multiplier: on ? plan.benefits.earnMultiplier ?? '' : '', percentBack: on ? plan.benefits.percentBack ?? '' : '',
    flags: on ? plan.benefits.flags : [],
  };
}
