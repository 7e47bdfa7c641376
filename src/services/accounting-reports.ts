// Accounting reports and period closes (SPEC §10): the liability roll-forward of a month, quarter
// or year, its rates, its CSV, the journal export, and closing months.
//
// A period's figures are the difference between the program's cumulative state at its end and at
// its start. At a boundary a closed month ends, the state is the one frozen when it was closed;
// anywhere else it is read live. So closed periods never change, and whatever is written later
// (a return of an old purchase, a late redemption) lands in the first open period. Months close in
// order from the program's first month, so every boundary inside the closed stretch is frozen.
import { formatRate, ratio } from '../core/accounting/arithmetic.js';
import { csv, journalLines, type JournalLine } from '../core/accounting/journal.js';
import { monthOf, parsePeriod, previousMonth, type Period } from '../core/accounting/periods.js';
import { allocatedOf, recognise, rollForward, ZERO_STATE, type AccountingState, type RollForward } from '../core/accounting/recognition.js';
import { DomainError } from '../core/errors.js';
import { cumulativeStates, insertCloses, listCloses, listRates, type CloseRow, type RateRow } from '../db/accounting.js';
import { isUniqueViolation } from './idempotency.js';
import { booksOf, type ProgramBooks } from './accounting.js';
import type { Laurel } from './context.js';

export interface AccountingReport {
  programId: string;
  period: Period;
  currency: string;
  status: 'open' | 'closed';
  openingRateBps: number;
  closingRateBps: number;
  rollForward: RollForward;
  /** cumulative at the period's end */
  allocatedToDate: bigint;
  recognisedToDate: bigint;
  redeemedToDate: bigint;
  expiredToDate: bigint;
  issuedToDate: bigint;
}

const FIELDS = Object.keys(ZERO_STATE) as (keyof AccountingState)[];
const freeze = (s: AccountingState) => Object.fromEntries(FIELDS.map((k) => [k, s[k].toString()])) as Record<keyof AccountingState, string>;
// A month closed before fee refunds were booked has no feesRefunded: it had none.
const thaw = (f: Record<keyof AccountingState, string>): AccountingState => Object.fromEntries(FIELDS.map((k) => [k, BigInt(f[k] ?? '0')])) as unknown as AccountingState;

/** The rate used for the figures at instant t: the last one in force before it (the first one for the very start). */
function rateBefore(rates: readonly RateRow[], t: Date): number {
  let found = rates[0]!.rateBps;
  for (const r of rates) if (r.effectiveFrom.getTime() < t.getTime()) found = r.rateBps;
  return found;
}

/** The cumulative states (and rates) at the given instants: frozen where a closed month ends, zero before the program's first month, live elsewhere. */
async function statesAt(laurel: Laurel, tenantId: string, books: ProgramBooks, instants: readonly Date[], closes: readonly CloseRow[], rates: readonly RateRow[]) {
  const first = monthOf(books.program.createdAt, books.timeZone).start.getTime();
  const frozen = new Map(closes.map((c) => [c.endAt.getTime(), c.state]));
  const live = instants.filter((t) => !frozen.has(t.getTime()) && t.getTime() > first);
  const read = await cumulativeStates(laurel.db, tenantId, books.program.programId, books.walletId, live);
  return instants.map((t) => {
    const f = frozen.get(t.getTime());
    if (f) return { state: thaw(f.figures), rateBps: f.rateBps };
    if (t.getTime() <= first) return { state: ZERO_STATE, rateBps: rateBefore(rates, t) };
    return { state: read[live.indexOf(t)]!, rateBps: rateBefore(rates, t) };
  });
}

export async function accountingReport(laurel: Laurel, tenantId: string, programId: string, label: unknown): Promise<AccountingReport> {
  const books = await booksOf(laurel, tenantId, programId);
  const period = parsePeriod(label, books.timeZone);
  const [closes, rates] = [await listCloses(laurel.db, tenantId, books.program.programId), await listRates(laurel.db, tenantId, books.program.programId)];
  const [start, end] = await statesAt(laurel, tenantId, books, [period.start, period.end], closes, rates);
  const closed = new Set(closes.map((c) => c.month));
  const rf = rollForward(start!.state, start!.rateBps, end!.state, end!.rateBps);
  const s = end!.state;
  return {
    programId: books.program.programId, period, currency: books.currency, status: period.months.every((m) => closed.has(m)) ? 'closed' : 'open',
    openingRateBps: start!.rateBps, closingRateBps: end!.rateBps, rollForward: rf,
    allocatedToDate: allocatedOf(s), recognisedToDate: recognise(s, end!.rateBps).total,
    redeemedToDate: s.redeemed, expiredToDate: s.expired, issuedToDate: s.issued - s.returned + s.adjusted,
  };
}

/** The report as the API shows it: numbers, and rates as decimal strings. */
export function presentReport(r: AccountingReport) {
  const n = (v: bigint) => Number(v);
  const m = r.rollForward.money;
  const p = r.rollForward.points;
  const f = r.rollForward.fees;
  return {
    object: 'accounting_report' as const, programId: r.programId, period: r.period.label, kind: r.period.kind,
    start: r.period.start.toISOString(), end: r.period.end.toISOString(), currency: r.currency, status: r.status,
    expectedRedemptionRate: { opening: formatRate(r.openingRateBps), closing: formatRate(r.closingRateBps) },
    liability: {
      opening: n(m.opening), issued: n(m.issued), returned: n(m.returned), redeemed: n(m.redeemed), breakage: n(m.breakage),
      expired: n(m.expired), estimateChange: n(m.estimateChange), closing: n(m.closing),
    },
    points: { opening: n(p.opening), issued: n(p.issued), returned: n(p.returned), redeemed: n(p.redeemed), expired: n(p.expired), adjusted: n(p.adjusted), closing: n(p.closing) },
    deferredFees: { opening: n(f.opening), received: n(f.received), refunded: n(f.refunded), recognised: n(f.recognised), closing: n(f.closing) },
    revenue: { points: n(m.revenue), fees: n(-f.recognised) },
    toDate: { allocated: n(r.allocatedToDate), recognised: n(r.recognisedToDate), liability: n(r.allocatedToDate - r.recognisedToDate) },
    rates: {
      redemptionRate: ratio(r.redeemedToDate, r.issuedToDate),
      expiryRate: ratio(r.expiredToDate, r.issuedToDate),
      breakageRate: formatRate(10_000 - r.closingRateBps),
      costPerPoint: ratio(m.issued, p.issued, 6),
    },
  };
}

/** The roll-forward as CSV: one row per line, points and money side by side. */
export function reportCsv(r: AccountingReport): string {
  const m = r.rollForward.money;
  const p = r.rollForward.points;
  const rows: [string, bigint | null, bigint | null][] = [
    ['opening', p.opening, m.opening], ['issued', p.issued, m.issued], ['returned', p.returned, m.returned],
    ['redeemed', p.redeemed, m.redeemed], ['breakage', null, m.breakage], ['expired', p.expired, m.expired],
    ['estimate_change', null, m.estimateChange], ['adjusted', p.adjusted, null], ['closing', p.closing, m.closing],
  ];
  return csv([
    ['period', 'line', 'points', `liability_${r.currency.toLowerCase()}_minor`],
    ...rows.map(([line, pts, money]) => [r.period.label, line, pts === null ? '' : pts.toString(), money === null ? '' : money.toString()]),
  ]);
}

export async function journalCsv(laurel: Laurel, tenantId: string, programId: string, label: unknown): Promise<{ report: AccountingReport; lines: JournalLine[]; csv: string }> {
  const report = await accountingReport(laurel, tenantId, programId, label);
  const books = await booksOf(laurel, tenantId, programId);
  const lines = journalLines(report.rollForward, books.settings.glAccounts);
  const date = report.period.end.toISOString().slice(0, 10);
  return {
    report, lines,
    csv: csv([
      ['period', 'date', 'account', 'movement', 'debit', 'credit', 'currency'],
      ...lines.map((l) => [report.period.label, date, l.account, l.movement, l.debit.toString(), l.credit.toString(), report.currency]),
    ]),
  };
}

/**
 * Closes the months of a period that are not closed yet: each must have ended, and the month before
 * the first must be closed (or before the program). Their end states are frozen in one statement.
 */
export async function closePeriod(laurel: Laurel, tenantId: string, programId: string, label: unknown, actor: string): Promise<{ closed: string[]; report: AccountingReport }> {
  const books = await booksOf(laurel, tenantId, programId);
  const period = parsePeriod(label, books.timeZone);
  const now = laurel.clock.now();
  if (period.end > now) throw new DomainError('conflict', `${period.label} has not ended yet`, 'period');
  const closes = await listCloses(laurel.db, tenantId, books.program.programId);
  const rates = await listRates(laurel.db, tenantId, books.program.programId);
  const done = new Set(closes.map((c) => c.month));
  const todo = period.months.filter((m) => !done.has(m));
  if (todo.length === 0) throw new DomainError('conflict', `${period.label} is already closed`, 'period');
  const firstMonth = monthOf(books.program.createdAt, books.timeZone).label;
  const before = previousMonth(todo[0]!);
  if (todo[0]! > firstMonth && !done.has(before)) throw new DomainError('conflict', `close ${before} first: months close in order`, 'period');
  const months = todo.filter((m) => m >= firstMonth).map((m) => parsePeriod(m, books.timeZone));
  const skipped = todo.filter((m) => m < firstMonth).map((m) => parsePeriod(m, books.timeZone));
  const all = [...skipped, ...months];
  const states = await statesAt(laurel, tenantId, books, all.map((m) => m.end), closes, rates);
  const rows: CloseRow[] = all.map((m, i) => ({
    month: m.label, startAt: m.start, endAt: m.end, state: { figures: freeze(states[i]!.state), rateBps: states[i]!.rateBps }, closedAt: now, closedBy: actor,
  }));
  try {
    await insertCloses(laurel.db, tenantId, books.program.programId, rows);
  } catch (e) {
    if (isUniqueViolation(e)) throw new DomainError('conflict', `${period.label} was closed meanwhile`, 'period');
    throw e;
  }
  return { closed: all.map((m) => m.label), report: await accountingReport(laurel, tenantId, programId, label) };
}

