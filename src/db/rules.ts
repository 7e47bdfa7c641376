// Rule, campaign and award queries. Definitions are stored as plain JSON (numbers, ISO dates):
// every amount in a rule is at most 10^12, exact in a double.
import { sql, type Selectable } from 'kysely';
import type { Scope, Usage } from '../core/rules/evaluate.js';
import { periodBounds } from '../core/rules/evaluate.js';
import { NO_STATS, type MemberStats } from '../core/rules/facts.js';
import { newBudget, respread, type BudgetShard } from '../core/rules/budget.js';
import type { Campaign, MemberCap, Period, Rule, RuleDefinition } from '../core/rules/rule.js';
import type { CampaignsTable, Db, RulesTable } from './schema.js';

const num = (v: bigint | null) => (v === null ? null : Number(v));
/** A JSON number (or digit string) as bigint; absent: null. */
export const big = (v: unknown) => (v === null || v === undefined ? null : BigInt(v as number | string));
/** A JSON date-time as Date; absent: null. */
export const when = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));

export const capsJson = (caps: readonly MemberCap[]) => caps.map((c) => ({ period: c.period, points: num(c.points), times: c.times }));
export const capsOf = (json: unknown): MemberCap[] =>
  ((json as { period: Period; points?: number | null; times?: number | null }[] | null) ?? [])
    .map((c) => ({ period: c.period, points: big(c.points), times: c.times ?? null }));

export function definitionJson(d: RuleDefinition): string {
  const l = d.limits;
  return JSON.stringify({
    ...d,
    limits: {
      validFrom: l.validFrom?.toISOString() ?? null, validTo: l.validTo?.toISOString() ?? null, channels: l.channels, locations: l.locations,
      minSpend: num(l.minSpend), perMember: capsJson(l.perMember), budget: num(l.budget),
    },
  }, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
}

/** A stored definition, with the defaults of fields a migration or an older version left out. */
export function definitionOf(json: unknown): RuleDefinition {
  const d = json as Partial<RuleDefinition> & { limits?: Record<string, unknown> };
  const l = (d.limits ?? {}) as Record<string, unknown>;
  return {
    name: d.name!, description: d.description ?? null, trigger: d.trigger!, condition: d.condition ?? null, effect: d.effect!,
    limits: {
      validFrom: when(l.validFrom), validTo: when(l.validTo), channels: (l.channels as string[] | undefined) ?? null,
      locations: (l.locations as string[] | undefined) ?? null, minSpend: big(l.minSpend), perMember: capsOf(l.perMember), budget: big(l.budget),
    },
    stacking: d.stacking ?? 'cumulative', priority: d.priority ?? 0, campaignId: d.campaignId ?? null,
  };
}

type RuleRow = Selectable<RulesTable> & { definition: unknown; at_version: number; budget_used: string };

const ruleOf = (row: RuleRow): Rule & { budgetUsed: bigint } => ({
  ...definitionOf(row.definition), ruleId: row.rule_id, programId: row.program_id, version: row.at_version, enabled: row.enabled,
  budgetUsed: BigInt(row.budget_used),
});

const rulesWithVersion = (db: Db, tenantId: string) => db.selectFrom('rules as r')
  .innerJoin('rule_versions as v', (j) => j.onRef('v.tenant_id', '=', 'r.tenant_id').onRef('v.rule_id', '=', 'r.rule_id'))
  .selectAll('r').select(['v.definition', 'v.version as at_version', budgetUsedOf('rule')])
  .where('r.tenant_id', '=', tenantId);

export async function insertRule(db: Db, tenantId: string, rule: Rule, actor: string, now: Date): Promise<void> {
  await db.insertInto('rules').values({
    tenant_id: tenantId, rule_id: rule.ruleId, program_id: rule.programId, trigger: rule.trigger, enabled: rule.enabled,
    version: rule.version, created_at: now, updated_at: now,
  }).execute();
  await insertVersion(db, tenantId, rule, actor, now);
}

async function insertVersion(db: Db, tenantId: string, rule: Rule, actor: string, now: Date): Promise<void> {
  const { ruleId, programId: _p, version: _v, enabled: _e, ...definition } = rule;
  await db.insertInto('rule_versions').values({
    tenant_id: tenantId, rule_id: ruleId, version: rule.version, definition: definitionJson(definition as RuleDefinition), actor, created_at: now,
  }).execute();
}

/** Saves `rule` as its next version; the caller holds the rule's lock. */
export async function insertNextVersion(db: Db, tenantId: string, rule: Rule, actor: string, now: Date): Promise<void> {
  await insertVersion(db, tenantId, rule, actor, now);
  await db.updateTable('rules').set({ version: rule.version, trigger: rule.trigger, enabled: rule.enabled, updated_at: now })
    .where('tenant_id', '=', tenantId).where('rule_id', '=', rule.ruleId).execute();
}

export async function setRuleEnabled(db: Db, tenantId: string, ruleId: string, enabled: boolean, now: Date): Promise<void> {
  await db.updateTable('rules').set({ enabled, updated_at: now }).where('tenant_id', '=', tenantId).where('rule_id', '=', ruleId).execute();
}

/** The rule at its current version (or at `version`), locked when asked. */
export async function loadRule(db: Db, tenantId: string, ruleId: string, options: { version?: number; lock?: boolean } = {}) {
  let q = rulesWithVersion(db, tenantId).where('r.rule_id', '=', ruleId);
  q = options.version === undefined ? q.whereRef('v.version', '=', 'r.version') : q.where('v.version', '=', options.version);
  const row = await (options.lock ? q.forUpdate('r') : q).executeTakeFirst();
  return row ? ruleOf(row) : null;
}

export async function listRules(db: Db, tenantId: string, programId: string, filter: { trigger?: string; enabled?: boolean } = {}) {
  let q = rulesWithVersion(db, tenantId).where('r.program_id', '=', programId).whereRef('v.version', '=', 'r.version');
  if (filter.trigger !== undefined) q = q.where('r.trigger', '=', filter.trigger);
  if (filter.enabled !== undefined) q = q.where('r.enabled', '=', filter.enabled);
  return (await q.orderBy('r.rule_id').execute()).map(ruleOf);
}

/** Every version of a rule, oldest first, with who saved it and when. */
export async function listVersions(db: Db, tenantId: string, ruleId: string) {
  const rows = await rulesWithVersion(db, tenantId).select(['v.actor', 'v.created_at as saved_at'])
    .where('r.rule_id', '=', ruleId).orderBy('v.version').execute();
  return rows.map((r) => ({ ...ruleOf(r), savedBy: r.actor, savedAt: r.saved_at }));
}

export interface RuleRef {
  ruleId: string;
  version: number;
}

const RULES_CACHED = 10_000;
/** Versions never change: a rule version read once by this process is the version, keyed by tenant, id and version. */
const enabledVersions = new Map<string, Rule>();

/**
 * The program's enabled rules at these versions (what loadEventProgram lists): those this process
 * has not read yet in one statement, the rest from memory.
 */
export async function enabledRulesAt(db: Db, tenantId: string, refs: readonly RuleRef[]): Promise<Rule[]> {
  const key = (r: RuleRef) => `${tenantId}:${r.ruleId}:${r.version}`;
  const missing = refs.filter((r) => !enabledVersions.has(key(r)));
  if (missing.length > 0) {
    const found = await rulesAt(db, tenantId, missing);
    if (enabledVersions.size + found.length > RULES_CACHED) enabledVersions.clear();
    for (const { budgetUsed: _, ...rule } of found) enabledVersions.set(key(rule), { ...rule, enabled: true });
  }
  return refs.flatMap((r) => enabledVersions.get(key(r)) ?? []);
}

/** Rules at given versions: what a past event used. */
export async function rulesAt(db: Db, tenantId: string, refs: readonly RuleRef[]) {
  if (refs.length === 0) return [];
  const rows = await rulesWithVersion(db, tenantId)
    .where((eb) => eb.or(refs.map((r) => eb.and([eb('v.rule_id', '=', r.ruleId), eb('v.version', '=', r.version)]))))
    .execute();
  return rows.map(ruleOf);
}

// ---- campaigns ---------------------------------------------------------------------------

export const campaignOf = (row: Selectable<CampaignsTable> & { budget_used: string }): Campaign & { budgetUsed: bigint } => ({
  campaignId: row.campaign_id, programId: row.program_id, name: row.name, validFrom: row.valid_from, validTo: row.valid_to,
  budget: row.budget === null ? null : BigInt(row.budget), perMember: capsOf(row.per_member), budgetUsed: BigInt(row.budget_used),
});

export async function insertCampaign(db: Db, tenantId: string, c: Campaign, now: Date): Promise<void> {
  await db.insertInto('campaigns').values({
    tenant_id: tenantId, campaign_id: c.campaignId, program_id: c.programId, name: c.name, valid_from: c.validFrom, valid_to: c.validTo,
    budget: c.budget, per_member: JSON.stringify(capsJson(c.perMember)), created_at: now, updated_at: now,
  }).execute();
}

export async function updateCampaign(db: Db, tenantId: string, c: Campaign, now: Date): Promise<void> {
  await db.updateTable('campaigns').set({
    name: c.name, valid_from: c.validFrom, valid_to: c.validTo, budget: c.budget, per_member: JSON.stringify(capsJson(c.perMember)), updated_at: now,
  }).where('tenant_id', '=', tenantId).where('campaign_id', '=', c.campaignId).execute();
}

export async function loadCampaign(db: Db, tenantId: string, campaignId: string, lock = false) {
  const q = db.selectFrom('campaigns as c').selectAll('c').select(budgetUsedOf('campaign')).where('c.tenant_id', '=', tenantId).where('c.campaign_id', '=', campaignId);
  const row = await (lock ? q.forUpdate('c') : q).executeTakeFirst();
  return row ? campaignOf(row) : null;
}

export async function listCampaigns(db: Db, tenantId: string, programId: string) {
  const rows = await db.selectFrom('campaigns as c').selectAll('c').select(budgetUsedOf('campaign')).where('c.tenant_id', '=', tenantId).where('c.program_id', '=', programId)
    .orderBy('c.campaign_id').execute();
  return rows.map(campaignOf);
}

export async function campaignsById(db: Db, tenantId: string, ids: readonly string[]): Promise<Map<string, Campaign>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('campaigns as c').selectAll('c').select(budgetUsedOf('campaign')).where('c.tenant_id', '=', tenantId).where('c.campaign_id', 'in', [...new Set(ids)]).execute();
  return new Map(rows.map((r) => [r.campaign_id, campaignOf(r)]));
}

// ---- limits --------------------------------------------------------------------------------

const scopeParts = (scope: Scope) => {
  const [kind, id] = scope.split(':') as ['rule' | 'campaign', string];
  return { kind, id };
};

/**
 * What the member already received from each scope in each cap's current period, in one
 * statement. Returns add negative awards, so points taken back free the cap again. A purchase
 * (or action) counts once towards `times` while the member keeps some of what the scope gave it:
 * a partial return leaves the time used, an award taken back whole (a full return, a bonus that
 * no longer qualifies) frees it.
 */
export async function memberUsage(db: Db, tenantId: string, memberId: string, caps: ReadonlyMap<Scope, readonly MemberCap[]>,
  at: Date, timeZone: string): Promise<(scope: Scope, period: Period) => Usage> {
  // The period holding `at`, from its start to the next one's: a late-reported event does not count awards of later periods.
  const asks = [...caps].flatMap(([scope, list]) => list.map((c) => ({ scope, period: c.period, ...periodBounds(c.period, at, timeZone) })));
  const found = new Map<string, Usage>();
  if (asks.length > 0) {
    // One lateral probe per scope kind, so each reads its own index over the period's range only.
    const { rows } = await sql<{ i: string; points: bigint; times: bigint }>`
      select p.i, r.points + c.points as points, r.times + c.times as times
      from unnest(${asks.map((a) => scopeParts(a.scope).kind)}::text[], ${asks.map((a) => scopeParts(a.scope).id)}::uuid[],
                  ${asks.map((a) => a.start?.toISOString() ?? '-infinity')}::timestamptz[],
                  ${asks.map((a) => a.end?.toISOString() ?? 'infinity')}::timestamptz[]) with ordinality as p(kind, id, start, finish, i)
      cross join lateral (
        select coalesce(sum(g.kept), 0) as points, count(*) filter (where g.kept > 0) as times
        from (select sum(a.points) as kept from rule_awards a
              where p.kind = 'rule' and a.tenant_id = ${tenantId} and a.member_id = ${memberId} and a.rule_id = p.id
                and a.occurred_at >= p.start and a.occurred_at < p.finish
              group by coalesce(a.purchase_event_id, a.event_id)) g) r
      cross join lateral (
        select coalesce(sum(g.kept), 0) as points, count(*) filter (where g.kept > 0) as times
        from (select sum(a.points) as kept from rule_awards a
              where p.kind = 'campaign' and a.tenant_id = ${tenantId} and a.member_id = ${memberId} and a.campaign_id = p.id
                and a.occurred_at >= p.start and a.occurred_at < p.finish
              group by coalesce(a.purchase_event_id, a.event_id)) g) c`.execute(db);
    for (const r of rows) {
      const ask = asks[Number(r.i) - 1]!;
      found.set(`${ask.scope}|${ask.period}`, { points: BigInt(r.points), times: Number(r.times) });
    }
  }
  return (scope, period) => found.get(`${scope}|${period}`) ?? { points: 0n, times: 0 };
}

type ShardRow = { scope: string; shard: number; budget: string | null; used: string; room: string };

const shardOfRow = (r: ShardRow): BudgetShard =>
  ({ scope: r.scope as Scope, shard: r.shard, budget: r.budget === null ? null : BigInt(r.budget), used: BigInt(r.used), room: BigInt(r.room) });

/**
 * The shards of these budgets: of each, only shard `shard`, or all. With `lock`, locked in
 * (scope, shard) order: every budget lock is taken in that one order, so two events never wait for
 * each other in a circle.
 */
export async function budgetShards(db: Db, tenantId: string, scopes: readonly Scope[], options: { shard: number | null; lock: boolean }): Promise<BudgetShard[]> {
  if (scopes.length === 0) return [];
  const { rows } = await sql<ShardRow>`
    select scope, shard, budget::text, used::text, room::text from budget_shards
    where tenant_id = ${tenantId} and scope = any(${[...scopes]}::text[])${options.shard === null ? sql`` : sql` and shard = ${options.shard}`}
    order by scope, shard${options.lock ? sql` for update` : sql``}`.execute(db);
  return rows.map(shardOfRow);
}

/** What budgets used: Σ used over each one's shards (a scope never budgeted used nothing). */
export async function budgetsUsed(db: Db, tenantId: string, scopes: readonly Scope[]): Promise<Map<Scope, bigint>> {
  const used = new Map<Scope, bigint>();
  for (const s of await budgetShards(db, tenantId, scopes, { shard: null, lock: false })) used.set(s.scope, (used.get(s.scope) ?? 0n) + s.used);
  return used;
}

/** Writes budget shards as they now stand: new ones, or ones the caller holds the locks of. */
export async function writeBudgetShards(db: Db, tenantId: string, shards: readonly BudgetShard[]): Promise<void> {
  if (shards.length === 0) return;
  await sql`
    insert into budget_shards (tenant_id, scope, shard, budget, used, room)
    select ${tenantId}::uuid, s, n, b, u, r
    from unnest(${shards.map((s) => s.scope)}::text[], ${shards.map((s) => s.shard)}::smallint[], ${shards.map((s) => s.budget?.toString() ?? null)}::bigint[],
                ${shards.map((s) => s.used.toString())}::bigint[], ${shards.map((s) => s.room.toString())}::bigint[]) as v(s, n, b, u, r)
    on conflict (tenant_id, scope, shard) do update set budget = excluded.budget, used = excluded.used, room = excluded.room`.execute(db);
}

/**
 * Sets a budget (an edit of its rule or campaign, whose row the caller holds locked): its shards
 * are created, or locked and spread again over what the new budget leaves. A scope that never had
 * a budget and still has none gets no shards.
 */
export async function setBudget(db: Db, tenantId: string, scope: Scope, budget: bigint | null): Promise<void> {
  const shards = await budgetShards(db, tenantId, [scope], { shard: null, lock: true });
  if (shards.length === 0 && budget === null) return;
  await writeBudgetShards(db, tenantId, shards.length === 0 ? newBudget(scope, budget) : respread(shards, 0, 0n, budget));
}

/** The budget used of a rule (`r`) or campaign (`c`) row, as a column. */
const budgetUsedOf = (kind: 'rule' | 'campaign') => sql<string>`(select coalesce(sum(s.used), 0) from budget_shards s
  where s.tenant_id = ${sql.ref(`${kind[0]}.tenant_id`)} and s.scope = ${`${kind}:`} || ${sql.ref(`${kind[0]}.${kind}_id`)})`.as('budget_used');

export interface AwardRow {
  eventId: string;
  ruleId: string;
  version: number;
  campaignId: string | null;
  memberId: string;
  occurredAt: Date;
  wallet: string;
  points: bigint;
  /** a return's award: the purchase it belongs to; null for the earning event's own */
  purchaseEventId?: string | null;
}

/** An event's rule awards as `rule_awards` rows (recordEventRows writes them with the event). */
export const awardRows = (tenantId: string, awards: readonly AwardRow[]) => awards.map((a) => ({
  tenant_id: tenantId, event_id: a.eventId, rule_id: a.ruleId, version: a.version, campaign_id: a.campaignId, member_id: a.memberId,
  occurred_at: a.occurredAt, wallet: a.wallet, points: a.points, purchase_event_id: a.purchaseEventId ?? null,
}));

export async function awardsOf(db: Db, tenantId: string, eventIds: readonly string[]): Promise<AwardRow[]> {
  if (eventIds.length === 0) return [];
  const rows = await db.selectFrom('rule_awards').selectAll().where('tenant_id', '=', tenantId).where('event_id', 'in', [...eventIds])
    .orderBy('event_id').orderBy('rule_id').execute();
  return rows.map((r) => ({
    eventId: r.event_id, ruleId: r.rule_id, version: r.version, campaignId: r.campaign_id, memberId: r.member_id,
    occurredAt: r.occurred_at, wallet: r.wallet, points: BigInt(r.points), purchaseEventId: r.purchase_event_id,
  }));
}

/**
 * The member's purchases before this event: counts and money paid, lifetime, this year and this
 * month (tenant's zone), summed over their months (migration 0113) as a scan of their purchase
 * events would count them: a month from the start of the year or month on, whatever comes later.
 */
export async function memberStats(db: Db, tenantId: string, memberId: string, at: Date): Promise<MemberStats> {
  const { rows: [r] } = await sql<{ purchases: string; year_count: string; month_count: string; spend: string; year_spend: string }>`
    select coalesce(sum(m.purchases), 0) as purchases,
           coalesce(sum(m.purchases) filter (where m.month >= n.month / 12 * 12), 0) as year_count,
           coalesce(sum(m.purchases) filter (where m.month >= n.month), 0) as month_count,
           coalesce(sum(m.spend), 0) as spend,
           coalesce(sum(m.spend) filter (where m.month >= n.month / 12 * 12), 0) as year_spend
    from (select laurel_month_of(${at}::timestamptz, t.time_zone) as month from tenants t where t.tenant_id = ${tenantId}) n
    left join member_purchase_months m on m.tenant_id = ${tenantId} and m.member_id = ${memberId}`.execute(db);
  if (!r) return NO_STATS;
  return {
    purchases: BigInt(r.purchases), purchasesThisYear: BigInt(r.year_count), purchasesThisMonth: BigInt(r.month_count),
    spend: BigInt(r.spend), spendThisYear: BigInt(r.year_spend),
  };
}
