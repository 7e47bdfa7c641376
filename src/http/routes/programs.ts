// Programs: wallets and policies (return window, expiry, negative balances); their rules live in routes/rules.ts.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ProgramInput } from '../../core/program.js';
import type { Laurel } from '../../services/context.js';
import { dashboard } from '../../db/dashboard.js';
import { loadLadderRow } from '../../db/tiers.js';
import { createProgram, getProgram, getTenant, listPrograms, updateProgramSettings, type Program, type ProgramSettings } from '../../services/tenants.js';
import { ADMIN, clientKey, READ, tenantOf } from '../auth.js';
import { described, errors, Id, Nullable, OptionalIdempotencyHeader, Points, Timestamp } from '../schemas.js';

const Wallet = Type.Object({
  code: Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', examples: ['points'] }),
  kind: Type.String({ enum: ['redeemable', 'qualifying'], description: 'redeemable points can be spent; qualifying ones only count for tiers' }),
}, { additionalProperties: false });

const Expiry = Type.Union([
  Type.Object({ kind: Type.Literal('none') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('rolling'), months: Type.Integer({ minimum: 1, maximum: 1200 }) }, { additionalProperties: false, description: 'each lot expires N calendar months after it was earned' }),
  Type.Object({
    kind: Type.Literal('fixed_date'), month: Type.Integer({ minimum: 1, maximum: 12 }), day: Type.Integer({ minimum: 1, maximum: 31 }),
    yearsAfter: Type.Integer({ minimum: 0, maximum: 100 }),
  }, { additionalProperties: false, description: 'each lot expires at the end of month/day, yearsAfter years after the year it was earned (tenant time zone)' }),
  Type.Object({ kind: Type.Literal('inactivity'), months: Type.Integer({ minimum: 1, maximum: 1200 }) }, { additionalProperties: false, description: 'all points expire after N months without activity' }),
]);

const PointValue = Type.Object({
  points: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
  minor: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
}, { additionalProperties: false, description: 'pay with points: `points` points are worth `minor` minor units (100 and 100: a point is a cent); null: points do not pay', examples: [{ points: 100, minor: 100 }] });
const EarnOnPaidWithPoints = Type.Boolean({ description: "whether the part of a purchase paid with points, store credit or a reward (`paidWithPoints`) earns points too; false (the default, SPEC §4): rules earn on the money paid only. A purchase's returns follow the setting as it was when the purchase was recorded" });
const EnrollByEmail = Type.Boolean({
  description: 'universal programs: whether an event naming an unknown member by `email` alone enrols them (true, the default). false: such an event is refused (404 naming `member.email`) and nothing is written, so a mistyped address makes no member; enrol them with POST /v1/members, or send an externalId',
});
const ExpiredRewards = Type.String({ enum: ['refund', 'forfeit'], description: 'an unused reward instance that expires gives its points back (refund) or not (forfeit, the default)' });

const ProgramBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200, examples: ['Coffee Club'] }),
  enrollmentMode: Type.String({ enum: ['universal', 'opt_in'], description: 'universal: members are enrolled by their first event' }),
  enrollByEmail: Type.Optional(EnrollByEmail),
  wallets: Type.Optional(Type.Array(Wallet, { minItems: 1, maxItems: 10, description: 'default: points (redeemable) and status (qualifying)' })),
  returnWindowDays: Type.Integer({ minimum: 0, maximum: 3650, description: 'days earned points stay pending (returns take them back)' }),
  expiry: Expiry,
  negativeBalance: Type.String({ enum: ['debt', 'write_off'], description: 'when a return claws back points already spent: keep a debt that later points repay, or write it off' }),
  expiryReminderDays: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 365, description: 'remind members this many days before a lot of their points expires (a `points.expiring` outbox message, once per lot); null: never' }))),
  pointValue: Type.Optional(Nullable(PointValue)),
  expiredRewards: Type.Optional(ExpiredRewards),
  earnOnPaidWithPoints: Type.Optional(EarnOnPaidWithPoints),
}, { additionalProperties: false });

const ProgramSchema = Type.Object({
  object: Type.Literal('program'),
  programId: Id('the program'),
  name: Type.String(),
  enrollmentMode: Type.String(),
  enrollByEmail: EnrollByEmail,
  wallets: Type.Array(Type.Object({ walletId: Id('the wallet'), code: Type.String(), kind: Type.String() })),
  returnWindowDays: Type.Integer(),
  expiry: Expiry,
  negativeBalance: Type.String(),
  expiryReminderDays: Nullable(Type.Integer()),
  pointValue: Nullable(PointValue),
  expiredRewards: ExpiredRewards,
  earnOnPaidWithPoints: EarnOnPaidWithPoints,
  createdAt: Timestamp('when'),
}, { description: 'The program, with its wallets and policies' });

const presentProgram = (p: Program) => ({
  object: 'program' as const, programId: p.programId, name: p.name, enrollmentMode: p.enrollmentMode, enrollByEmail: p.enrollByEmail ?? true, wallets: p.wallets,
  returnWindowDays: p.returnWindowDays, expiry: p.expiry, negativeBalance: p.negativeBalance, expiryReminderDays: p.expiryReminderDays ?? null,
  pointValue: p.pointValue ? { points: Number(p.pointValue.points), minor: Number(p.pointValue.minor) } : null,
  expiredRewards: p.expiredRewards ?? 'forfeit',
  earnOnPaidWithPoints: p.earnOnPaidWithPoints ?? false,
  createdAt: p.createdAt.toISOString(),
});

export const programRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/programs', {
    schema: {
      summary: 'Create a program', tags: ['programs'], operationId: 'createProgram',
      description: 'A program has wallets (by default `points`, redeemable, and `status`, tier-qualifying), a return window during which earned points stay pending, an expiry policy and a negative-balance policy for claw-backs. What events earn is set by the earning rules of the program (`POST /v1/programs/{programId}/rules`); a program without rules earns nothing.',
      headers: OptionalIdempotencyHeader, body: ProgramBody, response: { 201: { ...ProgramSchema, description: 'The new program (or, replayed, the one the first call made).' }, ...errors(403, 409) } },
    config: { access: ADMIN },
  }, async (request, reply) => {
    const body = request.body as Omit<ProgramInput, 'wallets'> & { wallets?: ProgramInput['wallets'] };
    const program = await createProgram(laurel, tenantOf(request), {
      ...body, wallets: body.wallets ?? [{ code: 'points', kind: 'redeemable' }, { code: 'status', kind: 'qualifying' }],
    }, clientKey(request));
    return reply.status(201).send(presentProgram(program));
  });

  app.get('/programs', {
    schema: { operationId: 'listPrograms', summary: 'List programs', tags: ['programs'], description: "The tenant's programs with their wallets and policies.", response: { 200: described(Type.Object({ object: Type.Literal('list'), data: Type.Array(ProgramSchema) }), "The tenant's programs."), ...errors(403) } },
    config: { access: READ },
  }, async (request) => ({ object: 'list' as const, data: (await listPrograms(laurel, tenantOf(request))).map(presentProgram) }));

  app.patch('/programs/:programId', {
    schema: {
      summary: 'Change program settings', tags: ['programs'], operationId: 'updateProgramSettings',
      description: 'The settings a running program may change: pay-with-points value, whether the part paid with points earns, what expired unused rewards do, expiry reminders, enrolment by e-mail. Wallets and earning policies stay as created.',
      params: Type.Object({ programId: Id('the program') }),
      body: Type.Object({
        pointValue: Type.Optional(Nullable(PointValue)), expiredRewards: Type.Optional(ExpiredRewards), enrollByEmail: Type.Optional(EnrollByEmail),
        earnOnPaidWithPoints: Type.Optional(EarnOnPaidWithPoints),
        expiryReminderDays: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 365 }))),
      }, { additionalProperties: false }),
      response: { 200: { ...ProgramSchema, description: 'The program with its settings as changed.' }, ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentProgram(await updateProgramSettings(laurel, tenantOf(request), request.params.programId, request.body as ProgramSettings)));

  app.get('/programs/:programId', {
    schema: { operationId: 'getProgram', summary: 'Get a program', tags: ['programs'], description: 'One program with its wallets and policies.', params: Type.Object({ programId: Id('the program') }), response: { 200: described(ProgramSchema, 'The program.'), ...errors(403, 404) } },
    config: { access: READ },
  }, async (request) => presentProgram(await getProgram(laurel, tenantOf(request), request.params.programId)));

  app.get('/programs/:programId/dashboard', {
    schema: {
      summary: "A program's dashboard", tags: ['programs'], operationId: 'getProgramDashboard',
      description: 'The figures of the console dashboard over the last `days` days: members, active members (who earned, redeemed or held points), points of the points wallet issued (less what returns took back), redeemed (less what was given back) and expired, in total and per day of the tenant\'s time zone (the series of `GET …/analytics/points`), the redemption rate, the liability (available and pending points of redeemable wallets, now) and the members per tier. The console\'s dashboard reads the analytics reports and this liability.',
      params: Type.Object({ programId: Id('the program') }),
      querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 30, description: 'how many days back', examples: [30] })) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          object: Type.Literal('dashboard'),
          programId: Id('the program'),
          since: Timestamp('start of the period'),
          members: Type.Integer({ description: 'members not erased', examples: [1200] }),
          activeMembers: Type.Integer({ description: 'members with an earn, redeem or hold in the period', examples: [340] }),
          issued: Points('points earned in the period'),
          redeemed: Points('points redeemed in the period'),
          expired: Points('points expired in the period'),
          redemptionRate: Type.Number({ description: 'redeemed / issued over the period (0 when nothing was issued)', examples: [0.31] }),
          liability: Points('available and pending points of redeemable wallets, now'),
          days: Type.Array(Type.Object({ date: Type.String({ format: 'date', examples: ['2026-11-24'] }), issued: Points('earned that day'), redeemed: Points('redeemed that day'), expired: Points('expired that day') }), { description: 'days with any movement, oldest first' }),
          tiers: Type.Array(Type.Object({ tier: Nullable(Type.String({ examples: ['gold'] })), members: Type.Integer({ examples: [42] }) }), { description: 'members per tier; null: no tier' }),
          tierLadder: Type.Boolean({ description: 'whether the program has a tier ladder (GET …/tier-ladder answers 404 without one)' }),
        }, { description: 'the dashboard figures' }),
        ...errors(403, 404),
      },
    },
    config: { access: READ },
  }, async (request) => {
    const tenantId = tenantOf(request);
    const program = await getProgram(laurel, tenantId, request.params.programId);
    const tenant = await getTenant(laurel, tenantId);
    const since = new Date(laurel.clock.now().getTime() - (request.query.days ?? 30) * 86_400_000);
    const d = await dashboard(laurel.db, tenantId, program.programId, tenant.timeZone, since, laurel.clock.now());
    return {
      object: 'dashboard' as const, programId: program.programId, since: since.toISOString(),
      members: Number(d.members), activeMembers: Number(d.activeMembers), issued: Number(d.issued), redeemed: Number(d.redeemed), expired: Number(d.expired),
      redemptionRate: d.issued > 0n ? Math.round(Number(d.redeemed * 10_000n / d.issued)) / 10_000 : 0,
      liability: Number(d.liability),
      days: d.days.map((x) => ({ date: x.date, issued: Number(x.issued), redeemed: Number(x.redeemed), expired: Number(x.expired) })),
      tiers: d.tiers.map((t) => ({ tier: t.tier, members: Number(t.members) })),
      tierLadder: (await loadLadderRow(laurel.db, tenantId, program.programId)) !== undefined,
    };
  });
};
