// Referrals (SPEC §7): settings, codes, attribution, qualification inside the referee's event,
// the hold (the ledger's pending points, until the qualifying order's return window passes),
// reversal on a return during the hold, fraud refusals, the list and the funnel.
// Lock order: the referee's points wallet (the event's first lock) → the referral row → the
// referrer's points wallet → budget rows (earning) → reward rows. A referrer joined before their
// referee, so chains of referrals lock members in joining order and never wait on each other in a circle.
import { DomainError, invalid, notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { availableAt } from '../core/program.js';
import { newCode, normaliseCode } from '../core/rewards/codes.js';
import { USED_ON_ISSUE } from '../core/rewards/reward.js';
import { samePerson, signalsOf } from '../core/referrals/fraud.js';
import {
  decideQualification, periodStart, REFERRAL_STATES, REJECTION_REASONS, windowEnd, type ReferralState, type RejectionReason,
} from '../core/referrals/referral.js';
import { DEFAULT_CONDITION, referralLink, settingsFromJson, settingsToJson, validateReferralSettings, type ReferralSettings } from '../core/referrals/settings.js';
import { compileCondition, type Facts } from '../core/rules/conditions.js';
import type { EventProgram } from '../db/events.js';
import { enqueueMessage } from '../db/jobs.js';
import { loadEntry, type Trx } from '../db/ledger.js';
import {
  codeOwner, eventReferralContext, expirePending, funnelRow, insertCode, listReferralRows, loadReferral, loadSettingsRow,
  lockReferral, markReversed, memberCode, paidReferrals, qualifyReferral, recordSignals, referralOfQualifyingOrder, rejectReferral, rewardDue,
  saveSettingsRow, sharedSignal, type ReferralRow,
} from '../db/referrals.js';
import { countIssued, loadReward } from '../db/rewards.js';
import { memberInHoldout } from './analytics.js';
import type { Laurel } from './context.js';
import { writeOnce } from './idempotency.js';
import { milestonesOnCredit } from './achievements.js';
import { DEFAULT_WALLET, earnWithin, lockMemberWallet, reverseWithin, walletAfter, type LedgerResult, type LockedWallet } from './ledger.js';
import { getMember } from './members.js';
import { issueFreeInstance } from './rewards.js';
import { getProgram } from './tenants.js';
import { requireId } from './validate.js';

/** A referral code as typed or scanned (case, dashes and spaces do not matter), or a refusal naming `field`. */
function referralCodeOf(input: unknown, field: string): string {
  try {
    return normaliseCode(input, field);
  } catch {
    throw invalid(field, `${field} must be a referral code: 16 letters and digits, such as 7K3M9QXR2B4TDW6H`);
  }
}

export interface SavedReferralSettings extends Omit<ReferralSettings, 'linkBaseUrl'> {
  programId: string;
  /** null: never set */
  linkBaseUrl: string | null;
  /** null: never set (referrals are off) */
  updatedAt: Date | null;
}

/** A program's settings; one that never set them has referrals off, with the defaults. */
export async function getReferralSettings(laurel: Laurel, tenantId: string, programId: string): Promise<SavedReferralSettings> {
  const program = await getProgram(laurel, tenantId, programId);
  const row = await loadSettingsRow(laurel.db, tenantId, program.programId);
  if (!row) {
    const none = { points: 0n, rewardId: null };
    return {
      programId: program.programId, enabled: false, linkBaseUrl: null, condition: DEFAULT_CONDITION, withinDays: null, referrer: none, referee: none,
      caps: { perPeriod: null, lifetime: null }, updatedAt: null,
    };
  }
  return { programId: program.programId, ...settingsFromJson(row.settings), enabled: row.enabled, updatedAt: row.updated_at };
}

export async function putReferralSettings(laurel: Laurel, tenantId: string, programId: string, input: unknown,
  options: { actor: string; idempotencyKey?: string }): Promise<SavedReferralSettings> {
  const program = await getProgram(laurel, tenantId, programId);
  const settings = validateReferralSettings(input);
  for (const side of ['referrer', 'referee'] as const) {
    const rewardId = settings[side].rewardId;
    if (rewardId === null) continue;
    const reward = await loadReward(laurel.db, tenantId, rewardId);
    if (!reward || reward.reward.programId !== program.programId) throw notFound('reward', `${side}.rewardId`);
    if (USED_ON_ISSUE.has(reward.reward.value.type) || reward.reward.value.type === 'partner_voucher') {
      throw invalid(`${side}.rewardId`, `a ${reward.reward.value.type} reward cannot be given for a referral: choose a discount, free product, free shipping, gift card or experience`);
    }
  }
  const json = JSON.stringify(settingsToJson(settings));
  return writeOnce(laurel, tenantId, options.idempotencyKey, 'put_referral_settings', { programId: program.programId, json }, async (trx, now) => {
    await saveSettingsRow(trx, { tenantId, programId: program.programId, enabled: settings.enabled, settings: json, now, actor: options.actor });
    return { programId: program.programId, ...settings, updatedAt: now };
  });
}

export interface MemberReferral {
  memberId: string;
  programId: string;
  /** whether the member's program has referrals on; off: no code, no link */
  enabled: boolean;
  code: string | null;
  link: string | null;
  /** the referral that brought this member in, if one did */
  referredBy: { referralId: string; referrerId: string; state: ReferralState } | null;
  /** this member's referrals, by state */
  referrals: Record<ReferralState, number>;
  /** points this member was given as a referrer, not taken back */
  pointsEarned: bigint;
}

/** A member's code (made on first ask, then the same forever), link and referrals so far. */
export async function memberReferral(laurel: Laurel, tenantId: string, memberId: string): Promise<MemberReferral> {
  const member = await getMember(laurel, tenantId, memberId);
  const row = await loadSettingsRow(laurel.db, tenantId, member.programId);
  if (member.status !== 'active') throw new DomainError('conflict', `the member is ${member.status}`, 'memberId');
  const settings = row?.enabled ? settingsFromJson(row.settings) : null;
  let code = (await memberCode(laurel.db, tenantId, member.memberId))?.code ?? null;
  // Codes are handed out only while referrals are on; one handed out before stays the member's.
  if (!code && settings) {
    await insertCode(laurel.db, { tenantId, programId: member.programId, memberId: member.memberId, code: newCode(), now: laurel.clock.now() });
    code = (await memberCode(laurel.db, tenantId, member.memberId))!.code;
  }
  const mine = await laurel.db.selectFrom('referrals').select(['state'])
    .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.sum<string>('referrer_points').as('points')])
    .where('tenant_id', '=', tenantId).where('referrer_id', '=', member.memberId).groupBy('state').execute();
  const by = await laurel.db.selectFrom('referrals').select(['referral_id', 'referrer_id', 'state'])
    .where('tenant_id', '=', tenantId).where('referee_id', '=', member.memberId).executeTakeFirst();
  const referrals = Object.fromEntries(REFERRAL_STATES.map((s) => [s, Number(mine.find((m) => m.state === s)?.n ?? 0)])) as Record<ReferralState, number>;
  const pointsEarned = mine.filter((m) => m.state === 'qualified' || m.state === 'rewarded').reduce((a, m) => a + BigInt(m.points ?? 0), 0n);
  return {
    memberId: member.memberId, programId: member.programId, enabled: settings !== null,
    code: settings ? code : null, link: settings && code ? referralLink(settings.linkBaseUrl, code) : null,
    referredBy: by ? { referralId: by.referral_id, referrerId: by.referrer_id, state: by.state } : null, referrals, pointsEarned,
  };
}

const messageOf = (r: ReferralRow) => ({
  referralId: r.referral_id, programId: r.program_id, referrerId: r.referrer_id, refereeId: r.referee_id, state: r.state,
  reason: r.reason, detail: r.detail, referrerPoints: r.referrer_points, refereePoints: r.referee_points,
  qualifyingExternalId: r.qualifying_external_id,
});

/** Queues the referral's message, from its row as just written when the caller has it. */
async function tell(trx: Trx, tenantId: string, type: 'joined' | 'qualified' | 'rejected' | 'reversed', referral: string | ReferralRow, now: Date): Promise<void> {
  const row = typeof referral === 'string' ? (await loadReferral(trx, tenantId, referral))! : referral;
  await enqueueMessage(trx, tenantId, `referral.${type}`, `referral.${type}:${row.referral_id}`, messageOf(row), now);
}

interface Joining {
  tenantId: string;
  programId: string;
  refereeId: string;
  /** the referee's e-mail and phone, as stored */
  email: string | null;
  phone: string | null;
  code: string;
  /** false: the referee was a member before this code reached Laurel */
  newMember: boolean;
}

/**
 * Attributes a referee to the code's owner, once: a referee who has a referral keeps it. Answers
 * the referral's id, or null when the code is unknown (an event's code is not a reason to refuse the event).
 */
async function attribute(trx: Trx, now: Date, settings: ReferralSettings, j: Joining): Promise<string | null> {
  const owner = await codeOwner(trx, j.tenantId, j.programId, j.code);
  if (!owner) return null;
  const same = owner.member_id === j.refereeId ? 'member' : samePerson(owner, j);
  const rejected = same !== null ? { reason: 'self_referral' as RejectionReason, detail: `referrer and referee share a ${same === 'member' ? 'membership' : same}` }
    : !j.newMember ? { reason: 'already_member' as RejectionReason, detail: 'the referee was a member before using the code' }
    : null;
  const referralId = uuidv7(now.getTime());
  const inserted = await trx.insertInto('referrals').values({
    tenant_id: j.tenantId, referral_id: referralId, program_id: j.programId, referrer_id: owner.member_id, referee_id: j.refereeId, code: j.code,
    state: rejected ? 'rejected' : 'pending', reason: rejected?.reason ?? null, detail: rejected?.detail ?? null,
    joined_at: now, expires_at: windowEnd(now, settings.withinDays), rejected_at: rejected ? now : null,
  }).onConflict((oc) => oc.columns(['tenant_id', 'referee_id']).doNothing()).returning('referral_id').executeTakeFirst();
  if (!inserted) return null;
  await tell(trx, j.tenantId, 'joined', referralId, now);
  if (rejected) await tell(trx, j.tenantId, 'rejected', referralId, now);
  return referralId;
}

/** A referralCode given on enrolment (POST /v1/members), inside the member's creation. */
export async function attributeOnEnrolment(trx: Trx, now: Date, input: { tenantId: string; programId: string; memberId: string; email: string | null; phone: string | null; code: unknown }): Promise<void> {
  const code = referralCodeOf(input.code, 'referralCode');
  const row = await loadSettingsRow(trx, input.tenantId, input.programId);
  if (!row?.enabled) throw new DomainError('conflict', 'referrals are off in this program', 'referralCode');
  const settings = settingsFromJson(row.settings);
  const id = await attribute(trx, now, settings, { ...input, refereeId: input.memberId, code, newMember: true });
  if (id === null) throw notFound('referral code', 'referralCode');
}

export interface ReferralEvent {
  tenantId: string;
  programId: string;
  memberId: string;
  /** whether this very event enrolled the member (a universal program's first event) */
  enrolled: boolean;
  externalId: string;
  occurredAt: Date;
  attributes: Record<string, unknown>;
  timeZone: string;
  idempotencyKey: string;
  actor: string;
  /** the program's holdout, as the event read it with the program, and whether the referee is in it */
  holdout: EventProgram['holdout'];
  control: boolean;
}

/**
 * Pays a qualified referral, given the facts of the referee's event and the referee's points wallet
 * as the event locked it with what the event has written to it so far (its own earn first),
 * answering the referee's ledger results.
 */
export type ReferralPayment = (facts: Facts, referee: { wallet: LockedWallet; written: readonly LedgerResult[] }) => Promise<LedgerResult[]>;

/**
 * The referral part of a referee's purchase or action, called under the referee's wallet lock and
 * before the rules lock any budget row: records the event's fraud signals, attributes an enrolling
 * event's `attributes.referralCode`, and when a referral is pending locks it and its referrer's
 * wallet. Answers the payment step to run once the event's own earn is written, or null.
 */
export async function referralOnEvent(trx: Trx, now: Date, e: ReferralEvent): Promise<ReferralPayment | null> {
  const context = await eventReferralContext(trx, e.tenantId, e.programId, e.memberId);
  if (!context) return null;
  const settings = { ...settingsFromJson(context.settings), enabled: context.enabled };
  await recordSignals(trx, e.tenantId, e.programId, e.memberId, signalsOf(e.tenantId, e.attributes));
  let referralId = context.referral_id;
  const code = e.attributes.referralCode;
  if (referralId === null && settings.enabled && typeof code === 'string') {
    let normalised: string | null;
    try {
      normalised = referralCodeOf(code, 'attributes.referralCode');
    } catch {
      // An event's malformed code is no reason to refuse the purchase: it just refers nobody.
      normalised = null;
    }
    if (normalised !== null) {
      const member = (await trx.selectFrom('members').select(['email', 'phone']).where('tenant_id', '=', e.tenantId).where('member_id', '=', e.memberId).executeTakeFirst())!;
      referralId = await attribute(trx, now, settings, {
        tenantId: e.tenantId, programId: e.programId, refereeId: e.memberId, email: member.email, phone: member.phone, code: normalised, newMember: e.enrolled,
      });
    }
  } else if (context.state !== 'pending') {
    return null;
  }
  // Switched off, a pending referral waits (decideQualification): no reason to lock its referrer.
  if (referralId === null || !settings.enabled) return null;
  const referral = await lockReferral(trx, e.tenantId, { referralId });
  if (!referral || referral.state !== 'pending') return null;
  // The referrer's lock serialises their caps: twenty referees qualifying at once are paid one after another.
  const referrerWallet = await lockMemberWallet(trx, e.tenantId, referral.referrer_id, DEFAULT_WALLET, now);
  return async (facts, referee) => {
    const sameAs = await sharedSignal(trx, e.tenantId, e.programId, referral.referrer_id, referral.referee_id);
    const caps = settings.caps.perPeriod;
    const paid = settings.caps.perPeriod === null && settings.caps.lifetime === null ? { inPeriod: 0, ever: 0 }
      : await paidReferrals(trx, e.tenantId, referral.referrer_id, caps ? periodStart(now, caps.period, e.timeZone) : null);
    const decision = decideQualification({
      settings, now, occurredAt: e.occurredAt, expiresAt: referral.expires_at, referrerStatus: referrerWallet.memberStatus,
      sameAs: sameAs === null ? null : sameAs === 'device' ? 'device id' : 'payment fingerprint',
      conditionMet: compileCondition(settings.condition)(facts), paidInPeriod: paid.inPeriod, paidEver: paid.ever,
    });
    if (decision.kind === 'wait') return [];
    if (decision.kind === 'reject') {
      await rejectReferral(trx, e.tenantId, referral.referral_id, decision.reason, decision.detail, now);
      await tell(trx, e.tenantId, 'rejected', referral.referral_id, now);
      return [];
    }
    return pay(trx, now, e, settings, referral, context.return_window_days, {
      [referral.referee_id]: walletAfter(referee.wallet, referee.written), [referral.referrer_id]: referrerWallet,
    });
  };
}

/** Pays both sides on their points wallets as this transaction locked them (`wallets`, by member: nothing else writes them before it commits). */
async function pay(trx: Trx, now: Date, e: ReferralEvent, settings: ReferralSettings, referral: ReferralRow, returnWindowDays: number,
  wallets: Record<string, LockedWallet>): Promise<LedgerResult[]> {
  const request = { tenantId: e.tenantId, idempotencyKey: e.idempotencyKey, actor: e.actor, ref: `referral:${referral.referral_id}` };
  // A side in the program's holdout gets nothing (no points, no reward); the referral is recorded and qualifies all the same.
  const refereeHeldOut = e.control;
  const referrerHeldOut = e.holdout.shareBp > 0 && await memberInHoldout(trx, e.tenantId, e.programId, referral.referrer_id);
  const refereePoints = refereeHeldOut ? 0n : settings.referee.points;
  const referrerPoints = referrerHeldOut ? 0n : settings.referrer.points;
  const earnFor = async (memberId: string, points: bigint): Promise<LedgerResult | null> =>
    (points === 0n ? null : earnWithin(trx, now, wallets[memberId]!, { ...request, amount: points }));
  const refereeResult = await earnFor(referral.referee_id, refereePoints);
  const referrerResult = await earnFor(referral.referrer_id, referrerPoints);
  // The referrer's balance rose outside their own events: their milestones look now (the referee's look at the end of this event).
  if (referrerResult) await milestonesOnCredit(trx, now, { tenantId: e.tenantId, programId: e.programId, memberId: referral.referrer_id, key: e.idempotencyKey, actor: e.actor, control: referrerHeldOut });
  const referrerInstance = referrerHeldOut ? null : await issue(trx, now, e, settings.referrer.rewardId, referral.referrer_id);
  const refereeInstance = refereeHeldOut ? null : await issue(trx, now, e, settings.referee.rewardId, referral.referee_id);
  // The hold is the return window of the qualifying order: the points' lots become available then too.
  const rewardAt = availableAt(now, returnWindowDays, e.timeZone);
  const qualified = await qualifyReferral(trx, e.tenantId, referral.referral_id, {
    now, externalId: e.externalId, rewardAt, rewarded: rewardAt <= now,
    referrerPoints, refereePoints,
    referrerEntryId: referrerResult?.entries[0]!.entryId ?? null, refereeEntryId: refereeResult?.entries[0]!.entryId ?? null,
    referrerInstanceId: referrerInstance, refereeInstanceId: refereeInstance,
  });
  await tell(trx, e.tenantId, 'qualified', qualified, now);
  return refereeResult ? [refereeResult] : [];
}

/** A free instance of a catalog reward for one side, as every free issue makes one (none when it is disabled or out of stock). */
async function issue(trx: Trx, now: Date, e: ReferralEvent, rewardId: string | null, memberId: string): Promise<string | null> {
  return rewardId === null ? null : issueFreeInstance(trx, now, { tenantId: e.tenantId, memberId, rewardId });
}

/**
 * A return of a referral's qualifying order during the hold reverses the referral: both sides'
 * points come back through the ledger (reversals of their earns) and unused instances are
 * cancelled, exactly once (the referral row, locked, leaves `qualified` for good). Once the hold
 * ended (rewarded), a return changes nothing.
 */
export async function referralOnReturn(trx: Trx, now: Date, r: { tenantId: string; programId: string; purchaseExternalId: string; memberId: string; idempotencyKey: string; actor: string }): Promise<void> {
  const found = await referralOfQualifyingOrder(trx, r.tenantId, r.programId, r.purchaseExternalId);
  if (!found || found.state !== 'qualified') return;
  await lockMemberWallet(trx, r.tenantId, found.referee_id, DEFAULT_WALLET, now);
  const referral = await lockReferral(trx, r.tenantId, { referralId: found.referral_id });
  if (!referral || referral.state !== 'qualified') return;
  const request = { tenantId: r.tenantId, idempotencyKey: r.idempotencyKey, actor: r.actor, reason: `referral ${referral.referral_id} reversed: order ${r.purchaseExternalId} returned` };
  for (const entryId of [referral.referee_entry_id, referral.referrer_entry_id]) {
    if (entryId === null) continue;
    // What is left of the earn: a manual reversal may already have taken some of it.
    const found = await loadEntry(trx, r.tenantId, entryId);
    if (!found || found.entry.amount - found.reversed <= 0n) continue;
    await reverseWithin(trx, now, { ...request, entryId, amount: found.entry.amount - found.reversed });
  }
  for (const instanceId of [referral.referee_instance_id, referral.referrer_instance_id]) {
    if (instanceId === null) continue;
    const cancelled = await trx.updateTable('reward_instances').set({ status: 'cancelled', resolved_at: now })
      .where('tenant_id', '=', r.tenantId).where('instance_id', '=', instanceId).where('status', '=', 'issued').returning('reward_id').executeTakeFirst();
    if (cancelled) await countIssued(trx, r.tenantId, cancelled.reward_id, -1);
  }
  await markReversed(trx, r.tenantId, referral.referral_id, now);
  await tell(trx, r.tenantId, 'reversed', referral.referral_id, now);
}

export interface Referral {
  referralId: string;
  programId: string;
  referrerId: string;
  refereeId: string;
  code: string;
  state: ReferralState;
  reason: string | null;
  detail: string | null;
  joinedAt: Date;
  expiresAt: Date | null;
  qualifiedAt: Date | null;
  qualifyingExternalId: string | null;
  rewardAt: Date | null;
  rewardedAt: Date | null;
  rejectedAt: Date | null;
  reversedAt: Date | null;
  referrerPoints: bigint;
  refereePoints: bigint;
  referrerEntryId: string | null;
  refereeEntryId: string | null;
  referrerInstanceId: string | null;
  refereeInstanceId: string | null;
}

const referralOf = (r: ReferralRow): Referral => ({
  referralId: r.referral_id, programId: r.program_id, referrerId: r.referrer_id, refereeId: r.referee_id, code: r.code, state: r.state,
  reason: r.reason, detail: r.detail, joinedAt: r.joined_at, expiresAt: r.expires_at, qualifiedAt: r.qualified_at,
  qualifyingExternalId: r.qualifying_external_id, rewardAt: r.reward_at, rewardedAt: r.rewarded_at, rejectedAt: r.rejected_at,
  reversedAt: r.reversed_at, referrerPoints: BigInt(r.referrer_points), refereePoints: BigInt(r.referee_points),
  referrerEntryId: r.referrer_entry_id, refereeEntryId: r.referee_entry_id, referrerInstanceId: r.referrer_instance_id, refereeInstanceId: r.referee_instance_id,
});

export async function getReferral(laurel: Laurel, tenantId: string, referralId: string): Promise<Referral> {
  const row = await loadReferral(laurel.db, tenantId, requireId(referralId, 'referralId', 'referral'));
  if (!row) throw notFound('referral', 'referralId');
  return referralOf(row);
}

export interface ReferralQuery {
  programId?: string | undefined;
  state?: string | undefined;
  reason?: string | undefined;
  referrerId?: string | undefined;
  refereeId?: string | undefined;
  before: string | null;
  limit: number;
}

/** Referrals newest first; limit+1 rows so the caller knows whether more follow. */
export async function listReferrals(laurel: Laurel, tenantId: string, q: ReferralQuery): Promise<Referral[]> {
  if (q.state !== undefined && !REFERRAL_STATES.includes(q.state as ReferralState)) throw invalid('state', `state must be one of ${REFERRAL_STATES.join(', ')}`);
  if (q.reason !== undefined && !REJECTION_REASONS.includes(q.reason as RejectionReason)) throw invalid('reason', `reason must be one of ${REJECTION_REASONS.join(', ')}`);
  // The schema's uuid format lets urn:uuid:… through; the database would not read it.
  const id = (v: string | undefined, field: string, what: string) => (v === undefined ? undefined : requireId(v, field, what));
  const rows = await listReferralRows(laurel.db, tenantId, {
    programId: id(q.programId, 'programId', 'program'), state: q.state as ReferralState | undefined, reason: q.reason,
    referrerId: id(q.referrerId, 'referrerId', 'member'), refereeId: id(q.refereeId, 'refereeId', 'member'),
    before: q.before, limit: q.limit + 1,
  });
  return rows.map(referralOf);
}

export interface ReferralFunnel {
  programId: string;
  from: Date | null;
  to: Date | null;
  codesShared: number;
  joined: number;
  pending: number;
  qualified: number;
  rewarded: number;
  reversed: number;
  rejected: Record<string, number>;
  pointsPaid: bigint;
}

export async function referralFunnel(laurel: Laurel, tenantId: string, programId: string, period: { from: Date | null; to: Date | null }): Promise<ReferralFunnel> {
  const program = await getProgram(laurel, tenantId, programId);
  if (period.from && period.to && period.from >= period.to) throw invalid('to', 'to must be after from');
  const r = await funnelRow(laurel.db, tenantId, program.programId, period.from, period.to);
  return {
    programId: program.programId, from: period.from, to: period.to, codesShared: Number(r.codes), joined: Number(r.joined), pending: Number(r.pending),
    qualified: Number(r.qualified), rewarded: Number(r.rewarded), reversed: Number(r.reversed),
    rejected: Object.fromEntries(r.reasons.map((x) => [x.reason, Number(x.n)])), pointsPaid: BigInt(r.points ?? 0),
  };
}

const CHUNK = 1000;

/** The referrals job: holds that ended become rewarded, windows that closed reject their pending referrals. */
export async function settleReferrals(laurel: Laurel, now: Date, progress: (done: number) => void = () => {}): Promise<{ rewarded: number; expired: number }> {
  let rewarded = 0;
  let expired = 0;
  for (;;) {
    const n = await rewardDue(laurel.db, now, CHUNK);
    rewarded += n;
    progress(rewarded + expired);
    if (n < CHUNK) break;
  }
  for (;;) {
    const n = await expirePending(laurel.db, now, CHUNK);
    expired += n;
    progress(rewarded + expired);
    if (n < CHUNK) break;
  }
  return { rewarded, expired };
}
