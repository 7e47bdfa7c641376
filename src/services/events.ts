// Event ingestion (SPEC §2, §4): a purchase or a custom action earns through the program's rules,
// a return takes back what its lines earned. The external id is the event's idempotency key:
// sending it twice changes nothing and answers the first result; the same id with another body
// is refused. Each event is one transaction: the rules' decision, their awards and budgets, the
// journal entries and the event row commit together or not at all.
import type { RawBuilder } from 'kysely';
import { DomainError, invalid, notFound } from '../core/errors.js';
import {
  normaliseEvent, storableText, type EventEntry, type EventInput, type EventRecord, type Explained, type NormalisedEvent,
} from '../core/events/event.js';
import { goodsOf, orderTotal, type PurchaseLine, type ReturnLine } from '../core/events/purchase.js';
import { moneyOf, pointsBackSoFar } from '../core/rewards/points-payment.js';
import { EVENT_TYPE } from '../core/events/rate.js';
import { decideReturn, returnedSoFar } from '../core/events/returns.js';
import { uuidv7 } from '../core/ids.js';
import { decodeJson, encodeJson } from '../core/json.js';
import { mergeDecisions, type Decision } from '../core/ledger/types.js';
import { signalsOf } from '../core/referrals/fraud.js';
import { MAX_POINTS, minBig, sumBig } from '../core/points.js';
import { basketOf, earningBase, earningBaseLeft, remainingBasket } from '../core/rules/basket.js';
import { loadRule, type Scope } from '../core/rules/evaluate.js';
import { pointsToTakeBack } from '../core/rules/returns.js';
import { SIGNUP } from '../core/rules/rule.js';
import {
  eventOf, excludedRulesOf, factsOfRow, findEventByExternalId, listEventRows, recordEventRows, loadEvent, loadEventProgramFindingKey, loadReturnsOf,
  lockEvent, type EventProgram, type MemberName,
} from '../db/events.js';
import type { Upgrade } from '../core/tiers/review.js';
import type { Activity } from '../db/activity.js';
import { definitionsOf, engagementStates, type EngagementQuery, type EngagementState, type Progressed } from '../db/achievements.js';
import { recordEventAccounting } from './accounting.js';
import { markWelcomed } from '../db/members.js';
import { lockMemberTier } from '../db/tiers.js';
import { findIdempotency, loadEntry, loadHold, type Trx } from '../db/ledger.js';
import { awardsOf, budgetShards, campaignsById, rulesAt, writeBudgetShards, type AwardRow, type RuleRef } from '../db/rules.js';
import { respread, shardOf } from '../core/rules/budget.js';
import { returnedOf } from '../core/achievements/progress.js';
import { progressOnEvent, progressOnReturn, progressOnWallet, progressPlan } from './achievements.js';
import type { Laurel } from './context.js';
import { earningNothing, inHoldout, withoutAwards } from './analytics.js';
import {
  amountsByWallet, budgetDraw, decidableOnProfile, earningOnProfile, evaluateEarning, explained, rulesFor, spendBudgets, type EarningEvent,
} from './earning.js';
import { idempotent, requestHash } from './idempotency.js';
import { checkSurveyResponse } from '../core/engagement/nps.js';
import { poolEarnings } from './households.js';
import { captureWithin, decideEarnOn, DEFAULT_WALLET, earnWithin, lockMemberWallet, reverseWithin, type LedgerResult } from './ledger.js';
import { batched, deferred, type BatchRead, type Decided } from './ledger-batch.js';
import { referralOnEvent, referralOnReturn } from './referrals.js';
import { createMember, getMember, IDENTIFIERS, normaliseIdentifier, type Identifier, type Member, type MemberInput } from './members.js';
import { applyUpgrade, climbOnActivity, ladderOf, type TierChange } from './tiers.js';
import { requireId } from './validate.js';

export type { EventRecord } from '../core/events/event.js';

export interface IngestInput extends EventInput {
  programId: string;
  /** the member by Laurel's id… */
  memberId?: string;
  /** …or by their identifiers; a universal program enrols an unknown member given an externalId or email */
  member?: Partial<Record<Identifier, string>>;
  /** who sent it, for the journal */
  actor?: string;
}

export interface EventResult {
  event: EventRecord;
  /** points earned (> 0), taken back (< 0), or 0, in the points wallet */
  points: bigint;
  /** the earns or reversals (points, store credit) and the balances after them; null when the event moves nothing */
  ledger: LedgerResult | null;
  /** the upgrade this event's activity earned the member; null: none */
  tier: TierChange | null;
  /** whether this event enrolled its member: a universal program's first event naming someone it did not know */
  enrolled: boolean;
  /** the member this event enrolled; null when the member existed */
  member: EnrolledMember | null;
}

/** A member an event enrolled, as its identifiers name them: a typo in an e-mail shows here. */
export interface EnrolledMember {
  memberId: string;
  externalId: string | null;
  email: string | null;
  phone: string | null;
  cardCode: string | null;
}

export interface IngestOptions {
  /** Laurel's own events (signup) */
  internal?: boolean;
  /** told when the welcome of a member this event enrolled failed; the member stays enrolled and the welcomes job retries it */
  onWelcomeFailed?: (error: unknown) => void;
}

type MemberRef = { memberId: string } | { identifiers: Partial<Record<Identifier, string>> };

interface EventRequest {
  programId: string;
  event: NormalisedEvent;
  member: MemberRef | null;
}

const OPERATION = 'event';
const COLUMN = { externalId: 'external_id', email: 'email', phone: 'phone', cardCode: 'card_code' } as const;

export const eventKey = (programId: string, externalId: string): string => `event:${programId}:${externalId}`;

export async function ingestEvent(laurel: Laurel, tenantId: string, input: IngestInput, options: IngestOptions = {}): Promise<EventResult> {
  if (typeof input !== 'object' || input === null) throw invalid('type', 'an event is an object');
  const programId = requireId(input.programId, 'programId', 'program');
  const event = normaliseEvent(input);
  checkSurveyResponse(event);
  if (event.type === SIGNUP && !options.internal) throw invalid('type', 'signup events are sent by Laurel itself when a member enrols');
  const request: EventRequest = { programId, event, member: memberRefOf(input, event.kind) };
  const key = eventKey(programId, event.externalId);
  // A request seen before is answered as it was the first time, whatever has changed since.
  const { program, stored, members } = await loadEventProgramFindingKey(laurel.db, tenantId, programId, key, namesOf(request.member));
  if (stored) {
    if (stored.operation !== OPERATION || stored.requestHash !== requestHash(OPERATION, request)) throw eventConflict(event.externalId);
    return decodeJson<EventResult>(stored.response);
  }
  if (!program) throw notFound('program', 'programId');
  return recordEvent(laurel, tenantId, key, request, { program, members: members.map(foundMember) }, input.actor ?? 'events', options);
}

const namesOf = (ref: MemberRef | null): MemberName[] => {
  if (ref === null) return [];
  if ('memberId' in ref) return [['member_id', ref.memberId]];
  return IDENTIFIERS.filter((k) => ref.identifiers[k] !== undefined).map((k) => [COLUMN[k], ref.identifiers[k]!]);
};

function memberRefOf(input: IngestInput, kind: NormalisedEvent['kind']): MemberRef | null {
  if (input.memberId !== undefined && input.member !== undefined) throw invalid('member', 'give memberId or member, not both');
  if (input.memberId !== undefined) return { memberId: requireId(input.memberId, 'memberId', 'member') };
  if (input.member === undefined) {
    if (kind === 'return') return null;
    throw invalid('memberId', 'an event needs its member: memberId, or member with an externalId, email, phone or cardCode');
  }
  const given = input.member as Record<string, unknown>;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw invalid('member', 'member must be an object of identifiers');
  for (const k of Object.keys(given)) {
    if (!(IDENTIFIERS as readonly string[]).includes(k)) throw invalid(`member.${k}`, 'is not a member identifier');
  }
  const identifiers: Partial<Record<Identifier, string>> = {};
  for (const k of IDENTIFIERS) {
    if (given[k] === undefined || given[k] === null) continue;
    try {
      if (typeof given[k] === 'string') storableText(given[k], k);
      identifiers[k] = normaliseIdentifier(k, given[k]);
    } catch (e) {
      throw e instanceof DomainError ? invalid(`member.${k}`, e.message) : e;
    }
  }
  if (Object.keys(identifiers).length === 0) throw invalid('member', 'member needs an externalId, email, phone or cardCode');
  return { identifiers };
}

const eventConflict = (externalId: string) =>
  new DomainError('idempotency_conflict', `event ${externalId} was already received with different content`, 'externalId');

/** `found`: the program, and its members the request names, as read with the event's key. */
async function recordEvent(laurel: Laurel, tenantId: string, key: string, request: EventRequest, found: { program: EventProgram; members: FoundMember[] },
  actor: string, options: IngestOptions): Promise<EventResult> {
  const { event } = request;
  const { program } = found;
  if (event.currency !== null && event.currency !== program.currency) {
    throw invalid('currency', `this tenant's events are in ${program.currency}`);
  }
  if (event.kind === 'return') return recordReturn(laurel, tenantId, key, request, program, event, actor);
  const member = await resolveMember(laurel, tenantId, program, request.member!, {
    enrol: program.enrollmentMode === 'universal', byEvent: event.externalId, onWelcomeFailed: options.onWelcomeFailed,
  }, found.members);
  // The member this event enrolled: just now, or by an earlier try of this very event that failed after enrolling them.
  const enrolled = member.enrolledByEvent === event.externalId ? enrolledMember(member) : null;
  if (member.status !== 'active') {
    throw new DomainError('conflict', `the member is ${member.status}`, 'memberId' in request.member! ? 'memberId' : 'member');
  }
  const payment = event.kind === 'purchase' && event.pointsHoldId !== null ? await pointsPaymentOf(laurel, tenantId, program, member.memberId, event) : null;
  const paidWithPoints = payment ? payment.money : event.kind === 'purchase' ? event.paidWithPoints : 0n;
  const money = event.kind === 'purchase' ? orderTotal(event.lines, paidWithPoints) : 0n;
  const basket = event.kind === 'purchase' ? basketOf(event.lines, earningBase(money, paidWithPoints, program.earnOnPaidWithPoints)) : basketOf([], 0n);
  const earningEventAt = (now: Date): EarningEvent => ({
    externalId: event.externalId, type: event.type, channel: event.channel, location: event.location, occurredAt: event.occurredAt ?? now,
    orderId: event.orderId, currency: event.currency ?? program.currency, attributes: event.attributes, paidWithPoints,
  });
  // Its member's budget shards, or all of them once those held too little: kept across the transaction's attempts.
  const budgets = budgetDraw(member.memberId);
  const alone = () => store(laurel, tenantId, key, request, program, async (trx, now, lookup) => {
    // The member's lock first, in one statement with what the rules read of them: their caps and
    // stats are read under it, and a twin of this event waits here, then replays.
    const pointsWallet = await lockMemberWallet(trx, tenantId, member.memberId, DEFAULT_WALLET, now, { activeMember: true, lookup, profile: true });
    // Then the member's row, whose tier the rules read and this event may raise (the review job locks in the same order).
    const ladder = ladderOf(program.ladder);
    const tierState = ladder ? await lockMemberTier(trx, tenantId, member.memberId) : null;
    // The tier as read under the row's lock: the wallet lock's statement may have waited for a
    // review that changed it, and a statement that waited sees the other rows it joins as they were.
    const profile = tierState ? { ...pointsWallet.profile!, tier: tierState.tier } : pointsWallet.profile;
    const earningEvent = earningEventAt(now);
    // A member of the program's holdout (control group) earns nothing and keeps their tier: services/analytics.ts.
    const control = inHoldout(program.holdout, member);
    // Referrals: under the referee's lock and before any budget row is locked; the payment follows the event's own earn.
    const referral = !program.uses.referrals ? null : await referralOnEvent(trx, now, {
      tenantId, programId: program.programId, memberId: member.memberId, enrolled: enrolled !== null, externalId: event.externalId,
      occurredAt: earningEvent.occurredAt, attributes: event.attributes, timeZone: program.timeZone, idempotencyKey: key, actor,
      holdout: program.holdout, control,
    });
    const wallets = new Map([[DEFAULT_WALLET, pointsWallet]]);
    // The points paying for the order first: the hold placed at checkout is captured with it, or the event fails.
    const captured = payment
      ? await captureWithin(trx, now, { tenantId, idempotencyKey: key, actor, holdId: payment.holdId, amount: null, ref: event.externalId })
      : null;
    if (captured) wallets.set(DEFAULT_WALLET, await lockMemberWallet(trx, tenantId, member.memberId, DEFAULT_WALLET, now));
    const evaluate = (tier?: string) => evaluateEarning(trx, laurel.strategies, tenantId, program, {
      event: earningEvent, basket, memberId: member.memberId, budgets, tier, profile,
      lockWallets: async (codes) => {
        for (const code of codes) if (!wallets.has(code)) wallets.set(code, await lockMemberWallet(trx, tenantId, member.memberId, code, now));
      },
    });
    const evaluateAt = control ? earningNothing(evaluate) : evaluate;
    let earning = await evaluateAt();
    let upgrade: Upgrade | null = null;
    if (ladder && tierState && !control) {
      ({ earning, upgrade } = await climbOnActivity(trx, tenantId, {
        ladder, state: tierState, timeZone: program.timeZone, occurredAt: earningEvent.occurredAt, earning, evaluateAt,
        contribution: (e) => ({
          qualifyingPoints: qualifyingPoints(program, e.awards.map(explained)),
          spend: money, visits: event.kind === 'purchase' ? 1n : 0n,
        }),
      }));
    }
    const explanation = earning.awards.map(explained);
    const amounts = earnedAmounts(explanation);
    await spendBudgets(trx, tenantId, budgets, earning.spent);
    const eventId = uuidv7(now.getTime());
    const results: LedgerResult[] = captured ? [captured] : [];
    const entries: EventEntry[] = [];
    for (const [wallet, amount] of amounts) {
      const locked = wallets.get(wallet) ?? await lockMemberWallet(trx, tenantId, member.memberId, wallet, now);
      const result = await earnWithin(trx, now, locked, { tenantId, idempotencyKey: key, actor, amount, ref: event.externalId });
      results.push(result);
      entries.push({ wallet, entryId: result.entries[0]!.entryId, amount });
    }
    const tier = upgrade ? await applyUpgrade(trx, now, {
      tenantId, programId: program.programId, ladder: ladder!, state: tierState!, upgrade, timeZone: program.timeZone, eventId, idempotencyKey: key, actor,
    }) : null;
    if (tier?.bonusResult) results.push(tier.bonusResult);
    if (referral) results.push(...await referral(earning.facts, { wallet: wallets.get(DEFAULT_WALLET)!, written: results }));
    const progress = program.uses.achievements.length === 0 ? null : await progressOnEvent(trx, now, program.uses.achievements, {
      tenantId, programId: program.programId, timeZone: program.timeZone, memberId: member.memberId, eventId, key, actor, control,
      points: { wallet: wallets.get(DEFAULT_WALLET)!, written: [...results] },
    }, { type: event.type, occurredAt: earningEvent.occurredAt, money, facts: earning.facts });
    if (progress) results.push(...progress.results);
    if (program.uses.households) await poolEarnings(trx, now, { tenantId, memberId: member.memberId, results, idempotencyKey: key, actor });
    const { record, awards, activity } = earnedRows(request, program, {
      eventId, memberId: member.memberId, now, event: earningEvent, money, entries, explanation,
      ...(captured ? { pointsPaid: payment!.points, pointsEntryId: captured.entries[0]!.entryId } : {}),
    });
    // A welcome recorded is a welcome no longer due: in the same transaction, so it is sent once and never lost.
    if (event.type === SIGNUP) await markWelcomed(trx, tenantId, member.memberId);
    return {
      record, ledger: results, facts: earning.facts, activity, awards, tier: tier?.change ?? null, enrolled, excluded: earning.excluded,
      alsoRecord: progress?.record ?? [],
    };
  });
  const rules = batchable(laurel, tenantId, program, request, { enrolled, payment })
    ? await rulesFor(laurel.db, laurel.strategies, tenantId, program, event.type) : null;
  if (!rules || !decidableOnProfile(program, rules)) return alone();
  const achievements = program.uses.achievements.length === 0 ? [] : await definitionsOf(laurel.db, tenantId, program.programId, program.uses.achievements);
  const control = inHoldout(program.holdout, member);
  const { memberId } = member;
  // The event in the next batch of the ledger's group commit: decided on the points wallet its
  // batch locks, and on the achievements and referral the batch reads under that lock, as the
  // transaction above would decide it, and written with the batch.
  return batched<EventResult>(laurel, {
    wallet: { tenantId, memberId, code: DEFAULT_WALLET }, key, operation: OPERATION, requestHash: requestHash(OPERATION, request),
    activeMember: true, alone, encode: encodeJson,
    decide: (wallet, now) => {
      const earningEvent = earningEventAt(now);
      const earned = earningOnProfile(program, rules, { event: earningEvent, basket, profile: wallet.profile! });
      const earning = control ? withoutAwards(earned) : earned;
      const explanation = earning.awards.map(explained);
      const eventId = uuidv7(now.getTime());
      const written: LedgerResult[] = [];
      const decisions: Decision[] = [];
      const entries: EventEntry[] = [];
      for (const [code, amount] of earnedAmounts(explanation)) {
        // Points that go to another wallet, or an earn that leaves the wallet to settle: the transaction above.
        const decided = code === DEFAULT_WALLET ? decideEarnOn(wallet, now, { tenantId, idempotencyKey: key, actor, amount, ref: event.externalId }) : null;
        if (!decided) return null;
        written.push(decided.result);
        decisions.push(decided.decision);
        entries.push({ wallet: code, entryId: decided.result.entries[0]!.entryId, amount });
      }
      const { record, awards, activity } = earnedRows(request, program, { eventId, memberId, now, event: earningEvent, money, entries, explanation });
      const answer = (progress: Progressed | null): Decided<EventResult> => ({
        decision: mergeDecisions(...decisions),
        result: { event: record, points: record.points, ledger: merged(written), tier: null, enrolled: false, member: null },
        event: { event: record, facts: earning.facts, excluded: earning.excluded, awards, activity, progress },
      });
      const plan = progressPlan(achievements, { type: event.type, occurredAt: earningEvent.occurredAt, money, facts: earning.facts }, program.timeZone);
      if (!plan && !program.uses.referrals) return answer(null);
      return deferred(engagement, { tenantId, memberId, ranges: plan?.ranges ?? [], unlocks: plan?.unlocks ?? [], numbered: plan?.numbered ?? [], rewardIds: plan?.rewardIds ?? [], referral: program.uses.referrals }, async (state) => {
        // A referral still pending may qualify on this event: the transaction above decides it.
        if (state.referral === 'pending') return null;
        if (!plan) return answer(null);
        const ctx = { tenantId, programId: program.programId, memberId, eventId, key, actor, control };
        const progress = await progressOnWallet(now, ctx, plan, state, { wallet, written, decisions });
        return progress && answer(progress);
      });
    },
  }).catch((e: unknown) => {
    throw e instanceof DomainError && e.code === 'idempotency_conflict' ? eventConflict(event.externalId) : e;
  });
}

/**
 * Whether an event can be decided in a batch (services/ledger-batch.ts): a purchase or action of
 * an existing member, paying nothing with points, in a program whose features read and write
 * under the member's points wallet lock (achievements and referrals do; tiers, households and
 * accounting do not), giving no referral code or fraud signals; its rules must also be
 * decidableOnProfile. Not on PGlite: there an
 * event reads its program on the one connection a batch holds, so over HTTP each batch took one
 * event, and the batch's statements cost more than the event's own transaction (97 purchases/s
 * against 139 in bench/README.md's run).
 */
function batchable(laurel: Laurel, tenantId: string, program: EventProgram, request: EventRequest, found: { enrolled: EnrolledMember | null; payment: unknown }): boolean {
  const { uses } = program;
  const { attributes } = request.event;
  return laurel.settings.batch !== null && laurel.engine !== 'pglite' && request.event.type !== SIGNUP && found.enrolled === null && found.payment === null
    && program.ladder === null && !uses.households && !uses.accounting
    // An event that gives a referral code or fraud signals writes them: its own transaction.
    && (!uses.referrals || (attributes.referralCode === undefined && signalsOf(tenantId, attributes).length === 0));
}

/** What a batched event reads under its batch's locks: its member's tallies and unlocks, and their referral. */
const engagement: BatchRead<EngagementQuery, EngagementState> = { readAll: engagementStates };

/** An event's points per wallet, each within what one entry may move. */
function earnedAmounts(explanation: readonly Explained[]): [string, bigint][] {
  const amounts = amountsByWallet(explanation);
  for (const [wallet, amount] of amounts) {
    if (amount > MAX_POINTS) throw invalid('lines', `this event would earn more than ${MAX_POINTS} in the ${wallet} wallet`);
  }
  return amounts;
}

/** A purchase's or action's record, rule awards and activity, from what it earned. */
function earnedRows(request: EventRequest, program: EventProgram, e: {
  eventId: string; memberId: string; now: Date; event: EarningEvent; money: bigint; entries: EventEntry[]; explanation: Explained[];
  pointsPaid?: bigint; pointsEntryId?: string;
}) {
  const { eventId, memberId, explanation } = e;
  const { occurredAt } = e.event;
  const purchase = request.event.kind === 'purchase';
  const record = newRecord(request, eventId, memberId, e.now, {
    occurredAt, currency: e.event.currency, ...(purchase ? { total: e.money, paidWithPoints: e.event.paidWithPoints } : {}),
    ...(e.pointsPaid === undefined ? {} : { pointsPaid: e.pointsPaid, pointsEntryId: e.pointsEntryId }), entries: e.entries, explanation,
  });
  const awards: AwardRow[] = explanation.filter((a) => a.points > 0n).map((a) => ({
    eventId, ruleId: a.ruleId, version: a.version, campaignId: a.campaignId, memberId, occurredAt, wallet: a.wallet, points: a.points,
  }));
  const activity: Activity = {
    eventId, programId: program.programId, memberId, occurredAt, qualifyingPoints: qualifyingPoints(program, explanation),
    spend: e.money, visits: purchase ? 1 : 0,
  };
  return { record, awards, activity };
}

/**
 * The hold a purchase names to pay with points: the member's, in the points wallet, still active,
 * in a program that takes points as payment. What it pays is what its points are worth; a
 * paidWithPoints the POS sent too must say the same.
 */
async function pointsPaymentOf(laurel: Laurel, tenantId: string, program: EventProgram, memberId: string,
  event: Extract<NormalisedEvent, { kind: 'purchase' }>): Promise<{ holdId: string; points: bigint; money: bigint }> {
  if (program.pointValue === null) throw invalid('pointsHoldId', 'this program does not take points as payment (set its pointValue)');
  const hold = await loadHold(laurel.db, tenantId, event.pointsHoldId!);
  const wallet = hold && await laurel.db.selectFrom('wallets').select('code').where('tenant_id', '=', tenantId).where('wallet_id', '=', hold.walletId).executeTakeFirst();
  if (!hold || hold.memberId !== memberId || wallet?.code !== DEFAULT_WALLET) throw notFound("the member's hold of points", 'pointsHoldId');
  const money = moneyOf(hold.amount, program.pointValue);
  if (event.paidWithPoints !== 0n && event.paidWithPoints !== money) {
    throw invalid('paidWithPoints', `the hold's ${hold.amount} points pay ${money}, not ${event.paidWithPoints}`);
  }
  if (money > goodsOf(event.lines)) throw invalid('pointsHoldId', `the hold's points pay ${money}, more than the order's ${goodsOf(event.lines)}`);
  return { holdId: hold.holdId, points: hold.amount, money };
}

async function recordReturn(laurel: Laurel, tenantId: string, key: string, request: EventRequest, program: EventProgram,
  event: Extract<NormalisedEvent, { kind: 'return' }>, actor: string): Promise<EventResult> {
  const row = await findEventByExternalId(laurel.db, tenantId, program.programId, event.purchaseExternalId);
  if (!row) throw notFound('purchase', 'purchaseExternalId');
  if (row.type !== 'purchase') {
    throw new DomainError('conflict', `${event.purchaseExternalId} is a ${row.type} event, not a purchase`, 'purchaseExternalId');
  }
  const purchase = eventOf(row);
  if (request.member) {
    const member = await resolveMember(laurel, tenantId, program, request.member, { enrol: false });
    if (member.memberId !== purchase.memberId) {
      throw new DomainError('conflict', 'the purchase belongs to another member', 'memberId' in request.member ? 'memberId' : 'member');
    }
  }
  if (event.currency !== null && event.currency !== purchase.currency) throw invalid('currency', `the purchase was in ${purchase.currency}`);
  return store(laurel, tenantId, key, request, program, async (trx, now, lookup) => {
    // The purchase's lock serialises its returns: each sees every one before it. A twin of this return finds its key here.
    const locked = (await lockEvent(trx, tenantId, purchase.eventId))!;
    lookup.found(await findIdempotency(trx, tenantId, key));
    const returns = (await loadReturnsOf(trx, tenantId, purchase.eventId)).map(eventOf);
    const lines = purchase.lines as PurchaseLine[];
    const decision = decideReturn({ lines, total: purchase.total! }, {
      returned: returnedSoFar(returns.map((r) => ({ lines: r.lines as ReturnLine[] | null }))),
      refunded: sumBig(returns.map((r) => r.refundAmount ?? 0n)),
    }, event.lines ? { lines: event.lines } : { refundAmount: event.refundAmount! });
    const earlier = await awardsOf(trx, tenantId, [purchase.eventId, ...returns.map((r) => r.eventId)]);
    const awarded = earlier.filter((a) => a.eventId === purchase.eventId);
    const takenBack = new Map<string, bigint>();
    for (const a of earlier) if (a.eventId !== purchase.eventId) takenBack.set(a.ruleId, (takenBack.get(a.ruleId) ?? 0n) - a.points);
    // The rules that fired, and those an exclusive rule kept out: they earn on what is left if it no longer applies.
    const excluded = excludedRulesOf(locked);
    const rules = (await rulesAt(trx, tenantId, [...purchase.explanation, ...excluded])).map((r) => loadRule(r, laurel.strategies));
    const campaigns = await campaignsById(trx, tenantId, rules.flatMap((r) => (r.rule.campaignId ? [r.rule.campaignId] : [])));
    const facts = factsOfRow(locked);
    const back = facts === null ? [] : pointsToTakeBack({
      awarded, rules, campaigns, facts, takenBack, excluded: new Set(excluded.map((r) => r.ruleId)),
      event: { externalId: purchase.externalId, channel: purchase.channel, location: purchase.location, occurredAt: purchase.occurredAt },
      // A purchase that earned on more than its money (the program's earnOnPaidWithPoints, as it was then) keeps earning on the points' part left.
      remaining: remainingBasket(lines, decision.returned, earningBaseLeft(
        { lines, total: purchase.total!, paidWithPoints: purchase.paidWithPoints ?? 0n }, facts.order.total > purchase.total!,
        decision.returned, purchase.total! - decision.paidLeft)),
    });
    const eventId = uuidv7(now.getTime());
    const explanation: Explained[] = back.map((b) => {
      const r = rules.find((x) => x.rule.ruleId === b.ruleId)!.rule;
      return {
        ruleId: r.ruleId, version: r.version, name: r.name, campaignId: r.campaignId, effect: r.effect.type, wallet: b.wallet!,
        points: -b.points, uncapped: -b.points, limitedBy: [],
        detail: { [b.points > 0n ? 'takenBackFrom' : 'earnsInsteadOn']: purchase.externalId },
      };
    });
    const awards = explanation.map((a) => ({
      eventId, ruleId: a.ruleId, version: a.version, campaignId: a.campaignId, memberId: purchase.memberId,
      occurredAt: purchase.occurredAt, wallet: a.wallet, points: a.points, purchaseEventId: purchase.eventId,
    }));
    const results: LedgerResult[] = [];
    const entries: EventEntry[] = [];
    for (const [wallet, negative] of amountsByWallet(explanation)) {
      const earned = purchase.entries.find((e) => e.wallet === wallet);
      if (!earned) continue;
      await lockMemberWallet(trx, tenantId, purchase.memberId, wallet, now);
      // What is left of the earn: a manual reversal may already have taken some of it.
      const { reversed } = (await loadEntry(trx, tenantId, earned.entryId))!;
      const amount = minBig(-negative, earned.amount - reversed);
      if (amount <= 0n) continue;
      const result = await reverseWithin(trx, now, {
        tenantId, idempotencyKey: key, actor, entryId: earned.entryId, amount, reason: `return ${event.externalId}`,
      });
      results.push(result);
      entries.push({ wallet, entryId: result.entries[0]!.entryId, amount: -amount });
    }
    // The part paid with points comes back in proportion to what comes back, onto the lots it was taken from.
    const paidBack = await givePointsBack(trx, now, tenantId, purchase, returns, decision, { idempotencyKey: key, actor, reason: `return ${event.externalId}` });
    if (paidBack) results.push(paidBack);
    await referralOnReturn(trx, now, {
      tenantId, programId: program.programId, purchaseExternalId: purchase.externalId, memberId: purchase.memberId, idempotencyKey: key, actor,
    });
    results.push(...await progressOnReturn(trx, now, {
      tenantId, programId: program.programId, timeZone: program.timeZone, memberId: purchase.memberId, eventId, key, actor,
      purchaseEventId: purchase.eventId,
      returned: returnedOf(lines, decision.returned, { amount: decision.refundAmount, total: purchase.total!, paidLeft: decision.paidLeft }),
    }));
    // After the wallets: budget rows are always locked last.
    await giveBackBudgets(trx, tenantId, purchase.memberId, rules.map((r) => r.rule), campaigns, explanation);
    const record = newRecord(request, eventId, purchase.memberId, now, {
      currency: purchase.currency, refundAmount: decision.refundAmount, purchaseEventId: purchase.eventId,
      purchaseExternalId: purchase.externalId, entries, explanation,
      ...(paidBack ? { pointsPaid: -paidBack.entries[0]!.amount, pointsEntryId: paidBack.entries[0]!.entryId } : {}),
    });
    // Counted at the return's own time: the next review sees it, a window already judged is left alone.
    const activity = {
      eventId, programId: program.programId, memberId: purchase.memberId, occurredAt: record.occurredAt,
      qualifyingPoints: qualifyingPoints(program, explanation), spend: -decision.refundAmount,
      visits: decision.paidLeft === 0n && purchase.total! - sumBig(returns.map((r) => r.refundAmount ?? 0n)) > 0n ? -1 : 0,
    };
    return { record, ledger: results, facts: null, activity, awards, tier: null, enrolled: null, excluded: [] };
  });
}

/** The points a return gives back of a purchase paid partly with points: this return's share, after the shares earlier returns gave. */
async function givePointsBack(trx: Trx, now: Date, tenantId: string, purchase: EventRecord, returns: readonly EventRecord[],
  decision: { returned: ReadonlyMap<string, bigint>; refundAmount: bigint }, request: { idempotencyKey: string; actor: string; reason: string }): Promise<LedgerResult | null> {
  if (!purchase.pointsEntryId || !purchase.pointsPaid) return null;
  const order = { lines: purchase.lines as PurchaseLine[], total: purchase.total!, pointsPaid: purchase.pointsPaid };
  const refundedBefore = sumBig(returns.map((r) => r.refundAmount ?? 0n));
  const before = pointsBackSoFar(order, returnedSoFar(returns.map((r) => ({ lines: r.lines as ReturnLine[] | null }))), refundedBefore);
  const after = pointsBackSoFar(order, decision.returned, refundedBefore + decision.refundAmount);
  if (after <= before) return null;
  return reverseWithin(trx, now, { tenantId, ...request, entryId: purchase.pointsEntryId, amount: after - before });
}

/** A return gives back to the budgets what it takes back from the member: it holds all of their shards, which it spreads again. */
async function giveBackBudgets(trx: Trx, tenantId: string, memberId: string, rules: readonly { ruleId: string; limits: { budget: bigint | null } }[],
  campaigns: ReadonlyMap<string, { budget: bigint | null }>, taken: readonly Explained[]): Promise<void> {
  const back = new Map<Scope, bigint>();
  for (const t of taken) {
    if (rules.find((r) => r.ruleId === t.ruleId)?.limits.budget != null) back.set(`rule:${t.ruleId}`, (back.get(`rule:${t.ruleId}`) ?? 0n) + t.points);
    if (t.campaignId !== null && campaigns.get(t.campaignId)?.budget != null) {
      back.set(`campaign:${t.campaignId}`, (back.get(`campaign:${t.campaignId}`) ?? 0n) + t.points);
    }
  }
  if (back.size === 0) return;
  const shards = await budgetShards(trx, tenantId, [...back.keys()], { shard: null, lock: true });
  await writeBudgetShards(trx, tenantId, [...back].flatMap(([scope, amount]) => {
    const mine = shards.filter((s) => s.scope === scope);
    return mine.length === 0 || amount === 0n ? [] : respread(mine, shardOf(memberId), amount);
  }));
}

function newRecord(request: EventRequest, eventId: string, memberId: string, now: Date, fields: Partial<EventRecord>): EventRecord {
  const { event } = request;
  const entries = fields.entries ?? [];
  return {
    eventId, programId: request.programId, memberId, externalId: event.externalId, type: event.type,
    kind: event.kind, occurredAt: event.occurredAt ?? now, channel: event.channel, location: event.location,
    currency: event.currency, orderId: event.orderId, lines: 'lines' in event ? event.lines : null, total: null,
    paidWithPoints: null, purchaseEventId: null, purchaseExternalId: null, refundAmount: null,
    attributes: event.attributes, createdAt: now, explanation: [], ...fields, entries,
    points: entries.find((e) => e.wallet === DEFAULT_WALLET)?.amount ?? 0n,
    ledgerEntryId: entries.find((e) => e.wallet === DEFAULT_WALLET)?.entryId ?? null,
  };
}

/** The ledger results of one event as one: every entry, and each touched wallet's balance after the last of them. */
function merged(results: readonly LedgerResult[]): LedgerResult | null {
  if (results.length === 0) return null;
  // A wallet written twice (an earn and a tier bonus) shows its balance after the last write.
  const balances = new Map(results.map((r) => [r.balances[0]!.walletId, r.balances[0]!]));
  return { entries: results.flatMap((r) => r.entries), balances: [...balances.values()] };
}

interface Written {
  record: EventRecord;
  ledger: LedgerResult[];
  facts: EventResultFacts;
  activity: Activity;
  /** the rules' awards, written with the event (a return's are negative, naming the purchase) */
  awards: AwardRow[];
  tier: TierChange | null;
  enrolled: EnrolledMember | null;
  /** the rules an exclusive rule kept from running (a purchase's returns may run them) */
  excluded: readonly RuleRef[];
  /** what features decided to record (achievements' unlocks and messages), written with the event's own rows */
  alsoRecord?: readonly RawBuilder<unknown>[];
}

/** The tier-qualifying points among an event's awards (negative for a return). */
const qualifyingPoints = (program: EventProgram, awards: readonly Explained[]): bigint =>
  sumBig(awards.filter((a) => program.qualifyingWallets.includes(a.wallet)).map((a) => a.points));
type EventResultFacts = Parameters<typeof recordEventRows>[2]['facts'];

/** Runs the event's transaction under its key and records the event and its answer in it. */
async function store(laurel: Laurel, tenantId: string, key: string, request: EventRequest, program: EventProgram,
  write: (trx: Trx, now: Date, lookup: Parameters<Parameters<typeof idempotent>[5]>[3]) => Promise<Written>): Promise<EventResult> {
  try {
    return await idempotent(laurel, tenantId, key, OPERATION, request, async (trx, now, stored, lookup) => {
      const { record, ledger, facts, activity, awards, tier, enrolled, excluded, alsoRecord } = await write(trx, now, lookup);
      const result: EventResult = { event: record, points: record.points, ledger: merged(ledger), tier, enrolled: enrolled !== null, member: enrolled };
      await recordEventRows(trx, tenantId, { stored: stored(result), now, event: record, facts, excluded, awards, activity, also: alsoRecord });
      if (program.uses.accounting) await recordEventAccounting(trx, tenantId, record, now);
      return result;
    }, { lookupInWork: true, twinConstraints: ['events_tenant_id_program_id_external_id_key'] });
  } catch (e) {
    if (e instanceof DomainError && e.code === 'idempotency_conflict') throw eventConflict(request.event.externalId);
    throw e;
  }
}

/**
 * Creates a member and, when the program has signup rules, sends their signup event: the
 * welcome bonus. The event's id is derived from the member's, so a retry never pays it twice. A
 * welcome that fails leaves the member enrolled (they are committed) and their welcome due: the
 * welcomes job sends it again (sendDueWelcomes).
 */
export async function enrolMember(laurel: Laurel, tenantId: string, input: MemberInput, idempotencyKey?: string,
  options: { byEvent?: string; onWelcomeFailed?: (error: unknown) => void } = {}): Promise<Member> {
  const member = await createMember(laurel, tenantId, input, idempotencyKey, { byEvent: options.byEvent, welcome: true });
  try {
    await welcome(laurel, tenantId, member.programId, member.memberId);
  } catch (e) {
    options.onWelcomeFailed?.(e);
  }
  return member;
}

/** Sends a member's welcome (signup event) if their program has signup rules; either way, it is then no longer due. */
export async function welcome(laurel: Laurel, tenantId: string, programId: string, memberId: string): Promise<void> {
  const signupRules = await laurel.db.selectFrom('rules').select('rule_id')
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('trigger', '=', SIGNUP).where('enabled', '=', true)
    .limit(1).execute();
  if (signupRules.length === 0) return markWelcomed(laurel.db, tenantId, memberId);
  await ingestEvent(laurel, tenantId, { programId, memberId, type: SIGNUP, externalId: `signup:${memberId}`, actor: 'enrolment' }, { internal: true });
}

/** The member a request names by id or identifiers, in the program; nobody is enrolled. */
export async function resolveMemberId(laurel: Laurel, tenantId: string, program: EventProgram,
  input: Pick<IngestInput, 'memberId' | 'member'>): Promise<string> {
  const ref = memberRefOf(input as IngestInput, 'action')!;
  return (await resolveMember(laurel, tenantId, program, ref, { enrol: false })).memberId;
}

interface FoundMember extends EnrolledMember {
  status: 'active' | 'suspended' | 'erased';
  enrolledByEvent: string | null;
}

const FOUND = ['member_id', 'status', 'enrolled_by_event', 'external_id', 'email', 'phone', 'card_code'] as const;

const foundMember = (r: {
  member_id: string; status: FoundMember['status']; enrolled_by_event: string | null; external_id: string | null; email: string | null;
  phone: string | null; card_code: string | null;
}): FoundMember => ({
  memberId: r.member_id, status: r.status, enrolledByEvent: r.enrolled_by_event, externalId: r.external_id, email: r.email,
  phone: r.phone, cardCode: r.card_code,
});

const enrolledMember = (m: FoundMember): EnrolledMember =>
  ({ memberId: m.memberId, externalId: m.externalId, email: m.email, phone: m.phone, cardCode: m.cardCode });

async function membersWith(laurel: Laurel, tenantId: string, programId: string, ids: Partial<Record<Identifier, string>>): Promise<FoundMember[]> {
  const given = IDENTIFIERS.filter((k) => ids[k] !== undefined);
  const rows = await laurel.db.selectFrom('members').select(FOUND)
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId)
    .where((eb) => eb.or(given.map((k) => eb(COLUMN[k], '=', ids[k]!))))
    .execute();
  return rows.map(foundMember);
}

interface Enrolling {
  /** a universal program's event: a member it does not know is enrolled */
  enrol: boolean;
  /** the event's externalId, recorded on a member it enrols */
  byEvent?: string;
  onWelcomeFailed?: (error: unknown) => void;
}

/**
 * The member an event names, in its program; a universal program enrols one it does not know yet,
 * given their externalId, or their email when the program enrols by e-mail. `named`: the program's
 * members the reference matches, when the caller has read them.
 */
async function resolveMember(laurel: Laurel, tenantId: string, program: EventProgram, ref: MemberRef, enrolling: Enrolling,
  named?: FoundMember[]): Promise<FoundMember> {
  if ('memberId' in ref) {
    const row = named ? named[0] : await laurel.db.selectFrom('members').select(FOUND)
      .where('tenant_id', '=', tenantId).where('member_id', '=', ref.memberId).where('program_id', '=', program.programId)
      .executeTakeFirst().then((r) => r && foundMember(r));
    if (!row) throw notFound('member', 'memberId');
    return row;
  }
  const ids = ref.identifiers;
  const found = named ?? await membersWith(laurel, tenantId, program.programId, ids);
  if (found.length > 1) throw new DomainError('conflict', 'these identifiers belong to different members', 'member');
  if (found[0]) return found[0];
  if (!enrolling.enrol || (ids.externalId === undefined && ids.email === undefined)) {
    throw new DomainError('not_found', program.enrollmentMode === 'opt_in'
      ? 'member not found (this program enrols members on request only)'
      : 'member not found (a first event enrols a member only when it gives their externalId or email)', 'member');
  }
  if (ids.externalId === undefined && !program.enrollByEmail) {
    throw new DomainError('not_found', 'no member has this email, and this program does not enrol by e-mail alone (enrollByEmail: false): '
      + 'enrol them first (POST /v1/members), or name them by externalId', 'member.email');
  }
  try {
    const created = await enrolMember(laurel, tenantId, { programId: program.programId, ...ids }, undefined,
      { byEvent: enrolling.byEvent, onWelcomeFailed: enrolling.onWelcomeFailed });
    return {
      memberId: created.memberId, status: created.status, enrolledByEvent: created.enrolledByEvent, externalId: created.externalId,
      email: created.email, phone: created.phone, cardCode: created.cardCode,
    };
  } catch (e) {
    // Another event enrolled them a moment ago: that member is the one.
    if (!(e instanceof DomainError && e.code === 'conflict')) throw e;
    const again = await membersWith(laurel, tenantId, program.programId, ids);
    if (again.length !== 1) throw e;
    return again[0]!;
  }
}

/** The event that wrote a journal entry (its key is the event's), when one did. */
export async function eventOfEntry(laurel: Laurel, tenantId: string, entry: { idempotencyKey: string | null }): Promise<EventRecord | null> {
  const m = /^event:([0-9a-f-]{36}):(.*)$/s.exec(entry.idempotencyKey ?? '');
  if (!m) return null;
  const row = await findEventByExternalId(laurel.db, tenantId, m[1]!, m[2]!);
  return row ? eventOf(row) : null;
}

export async function getEvent(laurel: Laurel, tenantId: string, eventId: string): Promise<EventRecord> {
  const row = await loadEvent(laurel.db, tenantId, requireId(eventId, 'eventId', 'event'));
  if (!row) throw notFound('event', 'eventId');
  return eventOf(row);
}

export interface MemberEventFilter {
  memberId: string;
  types?: string[];
  /** events older than this one (pages go newest first) */
  before?: string | null;
  limit: number;
}

/** A member's events, newest first; limit+1 rows so the caller knows if more follow. */
export async function listMemberEvents(laurel: Laurel, tenantId: string, filter: MemberEventFilter): Promise<EventRecord[]> {
  const member = await getMember(laurel, tenantId, filter.memberId);
  for (const t of filter.types ?? []) if (!EVENT_TYPE.test(t)) throw invalid('type', `${t} is not an event type`);
  const rows = await listEventRows(laurel.db, tenantId, { memberId: member.memberId, types: filter.types, before: filter.before, limit: filter.limit });
  return rows.map(eventOf);
}
