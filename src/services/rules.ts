// Managing earning rules and campaigns, quoting a basket, and dry-running a rule on past events.
// A rule's definition is never changed in place: an update saves the next version, and each event
// keeps the versions it was decided with (its returns are decided with them too).
import { invalid, notFound } from '../core/errors.js';
import { normaliseEvent, type EventInput, type Explained } from '../core/events/event.js';
import type { PurchaseLine } from '../core/events/purchase.js';
import { orderTotal } from '../core/events/purchase.js';
import { uuidv7 } from '../core/ids.js';
import { basketOf, earningBase } from '../core/rules/basket.js';
import { capsOf, evaluate, loadRule, type Scope } from '../core/rules/evaluate.js';
import { replayLimits } from '../core/rules/replay.js';
import { withBasket } from '../core/rules/facts.js';
import { validateCampaign, validateRule, type Campaign, type Rule } from '../core/rules/rule.js';
import { eventOf, factsOfRow, loadEventProgram, programEvents, returnIdsOf } from '../db/events.js';
import {
  awardsOf, budgetsUsed, campaignsById, setBudget, insertCampaign, insertNextVersion, insertRule, listCampaigns as listCampaignRows, listRules as listRuleRows,
  listVersions, loadCampaign, loadRule as loadRuleRow, memberUsage, setRuleEnabled, updateCampaign as updateCampaignRow,
} from '../db/rules.js';
import type { Laurel } from './context.js';
import { amountsByWallet, evaluateEarning, explained } from './earning.js';
import { DEFAULT_WALLET } from './ledger.js';
import { resolveMemberId, type IngestInput } from './events.js';
import { writeOnce } from './idempotency.js';
import { getProgram } from './tenants.js';
import { requireId } from './validate.js';

export type SavedRule = Rule & { budgetUsed: bigint };
export type SavedCampaign = Campaign & { budgetUsed: bigint };

async function environmentOf(laurel: Laurel, tenantId: string, programId: string) {
  const program = await getProgram(laurel, tenantId, programId);
  return { strategies: laurel.strategies, wallets: new Set(program.wallets.map((w) => w.code)) };
}

async function checkCampaign(laurel: Laurel, tenantId: string, programId: string, campaignId: string | null): Promise<void> {
  if (campaignId === null) return;
  const campaign = await loadCampaign(laurel.db, tenantId, requireId(campaignId, 'campaignId', 'campaign'));
  if (!campaign || campaign.programId !== programId) throw notFound('campaign', 'campaignId');
}

export async function createRule(laurel: Laurel, tenantId: string, programId: string, input: unknown, options: { actor: string; idempotencyKey?: string }): Promise<SavedRule> {
  const id = requireId(programId, 'programId', 'program');
  const env = await environmentOf(laurel, tenantId, id);
  const extra = ['enabled'];
  const definition = validateRule(input, env, extra);
  const enabled = (input as { enabled?: unknown }).enabled ?? true;
  if (typeof enabled !== 'boolean') throw invalid('enabled', 'enabled must be true or false');
  await checkCampaign(laurel, tenantId, id, definition.campaignId);
  return writeOnce(laurel, tenantId, options.idempotencyKey, 'create_rule', { id, definition, enabled }, async (trx, now) => {
    const rule: Rule = { ...definition, ruleId: uuidv7(now.getTime()), programId: id, version: 1, enabled };
    await insertRule(trx, tenantId, rule, options.actor, now);
    await setBudget(trx, tenantId, `rule:${rule.ruleId}`, rule.limits.budget);
    return { ...rule, budgetUsed: 0n };
  });
}

export async function getRule(laurel: Laurel, tenantId: string, ruleId: string, version?: number): Promise<SavedRule> {
  const rule = await loadRuleRow(laurel.db, tenantId, requireId(ruleId, 'ruleId', 'rule'), { version });
  if (!rule) throw notFound(version === undefined ? 'rule' : `version ${version} of the rule`, version === undefined ? 'ruleId' : 'version');
  return rule;
}

/** Saves the next version of a rule. Events already recorded keep the version they used. */
export async function updateRule(laurel: Laurel, tenantId: string, ruleId: string, input: unknown, options: { actor: string; idempotencyKey?: string }): Promise<SavedRule> {
  const current = await getRule(laurel, tenantId, ruleId);
  const definition = validateRule(input, await environmentOf(laurel, tenantId, current.programId));
  await checkCampaign(laurel, tenantId, current.programId, definition.campaignId);
  return writeOnce(laurel, tenantId, options.idempotencyKey, 'update_rule', { ruleId: current.ruleId, definition }, async (trx, now) => {
    const locked = (await loadRuleRow(trx, tenantId, current.ruleId, { lock: true }))!;
    const next: Rule = { ...definition, ruleId: locked.ruleId, programId: locked.programId, version: locked.version + 1, enabled: locked.enabled };
    await insertNextVersion(trx, tenantId, next, options.actor, now);
    await setBudget(trx, tenantId, `rule:${next.ruleId}`, next.limits.budget);
    return { ...next, budgetUsed: locked.budgetUsed };
  });
}

/** Turns a rule on or off; events already recorded are not touched. */
export async function setEnabled(laurel: Laurel, tenantId: string, ruleId: string, enabled: boolean): Promise<SavedRule> {
  const rule = await getRule(laurel, tenantId, ruleId);
  if (rule.enabled !== enabled) await setRuleEnabled(laurel.db, tenantId, rule.ruleId, enabled, laurel.clock.now());
  return { ...rule, enabled };
}

export async function listRules(laurel: Laurel, tenantId: string, programId: string, filter: { trigger?: string; enabled?: boolean } = {}): Promise<SavedRule[]> {
  const program = await getProgram(laurel, tenantId, programId);
  return listRuleRows(laurel.db, tenantId, program.programId, filter);
}

export async function ruleVersions(laurel: Laurel, tenantId: string, ruleId: string) {
  const rule = await getRule(laurel, tenantId, ruleId);
  return listVersions(laurel.db, tenantId, rule.ruleId);
}

// ---- campaigns ----------------------------------------------------------------------------

export async function createCampaign(laurel: Laurel, tenantId: string, programId: string, input: unknown, idempotencyKey?: string): Promise<SavedCampaign> {
  const program = await getProgram(laurel, tenantId, programId);
  const fields = validateCampaign(input);
  return writeOnce(laurel, tenantId, idempotencyKey, 'create_campaign', { programId: program.programId, fields }, async (trx, now) => {
    const campaign: Campaign = { ...fields, campaignId: uuidv7(now.getTime()), programId: program.programId };
    await insertCampaign(trx, tenantId, campaign, now);
    await setBudget(trx, tenantId, `campaign:${campaign.campaignId}`, campaign.budget);
    return { ...campaign, budgetUsed: 0n };
  });
}

export async function getCampaign(laurel: Laurel, tenantId: string, campaignId: string): Promise<SavedCampaign> {
  const campaign = await loadCampaign(laurel.db, tenantId, requireId(campaignId, 'campaignId', 'campaign'));
  if (!campaign) throw notFound('campaign', 'campaignId');
  return campaign;
}

/** Replaces a campaign's name, window, budget and caps; a budget below what is already used stops it from giving more. */
export async function updateCampaign(laurel: Laurel, tenantId: string, campaignId: string, input: unknown): Promise<SavedCampaign> {
  const current = await getCampaign(laurel, tenantId, campaignId);
  const fields = validateCampaign(input);
  return laurel.db.transaction().execute(async (trx) => {
    const locked = (await loadCampaign(trx, tenantId, current.campaignId, true))!;
    const next = { ...locked, ...fields };
    await updateCampaignRow(trx, tenantId, next, laurel.clock.now());
    await setBudget(trx, tenantId, `campaign:${next.campaignId}`, next.budget);
    return next;
  });
}

export async function listCampaigns(laurel: Laurel, tenantId: string, programId: string): Promise<SavedCampaign[]> {
  const program = await getProgram(laurel, tenantId, programId);
  return listCampaignRows(laurel.db, tenantId, program.programId);
}

// ---- quote ---------------------------------------------------------------------------------

export interface Quote {
  /** points the event would earn in the points wallet */
  points: bigint;
  /** what it would put in each wallet (store credit included) */
  wallets: { wallet: string; amount: bigint }[];
  awards: Explained[];
}

export type QuoteInput = Omit<IngestInput, 'externalId' | 'type'> & { externalId?: string; type?: string };

/**
 * What an event would earn now, without writing anything: the POS preview. Caps and budgets are
 * read as they stand; a member may be left out (what a newcomer would earn).
 */
export async function quote(laurel: Laurel, tenantId: string, input: QuoteInput): Promise<Quote> {
  if (typeof input !== 'object' || input === null) throw invalid('type', 'a quote is an object');
  const programId = requireId(input.programId, 'programId', 'program');
  const event = normaliseEvent({ ...(input as EventInput), externalId: input.externalId ?? 'quote', type: input.type ?? 'purchase' });
  if (event.kind === 'return') throw invalid('type', 'a return earns nothing to quote');
  const program = await loadEventProgram(laurel.db, tenantId, programId);
  if (!program) throw notFound('program', 'programId');
  if (event.currency !== null && event.currency !== program.currency) throw invalid('currency', `this tenant's events are in ${program.currency}`);
  const memberId = input.memberId !== undefined || input.member !== undefined ? await resolveMemberId(laurel, tenantId, program, input) : null;
  const paidWithPoints = event.kind === 'purchase' ? event.paidWithPoints : 0n;
  const basket = event.kind === 'purchase'
    ? basketOf(event.lines, earningBase(orderTotal(event.lines, paidWithPoints), paidWithPoints, program.earnOnPaidWithPoints)) : basketOf([], 0n);
  const now = laurel.clock.now();
  const earning = await evaluateEarning(laurel.db, laurel.strategies, tenantId, program, {
    event: {
      externalId: event.externalId, type: event.type, channel: event.channel, location: event.location, occurredAt: event.occurredAt ?? now,
      orderId: event.orderId, currency: event.currency ?? program.currency, attributes: event.attributes, paidWithPoints,
    },
    basket, memberId, budgets: null,
  });
  const awards = earning.awards.map(explained);
  const wallets = amountsByWallet(awards).map(([wallet, amount]) => ({ wallet, amount }));
  return { points: wallets.find((w) => w.wallet === DEFAULT_WALLET)?.amount ?? 0n, wallets, awards };
}

// ---- dry run -------------------------------------------------------------------------------

export interface DryRunInput {
  /** a draft to try instead of the rule's current version */
  definition?: unknown;
  from?: Date | null;
  to?: Date | null;
  limit?: number;
}

export interface DryRunEvent {
  eventId: string;
  externalId: string;
  occurredAt: Date;
  memberId: string;
  /** what the rule (or the draft) would award, after its caps and budgets as the replay simulates them */
  points: bigint;
  /** what its effect computes before caps and budgets */
  uncapped: bigint;
  /** the caps and budgets that trimmed it (rule_cap, campaign_cap, rule_budget, campaign_budget) */
  limitedBy: string[];
  /** what the event really got from this rule */
  actual: bigint;
  detail: Explained['detail'] | null;
}

/**
 * Replays a rule, or a draft of it, on the program's past events of its trigger (the newest
 * `limit`, answered newest first) with the facts each event was decided with. Nothing is written.
 * Caps and budgets (the rule's and its campaign's) are simulated as if the replayed version had
 * been in place: what the rule really gave on these events and their returns is taken out of the
 * member's usage and the budgets as they stand, and what the replay gives is counted, in the
 * order the events occurred (core/rules/replay.ts).
 */
export async function dryRun(laurel: Laurel, tenantId: string, ruleId: string, input: DryRunInput) {
  const saved = await getRule(laurel, tenantId, ruleId);
  let rule: Rule = saved;
  if (input.definition !== undefined) {
    const definition = validateRule(input.definition, await environmentOf(laurel, tenantId, saved.programId));
    await checkCampaign(laurel, tenantId, saved.programId, definition.campaignId);
    rule = { ...definition, ruleId: saved.ruleId, programId: saved.programId, version: 0, enabled: true };
  }
  const limit = input.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid('limit', 'limit must be an integer from 1 to 1000');
  const loaded = loadRule(rule, laurel.strategies);
  const campaigns = await campaignsById(laurel.db, tenantId, rule.campaignId ? [rule.campaignId] : []);
  const rows = await programEvents(laurel.db, tenantId, saved.programId, { type: rule.trigger, from: input.from ?? null, to: input.to ?? null, limit });
  const recorded = await awardsOf(laurel.db, tenantId, rows.map((r) => r.event_id));
  const actual = new Map(recorded.filter((a) => a.ruleId === saved.ruleId).map((a) => [a.eventId, a.points]));
  const caps = capsOf([loaded], campaigns);
  const campaign = rule.campaignId === null ? null : campaigns.get(rule.campaignId) ?? null;
  const budgeted: Scope[] = [
    ...(rule.limits.budget !== null ? [`rule:${rule.ruleId}` as const] : []),
    ...(campaign?.budget != null ? [`campaign:${campaign.campaignId}` as const] : []),
  ];
  const timeZone = caps.size > 0 ? (await loadEventProgram(laurel.db, tenantId, saved.programId))!.timeZone : 'UTC';
  const replay = caps.size === 0 && budgeted.length === 0 ? null : replayLimits({
    rule, campaign, timeZone, replayed: new Set(rows.map((r) => r.event_id)),
    recorded: [...recorded, ...await awardsOf(laurel.db, tenantId, await returnIdsOf(laurel.db, tenantId, rows.map((r) => r.event_id)))],
    budgetUsed: await budgetsUsed(laurel.db, tenantId, budgeted),
  });
  const events: DryRunEvent[] = [];
  // In the order the events occurred: each sees the caps and budgets the ones before it used.
  const chronological = [...rows].sort((a, b) => a.occurred_at.getTime() - b.occurred_at.getTime() || (a.event_id < b.event_id ? -1 : 1));
  for (const row of chronological) {
    const facts = factsOfRow(row);
    if (facts === null) continue;
    const e = eventOf(row);
    // What the event earned on, as its facts say (its money, and the part paid with points if the program said so then).
    const basket = e.kind === 'purchase' ? basketOf(e.lines as PurchaseLine[], facts.order.total) : basketOf([], 0n);
    const limits = replay === null ? undefined : replay.limitsFor(e.memberId, e.occurredAt,
      caps.size > 0 ? await memberUsage(laurel.db, tenantId, e.memberId, caps, e.occurredAt, timeZone) : () => ({ points: 0n, times: 0 }));
    const [award] = evaluate({
      rules: [loaded], campaigns, basket, facts: withBasket(facts, basket), limits,
      event: { externalId: e.externalId, channel: e.channel, location: e.location, occurredAt: e.occurredAt },
    });
    if (award) replay?.record(e.memberId, e.occurredAt, award);
    events.push({
      eventId: e.eventId, externalId: e.externalId, occurredAt: e.occurredAt, memberId: e.memberId,
      points: award?.points ?? 0n, uncapped: award?.uncapped ?? 0n, limitedBy: award?.limitedBy ?? [],
      actual: actual.get(e.eventId) ?? 0n, detail: award?.detail ?? null,
    });
  }
  const order = new Map(rows.map((r, i) => [r.event_id, i]));
  events.sort((a, b) => order.get(a.eventId)! - order.get(b.eventId)!);
  const sum = (f: (e: DryRunEvent) => bigint) => events.reduce((s, e) => s + f(e), 0n);
  return {
    rule, events,
    summary: {
      events: events.length, fired: events.filter((e) => e.points > 0n).length, points: sum((e) => e.points), actual: sum((e) => e.actual),
      uncapped: sum((e) => e.uncapped), limited: events.filter((e) => e.limitedBy.length > 0).length,
    },
  };
}
