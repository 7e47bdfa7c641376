// Loyalty accounting (IFRS 15 / ASC 606): settings, expected redemption rates, reports, the journal
// export, period closes and membership fees. Owners and finance write; owners, finance and viewers read.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { formatRate } from '../../core/accounting/arithmetic.js';
import { invalid } from '../../core/errors.js';
import type { RateRow } from '../../db/accounting.js';
import {
  estimateRedemptionRate, getAccountingSettings, presentEstimate, putAccountingSettings, recordMembershipFee, setRate, type AccountingSettings,
} from '../../services/accounting.js';
import { accountingReport, closePeriod, journalCsv, presentReport, reportCsv } from '../../services/accounting-reports.js';
import type { Laurel } from '../../services/context.js';
import { actorOf, tenantOf, type Access } from '../auth.js';
import { described, errors, Id, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const READS: Access = { scopes: ['admin', 'read'], roles: ['owner', 'finance', 'viewer'] };
const WRITES: Access = { scopes: ['admin'], roles: ['owner', 'finance'] };

const Rate = (description: string) => Type.String({ pattern: '^(0(\\.\\d{1,4})?|1(\\.0{1,4})?)$', description, examples: ['0.95'] });
const PeriodLabel = Type.String({ pattern: '^\\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$', description: 'a month (2027-03), a quarter (2027-Q1) or a year (2027), in the tenant time zone', examples: ['2027-03'] });
const Money = (description: string) => Type.Integer({ description });
const GlCode = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$' });

const GlAccountsSchema = Type.Object({
  salesRevenue: GlCode, contractLiability: GlCode, loyaltyRevenue: GlCode, breakageRevenue: GlCode,
  feesReceived: GlCode, deferredFees: GlCode, membershipRevenue: GlCode,
}, { description: 'the GL account codes of the journal export' });

const RateSchema = Type.Object({
  period: Type.String({ description: 'the period it applies from (until the next rate)' }),
  effectiveFrom: Timestamp('the first instant it applies to'),
  expectedRedemptionRate: Rate('the share of points expected to be redeemed'),
  method: Type.String({ enum: ['manual', 'estimated'] }),
  inputs: Type.Unknown({ description: 'an estimated rate: the cohorts and totals it was computed from' }),
  setAt: Timestamp('when it was set'),
  setBy: Type.String(),
});

const SettingsSchema = Type.Object({
  object: Type.Literal('accounting_settings'),
  programId: Id('the program'),
  currency: Type.String({ description: "the tenant's currency: all money is in its minor units", examples: ['EUR'] }),
  pointValue: Type.Object({ points: Type.Integer(), minor: Type.Integer() }, { description: 'the stand-alone selling price of points: so many points sell for so many minor units' }),
  rateMethod: Type.String({ enum: ['manual', 'estimated'], description: 'how new rates are set by default' }),
  minHistoryMonths: Type.Integer({ description: 'closed cohorts an estimate needs' }),
  lifetimeFeeMonths: Type.Integer({ description: 'the months a lifetime membership fee is recognised over (policy)' }),
  glAccounts: GlAccountsSchema,
  rates: Type.Array(RateSchema, { description: 'the expected redemption rates, oldest first' }),
  closedThrough: Nullable(Type.String({ description: 'the last closed month' })),
  updatedAt: Timestamp('when the settings last changed'),
});

const SettingsBody = Type.Object({
  currency: Type.Optional(Type.String({ description: "must be the tenant's" })),
  pointValue: Type.Optional(Type.Object({ points: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }), minor: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) }, { additionalProperties: false })),
  expectedRedemptionRate: Type.Optional(Rate('the first rate, applied from the program\'s first month (required the first time; later rates: PUT …/accounting/rates/{period})')),
  rateMethod: Type.Optional(Type.String({ enum: ['manual', 'estimated'] })),
  minHistoryMonths: Type.Optional(Type.Integer({ minimum: 1, maximum: 120 })),
  lifetimeFeeMonths: Type.Optional(Type.Integer({ minimum: 1, maximum: 1200 })),
  glAccounts: Type.Optional(Type.Partial(GlAccountsSchema, { additionalProperties: false })),
}, { additionalProperties: false, examples: [{ pointValue: { points: 100, minor: 100 }, expectedRedemptionRate: '0.8', glAccounts: { contractLiability: '2400' } }] });

const Liability = Type.Object({
  opening: Money('liability at the start'), issued: Money('allocated to points issued with purchases'), returned: Money('allocation reversed by returns'),
  redeemed: Money('recognised as points were redeemed'), breakage: Money('expected breakage recognised in proportion to redemptions'),
  expired: Money('released by expiries beyond the estimate'), estimateChange: Money('cumulative catch-up of the opening figures to the new estimate'),
  closing: Money('liability at the end: opening + every line'),
}, { description: 'the contract liability (minor units); each line signed as it changes the liability' });

const PointsRoll = Type.Object({
  opening: Type.Integer(), issued: Type.Integer(), returned: Type.Integer(), redeemed: Type.Integer(), expired: Type.Integer(),
  adjusted: Type.Integer({ description: 'adjustments and write-offs' }), closing: Type.Integer({ description: 'points outstanding at the end: opening + every line' }),
}, { description: 'points of the points wallet, signed as they change what is outstanding' });

const ReportSchema = Type.Object({
  object: Type.Literal('accounting_report'),
  programId: Id('the program'),
  period: Type.String(), kind: Type.String({ enum: ['month', 'quarter', 'year'] }),
  start: Timestamp('first instant of the period'), end: Timestamp('first instant after it'),
  currency: Type.String(),
  status: Type.String({ enum: ['open', 'closed'], description: 'closed: every month of it is closed, and its figures never change' }),
  expectedRedemptionRate: Type.Object({ opening: Rate('used for the opening figures'), closing: Rate('used for the closing figures') }),
  liability: Liability,
  points: PointsRoll,
  deferredFees: Type.Object({
    opening: Type.Integer(), received: Type.Integer(), refunded: Type.Integer({ description: 'fees given back: what was still deferred of them, released (see revenue.fees for what was recognised and reversed)' }),
    recognised: Type.Integer(), closing: Type.Integer(),
  }, { description: 'membership fees not yet earned: opening + received + refunded + recognised = closing' }),
  revenue: Type.Object({ points: Money('revenue recognised from points in the period'), fees: Money('membership fees recognised in the period') }),
  toDate: Type.Object({ allocated: Type.Integer(), recognised: Type.Integer(), liability: Type.Integer() }, { description: 'cumulative at the end' }),
  rates: Type.Object({
    redemptionRate: Type.String({ description: 'points redeemed / points issued (net of returns), to date' }),
    expiryRate: Type.String({ description: 'points expired / points issued, to date' }),
    breakageRate: Type.String({ description: '1 − the expected redemption rate' }),
    costPerPoint: Type.String({ description: 'liability allocated per point issued in the period (minor units)' }),
  }),
});

const ProgramParams = Type.Object({ programId: Id('the program') });
const PeriodParams = Type.Object({ programId: Id('the program'), period: PeriodLabel });
const Csv = (description: string) => ({ description, content: { 'text/csv': { schema: Type.String() } } });

const presentRate = (r: RateRow) => ({
  period: r.period, effectiveFrom: r.effectiveFrom.toISOString(), expectedRedemptionRate: formatRate(r.rateBps), method: r.method,
  inputs: r.inputs ?? null, setAt: r.setAt.toISOString(), setBy: r.setBy,
});

const presentSettings = (s: AccountingSettings) => ({
  object: 'accounting_settings' as const, programId: s.programId, currency: s.currency,
  pointValue: { points: Number(s.pointValue.points), minor: Number(s.pointValue.minor) }, rateMethod: s.rateMethod,
  minHistoryMonths: s.minHistoryMonths, lifetimeFeeMonths: s.lifetimeFeeMonths, glAccounts: s.glAccounts,
  rates: s.rates.map(presentRate), closedThrough: s.closedThrough, updatedAt: s.updatedAt.toISOString(),
});

const date = (v: string | null | undefined, field: string): Date | null => {
  if (v === null || v === undefined) return null;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw invalid(field, `${field} is not a date-time`);
  return d;
};

export const accountingRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/programs/:programId/accounting', {
    schema: {
      operationId: 'getAccountingSettings', summary: "A program's accounting settings", tags: ['accounting'],
      description: 'Currency, point value (the stand-alone selling price of a point), the expected redemption rates by period, GL accounts, and the last closed month.',
      params: ProgramParams, response: { 200: described(SettingsSchema, 'The settings and rates.'), ...errors(403, 404, 409) },
    },
    config: { access: READS },
  }, async (request) => presentSettings(await getAccountingSettings(laurel, tenantOf(request), request.params.programId)));

  app.put('/programs/:programId/accounting', {
    schema: {
      operationId: 'setAccountingSettings', summary: 'Set accounting settings', tags: ['accounting'],
      description: 'From then on, each purchase that earns points allocates part of its price to them (relative stand-alone selling prices) as a contract liability, in the event\'s transaction. The first call needs `pointValue` and `expectedRedemptionRate`.',
      params: ProgramParams, headers: OptionalIdempotencyHeader, body: SettingsBody, response: { 200: described(SettingsSchema, 'The settings as saved.'), ...errors(403, 404, 409) },
    },
    config: { access: WRITES },
  }, async (request) => presentSettings(await putAccountingSettings(laurel, tenantOf(request), request.params.programId, request.body, actorOf(request))));

  app.put('/programs/:programId/accounting/rates/:period', {
    schema: {
      operationId: 'setExpectedRedemptionRate', summary: 'Set the expected redemption rate from a period on', tags: ['accounting'],
      description: 'By hand (`expectedRedemptionRate`), or `method: estimated` to apply the estimate from closed cohorts (see getRedemptionRateEstimate), stored with its inputs. The next report catches the recognised revenue up to it (cumulative catch-up). A closed period keeps its rate: 409.',
      params: PeriodParams, headers: OptionalIdempotencyHeader,
      body: Type.Object({ expectedRedemptionRate: Type.Optional(Rate('the share of points expected to be redeemed')), method: Type.Optional(Type.String({ enum: ['manual', 'estimated'] })) }, { additionalProperties: false }),
      response: { 200: described(RateSchema, 'The rate as saved.'), ...errors(403, 404, 409) },
    },
    config: { access: WRITES },
  }, async (request) => presentRate(await setRate(laurel, tenantOf(request), request.params.programId, request.params.period, request.body, actorOf(request))));

  app.get('/programs/:programId/accounting/rate-estimate', {
    schema: {
      operationId: 'getRedemptionRateEstimate', summary: 'The expected redemption rate estimated from history', tags: ['accounting'],
      description: 'The redeemed share of the points issued in closed cohorts (months whose points are all redeemed, expired or returned), net of returns, with every cohort it read. `sufficient` is false below the program\'s minHistoryMonths closed cohorts. Nothing is saved.',
      params: ProgramParams,
      response: {
        200: described(Type.Object({
          object: Type.Literal('redemption_rate_estimate'), expectedRedemptionRate: Nullable(Type.String()), sufficient: Type.Boolean(), closedCohorts: Type.Integer(),
          minHistoryMonths: Type.Integer(), issued: Type.Integer(), redeemed: Type.Integer(), expired: Type.Integer(), returned: Type.Integer(),
          cohorts: Type.Array(Type.Object({ month: Type.String(), issued: Type.Integer(), redeemed: Nullable(Type.Integer()), expired: Type.Integer(), returned: Type.Integer(), closed: Type.Boolean() })),
        }), 'The estimate and its inputs.'), ...errors(403, 404, 409),
      },
    },
    config: { access: READS },
  }, async (request) => ({ object: 'redemption_rate_estimate' as const, ...presentEstimate(await estimateRedemptionRate(laurel, tenantOf(request), request.params.programId)) }));

  app.get('/programs/:programId/accounting/reports/:period', {
    schema: {
      operationId: 'getAccountingReport', summary: 'Liability roll-forward of a period', tags: ['accounting'],
      description: 'Opening, issued, returned, redeemed, breakage, expired, estimate change and closing, in points and in money, each tying to the unit; the revenue recognised, membership fees, redemption and breakage rates and cost per point. A closed period answers the same figures forever.',
      params: PeriodParams, response: { 200: described(ReportSchema, 'The report.'), ...errors(403, 404, 409) },
    },
    config: { access: READS },
  }, async (request) => presentReport(await accountingReport(laurel, tenantOf(request), request.params.programId, request.params.period)));

  app.get('/programs/:programId/accounting/reports/:period/csv', {
    schema: {
      operationId: 'getAccountingReportCsv', summary: 'Liability roll-forward of a period, as CSV', tags: ['accounting'],
      description: 'One row per line of the roll-forward: points and liability (minor units) side by side.',
      params: PeriodParams, response: { 200: Csv('The roll-forward as CSV.'), ...errors(403, 404, 409) },
    },
    config: { access: READS },
  }, async (request, reply) => {
    const report = await accountingReport(laurel, tenantOf(request), request.params.programId, request.params.period);
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="liability-${report.period.label}.csv"`).send(reportCsv(report));
  });

  app.get('/programs/:programId/accounting/journal/:period/csv', {
    schema: {
      operationId: 'getAccountingJournalCsv', summary: 'Journal export of a period, as CSV', tags: ['accounting'],
      description: 'Balanced debit and credit lines per GL account for an ERP: the points\' share of sales moved to the contract liability, and back to loyalty or breakage revenue as recognised; membership fees deferred and earned. Debits equal credits.',
      params: PeriodParams, response: { 200: Csv('The journal as CSV.'), ...errors(403, 404, 409) },
    },
    config: { access: READS },
  }, async (request, reply) => {
    const journal = await journalCsv(laurel, tenantOf(request), request.params.programId, request.params.period);
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="journal-${journal.report.period.label}.csv"`).send(journal.csv);
  });

  app.post('/programs/:programId/accounting/closes', {
    schema: {
      operationId: 'closeAccountingPeriod', summary: 'Close a period', tags: ['accounting'],
      description: 'Freezes the figures of every month of the period (each must have ended; months close in order from the program\'s first). Whatever is written later lands in the first open period.',
      params: ProgramParams, headers: OptionalIdempotencyHeader, body: Type.Object({ period: PeriodLabel }, { additionalProperties: false }),
      response: { 201: described(Type.Object({ object: Type.Literal('accounting_close'), closed: Type.Array(Type.String(), { description: 'the months closed now' }), report: ReportSchema }), 'The months closed and the period\'s report.'), ...errors(403, 404, 409) },
    },
    config: { access: WRITES },
  }, async (request, reply) => {
    const { closed, report } = await closePeriod(laurel, tenantOf(request), request.params.programId, request.body.period, actorOf(request));
    return reply.status(201).send({ object: 'accounting_close' as const, closed, report: presentReport(report) });
  });

  app.post('/programs/:programId/accounting/membership-fees', {
    schema: {
      operationId: 'recordMembershipFee', summary: 'Defer a paid membership fee', tags: ['accounting'],
      description: 'A fee received is a contract liability, recognised straight-line over its service period; a lifetime plan (no serviceEnd) over the program\'s lifetimeFeeMonths. A feeRef is deferred once: sending it again changes nothing.',
      params: ProgramParams, headers: OptionalIdempotencyHeader,
      body: Type.Object({
        feeRef: Type.String({ minLength: 1, maxLength: 200, description: 'the payment\'s id', examples: ['pay_2027_0001'] }),
        memberId: Type.Optional(Nullable(Id('the member who paid'))),
        amount: Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'minor units' }),
        serviceStart: Type.String({ format: 'date-time' }),
        serviceEnd: Type.Optional(Nullable(Type.String({ format: 'date-time', description: 'null: a lifetime plan' }))),
      }, { additionalProperties: false }),
      response: { 201: described(Type.Object({ object: Type.Literal('membership_fee'), feeRef: Type.String(), deferred: Type.Boolean({ description: 'false: this feeRef was deferred before' }), serviceEnd: Timestamp('the end of the recognition period') }), 'The fee deferred.'), ...errors(403, 404, 409) },
    },
    config: { access: WRITES },
  }, async (request, reply) => {
    const b = request.body;
    const r = await recordMembershipFee(laurel, tenantOf(request), {
      programId: request.params.programId, feeRef: b.feeRef, memberId: b.memberId ?? null, amount: BigInt(b.amount),
      serviceStart: date(b.serviceStart, 'serviceStart')!, serviceEnd: date(b.serviceEnd, 'serviceEnd'),
    });
    return reply.status(201).send({ object: 'membership_fee' as const, feeRef: b.feeRef, deferred: r.deferred, serviceEnd: r.serviceEnd.toISOString() });
  });
};
