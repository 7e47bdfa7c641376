// Earning rules and campaigns: create, version, enable/disable, dry-run on past events.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EVENT_TYPE } from '../../core/events/rate.js';
import { conditionProblem } from '../../core/rules/conditions.js';
import { PERIODS } from '../../core/rules/rule.js';
import type { Laurel } from '../../services/context.js';
import {
  createCampaign, createRule, dryRun, getCampaign, getRule, listCampaigns, listRules, ruleVersions, setEnabled, updateCampaign, updateRule,
  type SavedCampaign, type SavedRule,
} from '../../services/rules.js';
import { actorOf, ADMIN, clientKey, READ, tenantOf } from '../auth.js';
import { plain } from '../present.js';
import { described, errors, Id, Nullable, OptionalIdempotencyHeader, Timestamp } from '../schemas.js';

const Name = Type.String({ minLength: 1, maxLength: 200, examples: ['Double points for Gold'] });
const Count = (description: string) => Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, description });

const Cap = Type.Object({
  period: Type.String({ enum: [...PERIODS], description: 'day, week (from Monday), month, year (in the tenant time zone), or lifetime' }),
  points: Type.Optional(Nullable(Count('at most this many points per member in the period'))),
  times: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'at most this many awards per member in the period' }))),
}, { additionalProperties: false });
const Caps = Type.Array(Cap, { maxItems: PERIODS.length, description: 'per-member caps; returns give back what they take back', examples: [[{ period: 'month', points: 2000 }]] });

const EFFECTS = [
  '`points_per_amount` {points, per, rounding: order|line, mode: down|half_up|up, skus?, categories?}: `points` for every `per` minor units paid on the matching lines (1 per 100: a point per euro).',
  '`fixed_points` {points}: per visit or action, welcome (trigger signup), birthday, first-purchase bonus.',
  '`multiplier` {factor, skus?, categories?}: adds (factor − 1) × the base points of the matching lines; multipliers add up (2x and 3x on the same line make 4x).',
  "`tier_multiplier` {tiers?: {gold: 2, …}}: the same for the member's tier; without tiers, the tier ladder's earnMultiplier for it.",
  '`percent_back` {percent, wallet, mode?, skus?, categories?}: store credit in minor units into a money wallet.',
  '`surprise` {probability, points}: a bonus with probability p, drawn from the rule and the event id (the same event always draws the same).',
  "A brand's own strategies appear here under their type.",
].join('\n\n');

const Effect = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 64, examples: ['points_per_amount'] }),
}, { additionalProperties: true, description: `What the rule gives. ${EFFECTS}`, examples: [{ type: 'points_per_amount', points: 1, per: 100 }] });

const Limits = Type.Object({
  validFrom: Type.Optional(Nullable(Timestamp('the rule applies to events that occurred from then…'))),
  validTo: Type.Optional(Nullable(Timestamp('…until then (excluded)'))),
  channels: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 100, examples: [['store', 'app']] }))),
  locations: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 100 }))),
  minSpend: Type.Optional(Nullable(Count('purchase: only orders paying at least this much money (minor units)'))),
  perMember: Type.Optional(Nullable(Caps)),
  budget: Type.Optional(Nullable(Count('total points the rule may ever give; concurrent events never exceed it'))),
}, { additionalProperties: false });

const Definition = {
  name: Name,
  description: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2000 }))),
  trigger: Type.String({ pattern: EVENT_TYPE.source, description: 'the event type that runs it: purchase, signup (sent by Laurel on enrolment), or a custom action', examples: ['purchase'] }),
  condition: Type.Optional(Nullable(Type.String({
    minLength: 1, maxLength: 4000, examples: ['member.tier == "gold" && time.weekend'],
    description: 'a CEL expression over `event`, `order` (total, lines, skus, categories…), `member` (tier, grade, attributes, stats…) and `time` (local to the tenant); type-checked on save. See the README for every fact.',
  }))),
  effect: Effect,
  limits: Type.Optional(Nullable(Limits)),
  stacking: Type.Optional(Type.String({ enum: ['cumulative', 'exclusive'], description: 'exclusive: when it fires, no rule of lower priority does' })),
  priority: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000, description: 'higher first (default 0)' })),
  campaignId: Type.Optional(Nullable(Id('the campaign whose budget and caps it shares'))),
};

const RuleSchema = Type.Object({
  object: Type.Literal('rule'),
  ruleId: Id('the rule'),
  programId: Id('the program'),
  version: Type.Integer({ examples: [1] }),
  enabled: Type.Boolean(),
  budgetUsed: Type.Integer({ description: 'points given under the rule budget so far' }),
  name: Type.String(),
  description: Nullable(Type.String()),
  trigger: Type.String(),
  condition: Nullable(Type.String()),
  effect: Type.Record(Type.String(), Type.Unknown()),
  limits: Type.Record(Type.String(), Type.Unknown()),
  stacking: Type.String(),
  priority: Type.Integer(),
  campaignId: Nullable(Type.String()),
  savedBy: Type.Optional(Type.String()),
  savedAt: Type.Optional(Timestamp('when this version was saved')),
});

const CampaignBody = Type.Object({
  name: Name,
  validFrom: Type.Optional(Nullable(Timestamp('its rules apply from then…'))),
  validTo: Type.Optional(Nullable(Timestamp('…until then (excluded)'))),
  budget: Type.Optional(Nullable(Count('total points its rules may give together'))),
  perMember: Type.Optional(Nullable(Caps)),
}, { additionalProperties: false, examples: [{ name: 'Bonuses', perMember: [{ period: 'month', points: 2000 }] }] });

const CampaignSchema = Type.Object({
  object: Type.Literal('campaign'),
  campaignId: Id('the campaign'),
  programId: Id('the program'),
  name: Type.String(),
  validFrom: Nullable(Type.String()),
  validTo: Nullable(Type.String()),
  budget: Nullable(Type.Integer()),
  budgetUsed: Type.Integer(),
  perMember: Type.Array(Type.Record(Type.String(), Type.Unknown())),
});

type Versioned = SavedRule & { savedBy?: string; savedAt?: Date };

const presentRule = (r: Versioned) => ({
  object: 'rule' as const, ruleId: r.ruleId, programId: r.programId, version: r.version, enabled: r.enabled, budgetUsed: Number(r.budgetUsed),
  name: r.name, description: r.description, trigger: r.trigger, condition: r.condition,
  effect: plain(r.effect) as Record<string, unknown>, limits: plain(r.limits) as Record<string, unknown>,
  stacking: r.stacking, priority: r.priority, campaignId: r.campaignId,
  ...(r.savedBy !== undefined ? { savedBy: r.savedBy, savedAt: r.savedAt!.toISOString() } : {}),
});

const presentCampaign = (c: SavedCampaign) => ({
  object: 'campaign' as const, campaignId: c.campaignId, programId: c.programId, name: c.name,
  validFrom: c.validFrom?.toISOString() ?? null, validTo: c.validTo?.toISOString() ?? null,
  budget: c.budget === null ? null : Number(c.budget), budgetUsed: Number(c.budgetUsed), perMember: plain(c.perMember) as Record<string, unknown>[],
});

const ProgramParams = Type.Object({ programId: Id('the program') });
const RuleParams = Type.Object({ ruleId: Id('the rule') });
const CampaignParams = Type.Object({ campaignId: Id('the campaign') });
const list = <T extends ReturnType<typeof Type.Object>>(item: T) => Type.Object({ object: Type.Literal('list'), data: Type.Array(item) });

export const ruleRoutes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  app.post('/programs/:programId/rules', {
    schema: {
      operationId: 'createRule', summary: 'Create an earning rule', tags: ['rules'],
      description: 'A rule = trigger + condition (CEL) + effect + limits + stacking. Everything is checked on save: a condition that does not parse, reads an unknown fact or is not a bool is refused with 400 naming `condition` and the position.',
      headers: OptionalIdempotencyHeader, params: ProgramParams,
      body: Type.Object({ ...Definition, enabled: Type.Optional(Type.Boolean({ description: 'default true' })) }, {
        additionalProperties: false,
        examples: [{ name: 'Double points for Gold', trigger: 'purchase', condition: 'member.tier == "gold"', effect: { type: 'multiplier', factor: 2 } }],
      }),
      response: { 201: described(RuleSchema, 'The new rule, at version 1.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request, reply) => reply.status(201).send(presentRule(await createRule(laurel, tenantOf(request), request.params.programId, request.body, {
    actor: actorOf(request), idempotencyKey: clientKey(request),
  }))));

  app.get('/programs/:programId/rules', {
    schema: {
      operationId: 'listRules', summary: "List a program's rules", tags: ['rules'], description: 'Each at its current version.',
      params: ProgramParams,
      querystring: Type.Object({
        trigger: Type.Optional(Type.String({ pattern: EVENT_TYPE.source })), enabled: Type.Optional(Type.Boolean()),
      }, { additionalProperties: false }),
      response: { 200: described(list(RuleSchema), "The program's rules."), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => ({ object: 'list' as const, data: (await listRules(laurel, tenantOf(request), request.params.programId, request.query)).map(presentRule) }));

  app.get('/rules/:ruleId', {
    schema: {
      operationId: 'getRule', summary: 'Get a rule', tags: ['rules'], description: 'The current version, or `?version=n`.',
      params: RuleParams, querystring: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) }, { additionalProperties: false }),
      response: { 200: described(RuleSchema, 'The rule at the version asked for.'), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => presentRule(await getRule(laurel, tenantOf(request), request.params.ruleId, request.query.version)));

  app.put('/rules/:ruleId', {
    schema: {
      operationId: 'updateRule', summary: 'Save a new version of a rule', tags: ['rules'],
      description: 'Replaces the definition from now on. Events already recorded keep the version they used, and their returns are decided with it.',
      headers: OptionalIdempotencyHeader, params: RuleParams, body: Type.Object(Definition, { additionalProperties: false }),
      response: { 200: described(RuleSchema, 'The rule at its new version.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentRule(await updateRule(laurel, tenantOf(request), request.params.ruleId, request.body, {
    actor: actorOf(request), idempotencyKey: clientKey(request),
  })));

  app.get('/rules/:ruleId/versions', {
    schema: {
      operationId: 'listRuleVersions', summary: "A rule's versions", tags: ['rules'], description: 'Oldest first, with who saved each and when.',
      params: RuleParams, response: { 200: described(list(RuleSchema), "The rule's versions."), ...errors(403, 404) },
    },
    config: { access: READ },
  }, async (request) => ({ object: 'list' as const, data: (await ruleVersions(laurel, tenantOf(request), request.params.ruleId)).map(presentRule) }));

  for (const [action, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post(`/rules/:ruleId/${action}`, {
      schema: {
        operationId: `${action}Rule`, summary: `${enabled ? 'Enable' : 'Disable'} a rule`, tags: ['rules'],
        description: `The rule ${enabled ? 'runs for' : 'stops running for'} events received from now on. Doing it twice changes nothing.`,
        params: RuleParams, response: { 200: described(RuleSchema, `The rule, ${enabled ? 'enabled' : 'disabled'}.`), ...errors(403, 404) },
      },
      config: { access: ADMIN },
    }, async (request) => presentRule(await setEnabled(laurel, tenantOf(request), request.params.ruleId, enabled)));
  }

  app.post('/rules/check-condition', {
    schema: {
      summary: 'Check a rule condition', tags: ['rules'], operationId: 'checkRuleCondition',
      description: "Whether a CEL condition would be accepted by a rule, and if not what is wrong and where (1-based line and column): the console's editor checks as the marketer types. Writes nothing.",
      body: Type.Object({ condition: Type.String({ maxLength: 2000, examples: ['member.tier == "gold" && time.weekend'] }) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          object: Type.Literal('condition_check'),
          valid: Type.Boolean({ examples: [false] }),
          error: Nullable(Type.Object({
            message: Type.String({ examples: ['No such key: tierr'] }),
            line: Nullable(Type.Integer({ minimum: 1, examples: [1] })),
            column: Nullable(Type.Integer({ minimum: 1, examples: [8] })),
          })),
        }, { description: 'the verdict; error is null when valid' }),
        ...errors(403),
      },
    },
    config: { access: { scopes: ['admin'] } },
  }, async (request) => {
    const problem = conditionProblem(request.body.condition);
    return { object: 'condition_check' as const, valid: problem === null, error: problem };
  });

  app.post('/rules/:ruleId/dry-run', {
    schema: {
      summary: 'Dry-run a rule on past events', tags: ['rules'], operationId: 'dryRunRule',
      description: "Replays the rule, or a draft `definition`, on the program's past events of its trigger (the newest `limit`, answered newest first) with the facts each event was decided with, and compares with what the rule really gave. Nothing is written. Per-member caps and budgets (the rule's and its campaign's) are simulated as if the replayed version had been in place: what the rule really gave on these events and their returns is taken out of the member's usage and the budgets as they stand, and what the replay gives counts for the events after it, in the order they occurred. Each event says which caps or budgets trimmed it (`limitedBy`) and what it would give without them (`uncapped`).",
      params: RuleParams,
      body: Type.Object({
        definition: Type.Optional(Type.Object(Definition, { additionalProperties: false, description: 'a draft to try instead of the current version' })),
        from: Type.Optional(Timestamp('events that occurred from then…')),
        to: Type.Optional(Timestamp('…until then')),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'at most this many events (default 100)' })),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          object: Type.Literal('dry_run'),
          rule: RuleSchema,
          summary: Type.Object({
            events: Type.Integer(), fired: Type.Integer(),
            points: Type.Integer({ description: 'what the rule would give, after caps and budgets' }), actual: Type.Integer({ description: 'what it gave' }),
            uncapped: Type.Integer({ description: 'what it would give without caps and budgets' }),
            limited: Type.Integer({ description: 'events whose award a cap or budget trimmed' }),
          }),
          events: Type.Array(Type.Object({
            eventId: Id('the event'), externalId: Type.String(), occurredAt: Type.String(), memberId: Id('the member'),
            points: Type.Integer({ description: 'what the rule would give, after caps and budgets' }),
            uncapped: Type.Integer({ description: 'what its effect computes before caps and budgets' }),
            limitedBy: Type.Array(Type.String({ enum: ['rule_cap', 'campaign_cap', 'rule_budget', 'campaign_budget'] }), { description: 'the caps and budgets that trimmed it' }),
            actual: Type.Integer({ description: 'what the event really got from the rule' }), detail: Nullable(Type.Record(Type.String(), Type.Unknown())),
          })),
        }, { description: 'The replay: each event with what the rule would give and what it gave, and the totals' }),
        ...errors(403, 404),
      },
    },
    config: { access: ADMIN },
  }, async (request) => {
    const b = request.body;
    const result = await dryRun(laurel, tenantOf(request), request.params.ruleId, {
      definition: b.definition, from: b.from ? new Date(b.from) : null, to: b.to ? new Date(b.to) : null, limit: b.limit,
    });
    return {
      object: 'dry_run' as const, rule: presentRule({ ...result.rule, budgetUsed: 0n }),
      summary: plain(result.summary) as { events: number; fired: number; points: number; actual: number; uncapped: number; limited: number },
      events: result.events.map((e) => ({
        eventId: e.eventId, externalId: e.externalId, occurredAt: e.occurredAt.toISOString(), memberId: e.memberId,
        points: Number(e.points), uncapped: Number(e.uncapped), limitedBy: e.limitedBy, actual: Number(e.actual), detail: e.detail === null ? null : plain(e.detail) as Record<string, unknown>,
      })),
    };
  });

  app.post('/programs/:programId/campaigns', {
    schema: {
      operationId: 'createCampaign', summary: 'Create a campaign', tags: ['rules'],
      description: 'A campaign groups rules (their `campaignId`) under one validity window, one budget and one set of per-member caps: "at most 2,000 bonus points per member per month" across several bonus rules.',
      headers: OptionalIdempotencyHeader, params: ProgramParams, body: CampaignBody, response: { 201: described(CampaignSchema, 'The new campaign.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request, reply) => reply.status(201).send(presentCampaign(
    await createCampaign(laurel, tenantOf(request), request.params.programId, request.body, clientKey(request)))));

  app.get('/programs/:programId/campaigns', {
    schema: { operationId: 'listCampaigns', summary: "List a program's campaigns", tags: ['rules'], description: 'With the budget each has used.', params: ProgramParams, response: { 200: described(list(CampaignSchema), "The program's campaigns."), ...errors(403, 404) } },
    config: { access: READ },
  }, async (request) => ({ object: 'list' as const, data: (await listCampaigns(laurel, tenantOf(request), request.params.programId)).map(presentCampaign) }));

  app.get('/campaigns/:campaignId', {
    schema: { operationId: 'getCampaign', summary: 'Get a campaign', tags: ['rules'], description: 'With the budget it has used.', params: CampaignParams, response: { 200: described(CampaignSchema, 'The campaign.'), ...errors(403, 404) } },
    config: { access: READ },
  }, async (request) => presentCampaign(await getCampaign(laurel, tenantOf(request), request.params.campaignId)));

  app.put('/campaigns/:campaignId', {
    schema: {
      operationId: 'updateCampaign', summary: 'Update a campaign', tags: ['rules'], description: 'Replaces its name, window, budget and caps; the budget used stays. A budget below what is used stops it from giving more.',
      params: CampaignParams, body: CampaignBody, response: { 200: described(CampaignSchema, 'The campaign as updated.'), ...errors(403, 404) },
    },
    config: { access: ADMIN },
  }, async (request) => presentCampaign(await updateCampaign(laurel, tenantOf(request), request.params.campaignId, request.body)));
};
