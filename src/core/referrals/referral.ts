// A referral's life: pending (the referee joined with a code) → qualified (their event met the
// condition in time; both sides paid, points pending) → rewarded (the hold ended), or rejected
// with a stated reason, or reversed (the qualifying order came back during the hold). Rewarded,
// rejected and reversed are final: nothing moves a referral out of them.
import { DateTime } from 'luxon';
import type { CapPeriod, ReferralSettings } from './settings.js';

export type ReferralState = 'pending' | 'qualified' | 'rewarded' | 'rejected' | 'reversed';
export const REFERRAL_STATES: readonly ReferralState[] = ['pending', 'qualified', 'rewarded', 'rejected', 'reversed'];
export const FINAL_STATES: readonly ReferralState[] = ['rewarded', 'rejected', 'reversed'];

export type RejectionReason =
  | 'self_referral'
  | 'already_member'
  | 'referrer_cap_reached'
  | 'referrer_suspended'
  | 'window_passed';
export const REJECTION_REASONS: readonly RejectionReason[] = [
  'self_referral', 'already_member', 'referrer_cap_reached', 'referrer_suspended', 'window_passed',
];

export interface QualificationInput {
  settings: ReferralSettings;
  now: Date;
  occurredAt: Date;
  expiresAt: Date | null;
  referrerStatus: 'active' | 'suspended' | 'erased';
  /** what self-referral check matched, if one did */
  sameAs: string | null;
  conditionMet: boolean;
  /** referrals of this referrer paid (qualified or rewarded) in the current cap period, and ever */
  paidInPeriod: number;
  paidEver: number;
}

export type Qualification =
  | { kind: 'wait' }
  | { kind: 'reject'; reason: RejectionReason; detail: string }
  | { kind: 'qualify' };

/**
 * What a pending referral becomes on one event of its referee. Fraud first (a self-referral is
 * refused whatever the event), then the window, then the condition, then the referrer's state and caps.
 */
export function decideQualification(i: QualificationInput): Qualification {
  if (i.sameAs !== null) return { kind: 'reject', reason: 'self_referral', detail: `referrer and referee share a ${i.sameAs}` };
  if (!i.settings.enabled) return { kind: 'wait' };
  if (i.expiresAt !== null && i.occurredAt >= i.expiresAt) {
    return { kind: 'reject', reason: 'window_passed', detail: `no qualifying event before ${i.expiresAt.toISOString()}` };
  }
  if (!i.conditionMet) return { kind: 'wait' };
  if (i.referrerStatus !== 'active') return { kind: 'reject', reason: 'referrer_suspended', detail: `the referrer is ${i.referrerStatus}` };
  const { perPeriod, lifetime } = i.settings.caps;
  if (lifetime !== null && i.paidEver >= lifetime) {
    return { kind: 'reject', reason: 'referrer_cap_reached', detail: `the referrer was paid for ${i.paidEver} referrals, the lifetime cap` };
  }
  if (perPeriod !== null && i.paidInPeriod >= perPeriod.count) {
    return { kind: 'reject', reason: 'referrer_cap_reached', detail: `the referrer was paid for ${i.paidInPeriod} referrals this ${perPeriod.period}, the cap` };
  }
  return { kind: 'qualify' };
}

/** The start of the cap period `at` falls in, in the tenant's zone (weeks start on Monday). */
export function periodStart(at: Date, period: CapPeriod, zone: string): Date {
  return DateTime.fromJSDate(at, { zone }).startOf(period === 'week' ? 'week' : period).toJSDate();
}

/** The end of the qualifying window: N days after joining; null when the program sets none. */
export const windowEnd = (joinedAt: Date, withinDays: number | null): Date | null =>
  withinDays === null ? null : new Date(joinedAt.getTime() + withinDays * 86_400_000);
