// Loyalty accounting (SPEC §10): a program's accounting settings and expected redemption rates,
// the allocation each earning purchase writes in its own transaction, and paid membership fees.
// Reports and period closes are in accounting-reports.ts.
import { DateTime } from 'luxon';
import { allocate, reversalOf } from '../core/accounting/allocation.js';
import { formatRate, parseRate } from '../core/accounting/arithmetic.js';
import { feeRecognised } from '../core/accounting/fees.js';
import { estimateRate, type Estimate } from '../core/accounting/estimate.js';
import { DEFAULT_GL, GL_ACCOUNTS, type GlAccounts } from '../core/accounting/journal.js';
import { monthOf, parsePeriod } from '../core/accounting/periods.js';
import { DomainError, invalid } from '../core/errors.js';
import type { EventRecord } from '../core/events/event.js';
import { uuidv7 } from '../core/ids.js';
import { DEFAULT_WALLET, validatePointValue } from '../core/program.js';
import {
  allocationContext, cohorts, feeRefunded, findFee, findFeeRefund, insertAccountingEntry, listCloses, listRates, loadSettings, purchaseAllocation, saveRate, saveSettings,
  type AccountingSettingsRow, type RateRow,
} from '../db/accounting.js';
import type { Trx } from '../db/ledger.js';
import type { Laurel } from './context.js';
import { getProgram, getTenant, type Program } from './tenants.js';
import { requireId } from './validate.js';

export interface AccountingSettings extends AccountingSettingsRow {
  rates: RateRow[];
  closedThrough: string | null;
}

const GL_CODE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$/;

export interface ProgramBooks {
  program: Program;
  timeZone: string;
  currency: string;
  settings: AccountingSettingsRow;
  walletId: string;
}

/** The program, its tenant's zone and its accounting settings; 404 for a program of another tenant, 409 before settings exist. */
export async function booksOf(laurel: Laurel, tenantId: string, programId: string): Promise<ProgramBooks> {
  const program = await getProgram(laurel, tenantId, programId);
  const tenant = await getTenant(laurel, tenantId);
  const settings = await loadSettings(laurel.db, tenantId, program.programId);
  if (!settings) throw new DomainError('conflict', 'this program has no accounting settings yet: PUT /v1/programs/{programId}/accounting first', 'programId');
  return { program, timeZone: tenant.timeZone, currency: tenant.currency, settings, walletId: pointsWalletOf(program) };
}

/** The wallet the books count: a program without a `points` wallet has no points liability to account for. */
function pointsWalletOf(program: Awaited<ReturnType<typeof getProgram>>): string {
  const wallet = program.wallets.find((w) => w.code === DEFAULT_WALLET);
  if (!wallet) throw new DomainError('conflict', `accounting counts the ${DEFAULT_WALLET} wallet, and this program has none`, 'programId');
  return wallet.walletId;
}

export async function getAccountingSettings(laurel: Laurel, tenantId: string, programId: string): Promise<AccountingSettings> {
  const { program, settings } = await booksOf(laurel, tenantId, programId);
  const closes = await listCloses(laurel.db, tenantId, program.programId);
  return { ...settings, rates: await listRates(laurel.db, tenantId, program.programId), closedThrough: closes.at(-1)?.month ?? null };
}

export interface SettingsInput {
  currency?: unknown;
  pointValue?: unknown;
  expectedRedemptionRate?: unknown;
  rateMethod?: unknown;
  minHistoryMonths?: unknown;
  lifetimeFeeMonths?: unknown;
  glAccounts?: unknown;
}

const intIn = (v: unknown, field: string, min: number, max: number): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(field, `${field} must be an integer from ${min} to ${max}`);
  return v;
};

/**
 * Sets a program's accounting settings. The first time, `pointValue` and `expectedRedemptionRate`
 * are required; the rate then applies from the program's first month. Later rates are set per
 * period (setRate). The currency is the tenant's: events in another are refused anyway.
 */
export async function putAccountingSettings(laurel: Laurel, tenantId: string, programId: string, input: SettingsInput, actor: string): Promise<AccountingSettings> {
  if (typeof input !== 'object' || input === null) throw invalid('body', 'settings are an object');
  const program = await getProgram(laurel, tenantId, programId);
  pointsWalletOf(program);
  const tenant = await getTenant(laurel, tenantId);
  const current = await loadSettings(laurel.db, tenantId, program.programId);
  if (input.currency !== undefined && input.currency !== tenant.currency) throw invalid('currency', `this tenant's money is in ${tenant.currency}`);
  const pointValue = input.pointValue === undefined ? current?.pointValue : validatePointValue(input.pointValue);
  if (!pointValue) throw invalid('pointValue', 'pointValue ({ points, minor }: so many points have a stand-alone selling price of so many minor units) is required');
  const firstRate = input.expectedRedemptionRate === undefined ? null : parseRate(input.expectedRedemptionRate, 'expectedRedemptionRate');
  const rates = await listRates(laurel.db, tenantId, program.programId);
  if (rates.length === 0 && firstRate === null) throw invalid('expectedRedemptionRate', 'expectedRedemptionRate is required the first time (later: PUT …/accounting/rates/{period})');
  if (rates.length > 0 && firstRate !== null) throw invalid('expectedRedemptionRate', 'the rate is set per period once settings exist: PUT …/accounting/rates/{period}');
  const rateMethod = input.rateMethod === undefined ? current?.rateMethod ?? 'manual' : input.rateMethod;
  if (rateMethod !== 'manual' && rateMethod !== 'estimated') throw invalid('rateMethod', 'rateMethod is manual or estimated');
  const glAccounts: GlAccounts = { ...DEFAULT_GL, ...current?.glAccounts };
  if (input.glAccounts !== undefined) {
    if (typeof input.glAccounts !== 'object' || input.glAccounts === null || Array.isArray(input.glAccounts)) throw invalid('glAccounts', 'glAccounts is an object of account codes');
    for (const [k, v] of Object.entries(input.glAccounts)) {
      if (!(GL_ACCOUNTS as readonly string[]).includes(k)) throw invalid(`glAccounts.${k}`, `is not an account of the export (${GL_ACCOUNTS.join(', ')})`);
      if (typeof v !== 'string' || !GL_CODE.test(v)) throw invalid(`glAccounts.${k}`, 'an account code is 1 to 32 letters, digits or . _ : -');
      glAccounts[k as keyof GlAccounts] = v;
    }
  }
  const now = laurel.clock.now();
  const settings: AccountingSettingsRow = {
    programId: program.programId, currency: tenant.currency, pointValue, rateMethod,
    minHistoryMonths: input.minHistoryMonths === undefined ? current?.minHistoryMonths ?? 6 : intIn(input.minHistoryMonths, 'minHistoryMonths', 1, 120),
    lifetimeFeeMonths: input.lifetimeFeeMonths === undefined ? current?.lifetimeFeeMonths ?? 36 : intIn(input.lifetimeFeeMonths, 'lifetimeFeeMonths', 1, 1200),
    glAccounts, updatedAt: now,
  };
  await laurel.db.transaction().execute(async (trx) => {
    await saveSettings(trx, tenantId, settings);
    if (firstRate !== null) {
      const first = monthOf(program.createdAt, tenant.timeZone);
      await saveRate(trx, tenantId, program.programId, { effectiveFrom: first.start, period: first.label, rateBps: firstRate, method: 'manual', inputs: null, setAt: now, setBy: actor });
    }
  });
  return getAccountingSettings(laurel, tenantId, program.programId);
}

/** The estimate from the program's closed cohorts, with its inputs; nothing is saved. */
export async function estimateRedemptionRate(laurel: Laurel, tenantId: string, programId: string): Promise<Estimate> {
  const books = await booksOf(laurel, tenantId, programId);
  const now = laurel.clock.now();
  const found = await cohorts(laurel.db, tenantId, books.walletId, books.timeZone, monthOf(now, books.timeZone).start);
  return estimateRate(found, books.settings.minHistoryMonths);
}

/**
 * The expected redemption rate from the start of a period on: by hand, or the estimate (which must
 * have enough history). Periods already closed keep the rate they were closed with.
 */
export async function setRate(laurel: Laurel, tenantId: string, programId: string, label: string,
  input: { expectedRedemptionRate?: unknown; method?: unknown }, actor: string): Promise<RateRow> {
  const books = await booksOf(laurel, tenantId, programId);
  const period = parsePeriod(label, books.timeZone);
  const method = input.method ?? (input.expectedRedemptionRate === undefined ? books.settings.rateMethod : 'manual');
  if (method !== 'manual' && method !== 'estimated') throw invalid('method', 'method is manual or estimated');
  const closes = await listCloses(laurel.db, tenantId, books.program.programId);
  const closedEnd = closes.at(-1)?.endAt;
  if (closedEnd && period.start < closedEnd) {
    throw new DomainError('conflict', `${closes.at(-1)!.month} is closed: a new estimate applies from an open period on`, 'period');
  }
  let rateBps: number;
  let inputs: unknown = null;
  if (method === 'manual') {
    if (input.expectedRedemptionRate === undefined) throw invalid('expectedRedemptionRate', 'a manual rate needs expectedRedemptionRate');
    rateBps = parseRate(input.expectedRedemptionRate, 'expectedRedemptionRate');
  } else {
    if (input.expectedRedemptionRate !== undefined) throw invalid('expectedRedemptionRate', 'an estimated rate is computed, not given');
    const estimate = await estimateRedemptionRate(laurel, tenantId, books.program.programId);
    if (!estimate.sufficient) {
      throw new DomainError('conflict', `the estimate needs ${estimate.minHistoryMonths} closed cohorts; the program has ${estimate.closedCohorts}`, 'method');
    }
    rateBps = estimate.rateBps!;
    inputs = presentEstimate(estimate);
  }
  const row: RateRow = { effectiveFrom: period.start, period: period.label, rateBps, method, inputs, setAt: laurel.clock.now(), setBy: actor };
  await saveRate(laurel.db, tenantId, books.program.programId, row);
  return row;
}

export const presentEstimate = (e: Estimate) => ({
  expectedRedemptionRate: e.rateBps === null ? null : formatRate(e.rateBps), sufficient: e.sufficient, closedCohorts: e.closedCohorts,
  minHistoryMonths: e.minHistoryMonths, issued: Number(e.issued), redeemed: Number(e.redeemed), expired: Number(e.expired), returned: Number(e.returned),
  cohorts: e.cohorts.map((c) => ({ month: c.month, issued: Number(c.issued), redeemed: c.closed ? Number(c.redeemed) : null, expired: Number(c.expired), returned: Number(c.returned), closed: c.closed })),
});

/**
 * The event path's one call (inside the event's transaction): a purchase that earned points in
 * the points wallet allocates part of its price to them; a return takes back the allocation of the
 * points it took back. Programs without accounting settings write nothing.
 */
export async function recordEventAccounting(trx: Trx, tenantId: string, record: EventRecord, now: Date): Promise<void> {
  const earned = record.entries.find((e) => e.wallet === DEFAULT_WALLET);
  if (!earned) return;
  if (record.kind === 'purchase' && earned.amount > 0n && (record.total ?? 0n) > 0n) {
    const context = await allocationContext(trx, tenantId, record.programId, record.memberId, now);
    if (!context) return;
    const a = allocate(record.total!, earned.amount, context.pointValue, context.rateBps, context.carryMicro);
    await insertAccountingEntry(trx, tenantId, {
      entryId: uuidv7(now.getTime()), programId: record.programId, kind: 'allocation', memberId: record.memberId, eventId: record.eventId,
      purchaseEventId: record.eventId, ledgerEntryId: earned.entryId, points: earned.amount, amount: a.amount, price: record.total,
      sspMicro: a.sspMicro, rateBps: context.rateBps, carryMicro: a.carryMicro, postedAt: now,
    });
  } else if (record.kind === 'return' && earned.amount < 0n && record.purchaseEventId) {
    const allocation = await purchaseAllocation(trx, tenantId, record.purchaseEventId);
    if (!allocation) return;
    const amount = reversalOf(allocation, allocation.pointsBack, -earned.amount, allocation.reversed);
    await insertAccountingEntry(trx, tenantId, {
      entryId: uuidv7(now.getTime()), programId: record.programId, kind: 'allocation_reversal', memberId: record.memberId, eventId: record.eventId,
      purchaseEventId: record.purchaseEventId, ledgerEntryId: earned.entryId, points: earned.amount, amount: -amount, postedAt: now,
    });
  }
}

export interface MembershipFee {
  programId: string;
  /** the caller's id of the payment: a fee is deferred once */
  feeRef: string;
  memberId: string | null;
  /** minor units, in the tenant's currency */
  amount: bigint;
  /** the service period it pays for; serviceEnd null: a lifetime plan, recognised over lifetimeFeeMonths */
  serviceStart: Date;
  serviceEnd: Date | null;
}

/**
 * Defers a paid membership fee, to be recognised straight-line over its service period. Call it in
 * the transaction that records the payment (memberships' own), so the fee and its deferral commit
 * together; a second call with the same feeRef writes nothing. Returns the service end used.
 */
export async function deferMembershipFee(trx: Trx, tenantId: string, fee: MembershipFee, now: Date): Promise<{ deferred: boolean; serviceEnd: Date }> {
  const settings = await loadSettings(trx, tenantId, fee.programId);
  if (!settings) throw new DomainError('conflict', 'this program has no accounting settings yet', 'programId');
  if (fee.amount <= 0n) throw invalid('amount', 'a fee is a positive amount of minor units');
  if (typeof fee.feeRef !== 'string' || fee.feeRef.length === 0 || fee.feeRef.length > 200) throw invalid('feeRef', 'feeRef is 1 to 200 characters');
  const serviceEnd = fee.serviceEnd ?? DateTime.fromJSDate(fee.serviceStart, { zone: 'UTC' }).plus({ months: settings.lifetimeFeeMonths }).toJSDate();
  if (serviceEnd <= fee.serviceStart) throw invalid('serviceEnd', 'the service period ends after it starts');
  // A date-time the API answers with must be one it accepts back (years 1 to 9999).
  if (serviceEnd.getUTCFullYear() > 9999) throw invalid(fee.serviceEnd ? 'serviceEnd' : 'serviceStart', `the service period must end by 9999-12-31 (a lifetime plan runs ${settings.lifetimeFeeMonths} months)`);
  if (await findFee(trx, tenantId, fee.programId, fee.feeRef)) return { deferred: false, serviceEnd };
  await insertAccountingEntry(trx, tenantId, {
    entryId: uuidv7(now.getTime()), programId: fee.programId, kind: 'fee', memberId: fee.memberId, eventId: null, purchaseEventId: null,
    ledgerEntryId: null, points: 0n, amount: fee.amount, feeRef: fee.feeRef, serviceStart: fee.serviceStart, serviceEnd, postedAt: now,
  });
  return { deferred: true, serviceEnd };
}

export interface MembershipFeeRefund {
  programId: string;
  /** the caller's id of the refund: a refund is booked once */
  refundRef: string;
  /** the feeRef of the fee it gives back (part of) */
  refundedFeeRef: string;
  memberId: string | null;
  /** money given back, positive minor units */
  amount: bigint;
  /** when it was refunded: the membership's service ends there */
  at: Date;
}

/**
 * Books a refunded membership fee (IFRS 15): the membership's service ends at the refund, so the
 * fee's part still deferred then (rest) stops being recognised, and what the customer keeps paid is
 * the revenue of the fee. The refund releases the deferred part; a refund larger than it reverses
 * recognised revenue; a smaller one recognises the rest of the deferred part at once (the
 * obligation is over). One `fee_refund` entry posted now, so a closed period never changes.
 * Call it in the transaction that records the refund; a fee never deferred (no settings then, or
 * another currency) has nothing to reverse. Answers whether it booked anything.
 */
export async function refundMembershipFee(trx: Trx, tenantId: string, refund: MembershipFeeRefund, now: Date): Promise<boolean> {
  if (refund.amount <= 0n) throw invalid('amount', 'a refund is a positive amount of minor units');
  const fee = await findFee(trx, tenantId, refund.programId, refund.refundedFeeRef);
  if (!fee || await findFeeRefund(trx, tenantId, refund.programId, refund.refundRef)) return false;
  const [start, end, amount] = [fee.service_start!, fee.service_end!, BigInt(fee.amount)];
  const from = new Date(Math.min(Math.max(refund.at.getTime(), start.getTime()), end.getTime()));
  // A second refund of the same fee finds its service already ended by the first: nothing of it is deferred.
  const rest = await feeRefunded(trx, tenantId, refund.programId, refund.refundedFeeRef) ? 0n : amount - feeRecognised(amount, start, end, from);
  await insertAccountingEntry(trx, tenantId, {
    entryId: uuidv7(now.getTime()), programId: refund.programId, kind: 'fee_refund', memberId: refund.memberId, eventId: null, purchaseEventId: null,
    ledgerEntryId: null, points: 0n, amount: -refund.amount, feeRef: refund.refundRef, refundedFeeRef: refund.refundedFeeRef,
    serviceStart: from, serviceEnd: end, feeRest: rest, postedAt: now,
  });
  return true;
}

/** The service call around deferMembershipFee, for a payment recorded outside a transaction of its own. */
export async function recordMembershipFee(laurel: Laurel, tenantId: string, fee: MembershipFee): Promise<{ deferred: boolean; serviceEnd: Date }> {
  const programId = requireId(fee.programId, 'programId', 'program');
  await getProgram(laurel, tenantId, programId);
  if (fee.memberId !== null) {
    const memberId = requireId(fee.memberId, 'memberId', 'member');
    const found = await laurel.db.selectFrom('members').select('member_id').where('tenant_id', '=', tenantId).where('member_id', '=', memberId)
      .where('program_id', '=', programId).executeTakeFirst();
    if (!found) throw new DomainError('not_found', 'member not found in this program', 'memberId');
  }
  return laurel.db.transaction().execute((trx) => deferMembershipFee(trx, tenantId, { ...fee, programId }, laurel.clock.now()));
}

