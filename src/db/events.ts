// Event queries: a program's event settings, event rows and their domain shape, the returns of a
// purchase under its lock, what rules read of a member.
import { sql, type InferResult, type Insertable, type RawBuilder, type Selectable } from 'kysely';
import type { EventEntry, EventRecord, Explained } from '../core/events/event.js';
import type { PurchaseLine, ReturnLine } from '../core/events/purchase.js';
import { decodeJson, encodeJson } from '../core/json.js';
import { DEFAULT_WALLET, type PointValue } from '../core/program.js';
import type { Facts } from '../core/rules/conditions.js';
import type { Campaign } from '../core/rules/rule.js';
import type { MemberProfile } from '../core/rules/facts.js';
import { progressParts, type AchievementVersion, type Progressed } from './achievements.js';
import { activityRows, type Activity } from './activity.js';
import { findingKeyQuery, foundWithKey, unnested, type FoundWithKey, insertIdempotency, type StoredResponse, type Trx } from './ledger.js';
import { compiledOnce } from './connection.js';
import { awardRows, big, capsOf, when, type AwardRow, type RuleRef } from './rules.js';
import type { Db, EventsTable } from './schema.js';

export type EventRow = Selectable<EventsTable>;

export interface EventProgram {
  programId: string;
  enrollmentMode: 'universal' | 'opt_in';
  /** a universal program enrols a member named by e-mail alone (true), or only one given an externalId (false) */
  enrollByEmail: boolean;
  /** the tenant's currency: the one money of its events */
  currency: string;
  /** the tenant's zone: rules see local time, caps count local days and months */
  timeZone: string;
  /** the wallets whose rule awards are tier-qualifying points: the points wallet and the qualifying ones */
  qualifyingWallets: string[];
  /** the program's tier ladder as stored (validateLadder reads it); null: no tiers */
  ladder: unknown;
  /** what points are worth when they pay (null: they do not) */
  pointValue: PointValue | null;
  /** the part of a purchase paid with points earns too (SPEC §4; default: it does not) */
  earnOnPaidWithPoints: boolean;
  /** the control group the program keeps (services/analytics.ts): shareBp 0 holds nobody out */
  holdout: { shareBp: number; salt: string };
  /** the enabled rules, in rule id order */
  rules: ProgramRule[];
  /** the campaigns of the enabled rules, by id */
  campaigns: Map<string, Campaign>;
  /**
   * The features the program has set up, read with it so that an event makes no statement for
   * those it has not: each is its own statement when set up.
   */
  uses: ProgramFeatures;
}

/** An enabled rule as the program lists it: its definition is read by version (db/rules.ts enabledRulesAt). */
export interface ProgramRule extends RuleRef {
  trigger: string;
}

type CampaignJson = { campaign_id: string; program_id: string; name: string; valid_from: string | null; valid_to: string | null; budget: string | null; per_member: unknown };

export interface ProgramFeatures {
  /** the enabled achievements at their current versions (none: no progress is kept) */
  achievements: AchievementVersion[];
  /** accounting settings: an earning purchase's price is allocated (services/accounting.ts) */
  accounting: boolean;
  /** referral settings (on or off: a pending referral waits while they are off) */
  referrals: boolean;
  /** a household: a member's earnings may go to its pool */
  households: boolean;
  /** a membership plan with a tier benefit: a member's held tier may differ from the one they qualify for */
  membershipTiers: boolean;
}

/** A member as an event finds them: the columns it names them by, and what it checks. */
export interface NamedMember {
  member_id: string;
  status: 'active' | 'suspended' | 'erased';
  enrolled_by_event: string | null;
  external_id: string | null;
  email: string | null;
  phone: string | null;
  card_code: string | null;
}

/** A column a request names a member by, with the value it gives. */
export type MemberName = readonly ['member_id' | 'external_id' | 'email' | 'phone' | 'card_code', string];

/** The program's members any of these names matches, as JSON (every column is text). */
const membersNamed = (names: readonly MemberName[]) => names.length === 0 ? sql<NamedMember[]>`'[]'::jsonb` : sql<NamedMember[]>`coalesce((
  select jsonb_agg(jsonb_build_object('member_id', m.member_id, 'status', m.status, 'enrolled_by_event', m.enrolled_by_event,
    'external_id', m.external_id, 'email', m.email, 'phone', m.phone, 'card_code', m.card_code))
  from members m where m.tenant_id = p.tenant_id and m.program_id = p.program_id
    and (${sql.join(names.map(([column, value]) => sql`m.${sql.ref(column)} = ${value}`), sql` or `)})), '[]'::jsonb)`;

const programQuery = (db: Db, tenantId: string, programId: string) => db.selectFrom('programs as p')
  .innerJoin('tenants as t', 't.tenant_id', 'p.tenant_id')
  .leftJoin('tier_ladders as l', (j) => j.onRef('l.tenant_id', '=', 'p.tenant_id').onRef('l.program_id', '=', 'p.program_id'))
  .select(['p.program_id', 'p.enrollment_mode', 'p.enroll_by_email', 't.currency', 't.time_zone', 'l.definition as ladder', 'p.point_value_points', 'p.point_value_minor', 'p.earn_on_paid_with_points'])
  .select(sql<string[]>`array(select w.code from wallets w where w.tenant_id = p.tenant_id and w.program_id = p.program_id
    and (w.kind = 'qualifying' or w.code = ${DEFAULT_WALLET}) order by w.code)`.as('qualifying'))
  // The features' settings an event reads, with the program rather than a statement each.
  .leftJoin('program_analytics as h', (j) => j.onRef('h.tenant_id', '=', 'p.tenant_id').onRef('h.program_id', '=', 'p.program_id'))
  .select(['h.control_share_bp', 'h.holdout_salt'])
  // The enabled achievements' ids and versions: their definitions are cached per version, so an
  // event reads a change made by any process and makes no statement of its own for the list.
  .select(sql<string[]>`array(select a.achievement_id || ':' || a.version from achievements a where a.tenant_id = p.tenant_id
    and a.program_id = p.program_id and a.enabled order by a.achievement_id)`.as('achievements'))
  // The enabled rules' ids, versions and triggers, for the same reason (their versions are cached
  // in db/rules.ts), and the campaigns they belong to as they stand: a campaign has no versions.
  .select(sql<string[]>`array(select r.rule_id || ':' || r.version || ':' || r.trigger from rules r where r.tenant_id = p.tenant_id
    and r.program_id = p.program_id and r.enabled order by r.rule_id)`.as('rules'))
  .select(sql<CampaignJson[]>`coalesce((select jsonb_agg(jsonb_build_object('campaign_id', c.campaign_id, 'program_id', c.program_id, 'name', c.name,
      'valid_from', c.valid_from, 'valid_to', c.valid_to, 'budget', c.budget::text, 'per_member', c.per_member))
    from campaigns c where c.tenant_id = p.tenant_id and c.campaign_id in (
      select (v.definition->>'campaignId')::uuid from rules r
      join rule_versions v on v.tenant_id = r.tenant_id and v.rule_id = r.rule_id and v.version = r.version
      where r.tenant_id = p.tenant_id and r.program_id = p.program_id and r.enabled and v.definition->>'campaignId' is not null)), '[]'::jsonb)`.as('campaigns'))
  .select((eb) => eb.exists(eb.selectFrom('accounting_settings as s').select('s.program_id')
    .whereRef('s.tenant_id', '=', 'p.tenant_id').whereRef('s.program_id', '=', 'p.program_id')).as('accounting'))
  .select((eb) => eb.exists(eb.selectFrom('referral_settings as r').select('r.program_id')
    .whereRef('r.tenant_id', '=', 'p.tenant_id').whereRef('r.program_id', '=', 'p.program_id')).as('referrals'))
  .select((eb) => eb.exists(eb.selectFrom('households as hh').select('hh.household_id')
    .whereRef('hh.tenant_id', '=', 'p.tenant_id').whereRef('hh.program_id', '=', 'p.program_id')).as('households'))
  .select((eb) => eb.exists(eb.selectFrom('membership_plans as mp').select('mp.plan_id')
    .whereRef('mp.tenant_id', '=', 'p.tenant_id').whereRef('mp.program_id', '=', 'p.program_id')
    .where(sql<boolean>`mp.benefits->>'tier' is not null`)).as('membership_tiers'))
  .where('p.tenant_id', '=', tenantId).where('p.program_id', '=', programId);

type ProgramRow = InferResult<ReturnType<typeof programQuery>>[number];

const eventProgramOf = (row: ProgramRow): EventProgram => ({
  programId: row.program_id, enrollmentMode: row.enrollment_mode, enrollByEmail: row.enroll_by_email, currency: row.currency, timeZone: row.time_zone,
  qualifyingWallets: row.qualifying, ladder: row.ladder ?? null,
  pointValue: row.point_value_points === null ? null : { points: BigInt(row.point_value_points), minor: BigInt(row.point_value_minor!) },
  earnOnPaidWithPoints: row.earn_on_paid_with_points,
  holdout: { shareBp: row.control_share_bp ?? 0, salt: row.holdout_salt ?? row.program_id },
  rules: row.rules.map(ruleRefOf),
  campaigns: new Map(row.campaigns.map((c) => [c.campaign_id, {
    campaignId: c.campaign_id, programId: c.program_id, name: c.name, validFrom: when(c.valid_from), validTo: when(c.valid_to), budget: big(c.budget),
    perMember: capsOf(c.per_member),
  }])),
  uses: {
    achievements: row.achievements.map(versionOf), accounting: Boolean(row.accounting), referrals: Boolean(row.referrals),
    households: Boolean(row.households), membershipTiers: Boolean(row.membership_tiers),
  },
});

export async function loadEventProgram(db: Db, tenantId: string, programId: string): Promise<EventProgram | null> {
  const row = await programQuery(db, tenantId, programId).executeTakeFirst();
  return row ? eventProgramOf(row) : null;
}

/**
 * loadEventProgram, the lookup of the event's idempotency key, and the members of the program the
 * event names (`names`: none to look up), in one statement.
 */
export async function loadEventProgramFindingKey(db: Db, tenantId: string, programId: string, key: string, names: readonly MemberName[]): Promise<{
  program: EventProgram | null; stored: StoredResponse | null; members: NamedMember[];
}> {
  const columns = names.map(([column]) => column);
  const shape = columns.join(' ');
  let run = programFindingKey.get(shape);
  if (!run) {
    run = compiledOnce((db, tenantId: string, programId: string, key: string, ...values: string[]) => findingKeyQuery(tenantId, key,
      programQuery(db, tenantId, programId).select(membersNamed(columns.map((column, i) => [column, values[i]!])).as('members'))));
    programFindingKey.set(shape, run);
  }
  const { row, stored } = foundWithKey(await run(db, tenantId, programId, key, ...names.map(([, value]) => value)), 'program_id');
  return { program: row && eventProgramOf(row), stored, members: row?.members ?? [] };
}

/** loadEventProgramFindingKey's statements, compiled once for each set of names an event gives (there are at most 32). */
const programFindingKey = new Map<string, ReturnType<typeof compiledOnce<[string, string, string, ...string[]], FoundWithKey<ProgramRow & { members: NamedMember[] }>>>>();

const ruleRefOf = (idVersionTrigger: string): ProgramRule => {
  const [ruleId, version] = idVersionTrigger.split(':', 2) as [string, string];
  return { ruleId, version: Number(version), trigger: idVersionTrigger.slice(ruleId.length + version.length + 2) };
};

const versionOf = (idVersion: string): AchievementVersion => {
  const at = idVersion.lastIndexOf(':');
  return { achievementId: idVersion.slice(0, at), version: Number(idVersion.slice(at + 1)) };
};

/** Money and quantities go into JSON as numbers: every one is at most 10^12, exact in a double. */
const linesJson = (lines: EventRecord['lines']) => lines?.map((l) => ('unitPrice' in l
  ? { sku: l.sku, category: l.category, quantity: Number(l.quantity), unitPrice: Number(l.unitPrice), discount: Number(l.discount) }
  : { sku: l.sku, quantity: Number(l.quantity) })) ?? null;

type JsonLine = { sku: string; category?: string | null; quantity: number; unitPrice?: number; discount?: number };

function linesOf(json: unknown, purchased: boolean): PurchaseLine[] | ReturnLine[] | null {
  if (!Array.isArray(json)) return null;
  const lines = json as JsonLine[];
  return purchased
    ? lines.map((l) => ({ sku: l.sku, category: l.category ?? null, quantity: BigInt(l.quantity), unitPrice: BigInt(l.unitPrice!), discount: BigInt(l.discount ?? 0) }))
    : lines.map((l) => ({ sku: l.sku, quantity: BigInt(l.quantity) }));
}

export function eventRowOf(tenantId: string, e: EventRecord, facts: Facts | null, excluded: readonly RuleRef[] = []): Insertable<EventsTable> {
  return {
    tenant_id: tenantId, event_id: e.eventId, program_id: e.programId, member_id: e.memberId, external_id: e.externalId,
    type: e.type, occurred_at: e.occurredAt, channel: e.channel, location: e.location, currency: e.currency,
    total: e.total, paid_with_points: e.paidWithPoints, refund_amount: e.refundAmount, order_ref: e.orderId,
    purchase_event_id: e.purchaseEventId,
    payload: JSON.stringify({ lines: linesJson(e.lines), attributes: e.attributes, purchaseExternalId: e.purchaseExternalId }),
    points: e.points, entry_id: e.ledgerEntryId, created_at: e.createdAt, points_paid: e.pointsPaid ?? null, points_entry_id: e.pointsEntryId ?? null,
    facts: facts === null ? null : encodeJson(facts), explanation: encodeJson(e.explanation), entries: encodeJson(e.entries),
    excluded_rules: excluded.length === 0 ? null : JSON.stringify(excluded.map((r) => ({ ruleId: r.ruleId, version: r.version }))),
  };
}

/** The rules an exclusive rule kept from firing on a purchase. */
export const excludedRulesOf = (row: EventRow): RuleRef[] => (row.excluded_rules as RuleRef[] | null) ?? [];

export function eventOf(row: EventRow): EventRecord {
  const payload = row.payload as { lines?: unknown; attributes?: Record<string, unknown>; purchaseExternalId?: string | null };
  const kind = row.type === 'purchase' ? 'purchase' : row.type === 'return' ? 'return' : 'action';
  return {
    eventId: row.event_id, programId: row.program_id, memberId: row.member_id, externalId: row.external_id, type: row.type, kind,
    occurredAt: row.occurred_at, channel: row.channel, location: row.location, currency: row.currency, orderId: row.order_ref,
    lines: linesOf(payload.lines, kind === 'purchase'), total: row.total, paidWithPoints: row.paid_with_points,
    purchaseEventId: row.purchase_event_id, purchaseExternalId: payload.purchaseExternalId ?? null, refundAmount: row.refund_amount,
    attributes: payload.attributes ?? {}, points: row.points, ledgerEntryId: row.entry_id, createdAt: row.created_at,
    pointsPaid: row.points_paid === null ? null : BigInt(row.points_paid), pointsEntryId: row.points_entry_id,
    entries: decodeJson<EventEntry[]>(row.entries), explanation: decodeJson<Explained[]>(row.explanation),
  };
}

/** The PostgreSQL type of each column an event's rows write. */
const COLUMN_TYPES: Record<string, string> = {
  tenant_id: 'uuid', event_id: 'uuid', program_id: 'uuid', member_id: 'uuid', external_id: 'text', type: 'text', occurred_at: 'timestamptz',
  channel: 'text', location: 'text', currency: 'text', total: 'bigint', paid_with_points: 'bigint', refund_amount: 'bigint', order_ref: 'text',
  purchase_event_id: 'uuid', payload: 'jsonb', points: 'bigint', entry_id: 'uuid', created_at: 'timestamptz', facts: 'jsonb', explanation: 'jsonb',
  entries: 'jsonb', points_entry_id: 'uuid', points_paid: 'bigint', excluded_rules: 'jsonb',
  rule_id: 'uuid', version: 'int', campaign_id: 'uuid', wallet: 'text', qualifying_points: 'bigint', spend: 'bigint', visits: 'int',
};

/** `insert into table (columns) select … from unnest(…)` of rows with the same columns (each in COLUMN_TYPES), as a statement part. */
const insertRows = (table: string, rows: readonly Record<string, unknown>[]) => {
  const columns = Object.keys(rows[0]!);
  return sql`insert into ${sql.table(table)} (${sql.raw(columns.join(', '))})
    select * from ${unnested(rows, columns.map((c) => [c, COLUMN_TYPES[c]!, (r: Record<string, unknown>) => r[c]] as const))}`;
};

/**
 * An event's own rows, in one statement at the end of its transaction: its answer under its key,
 * the event, its rule awards and its activity (each rules and review read later, never within), and
 * what the event's features decided to record with them.
 */
export async function recordEventRows(trx: Trx, tenantId: string, rows: EventRows & {
  stored: StoredResponse; now: Date;
  /** more parts of the WITH, named apart from these (achievements' toldParts) */
  also?: readonly RawBuilder<unknown>[] | undefined;
}): Promise<void> {
  const parts = [sql`stored as (${insertIdempotency(tenantId, [rows.stored], rows.now)})`, ...eventRowsParts(tenantId, [rows], rows.now), ...rows.also ?? []];
  await sql`with ${sql.join(parts)} select 1`.execute(trx);
}

/** An event's own rows: the event, its rule awards, its activity. */
export interface EventRows {
  event: EventRecord;
  facts: Facts | null;
  excluded: readonly RuleRef[];
  awards: readonly AwardRow[];
  activity: Activity;
  /** what a batched event decided for its member's achievements */
  progress?: Progressed | null;
}

/** The rows of these events as the parts of a WITH (`event`, `awards`, `activity`, and progressParts'): one insert per table for them all. */
export function eventRowsParts(tenantId: string, rows: readonly EventRows[], now: Date): RawBuilder<unknown>[] {
  const parts = [sql`event as (${insertRows('events', rows.map((r) => eventRowOf(tenantId, r.event, r.facts, r.excluded)))})`];
  const awards = rows.flatMap((r) => awardRows(tenantId, r.awards));
  if (awards.length > 0) parts.push(sql`awards as (${insertRows('rule_awards', awards)})`);
  const activity = rows.flatMap((r) => activityRows(tenantId, r.activity));
  if (activity.length > 0) parts.push(sql`activity as (${insertRows('member_activity', activity)})`);
  const purchases = rows.map((r) => r.event).filter((e) => e.type === 'purchase');
  if (purchases.length > 0) parts.push(sql`months as (${addPurchaseMonths(tenantId, purchases)})`);
  const progressed = rows.flatMap((r) => (r.progress ? [r.progress] : []));
  if (progressed.length > 0) parts.push(...progressParts(tenantId, progressed, now));
  return parts;
}

/** Purchases added to their members' months (migration 0113), which memberStats sums. */
const addPurchaseMonths = (tenantId: string, purchases: readonly EventRecord[]) => sql`
  insert into member_purchase_months (tenant_id, member_id, month, purchases, spend)
  select ${tenantId}::uuid, v.member, laurel_month_of(v.at, t.time_zone), count(*), coalesce(sum(v.total), 0)
  from ${unnested(purchases, [['member', 'uuid', (e) => e.memberId], ['at', 'timestamptz', (e) => e.occurredAt], ['total', 'bigint', (e) => e.total]])}
  join tenants t on t.tenant_id = ${tenantId}
  group by v.member, laurel_month_of(v.at, t.time_zone)
  on conflict (tenant_id, member_id, month) do update
    set purchases = member_purchase_months.purchases + excluded.purchases, spend = member_purchase_months.spend + excluded.spend`;

/** The facts a purchase's rules saw, for its returns and for dry runs. */
export const factsOfRow = (row: EventRow): Facts | null => (row.facts === null ? null : decodeJson<Facts>(row.facts));

/** What rules read of a member. */
export async function loadMemberProfile(db: Db, tenantId: string, memberId: string): Promise<MemberProfile | null> {
  const row = await db.selectFrom('members').select(['member_id', 'tier', 'grade', 'attributes', 'birthday', 'enrolled_at'])
    .where('tenant_id', '=', tenantId).where('member_id', '=', memberId).executeTakeFirst();
  return row ? {
    memberId: row.member_id, tier: row.tier, grade: row.grade, attributes: row.attributes ?? {}, birthday: row.birthday, enrolledAt: row.enrolled_at,
  } : null;
}

/** Past events of a program, newest first: what a dry run replays. */
export async function programEvents(db: Db, tenantId: string, programId: string, filter: { type: string; from: Date | null; to: Date | null; limit: number }) {
  let q = db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('type', '=', filter.type);
  if (filter.from) q = q.where('occurred_at', '>=', filter.from);
  if (filter.to) q = q.where('occurred_at', '<', filter.to);
  return q.orderBy('event_id', 'desc').limit(filter.limit).execute();
}

export async function findEventByExternalId(db: Db, tenantId: string, programId: string, externalId: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll()
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('external_id', '=', externalId)
    .executeTakeFirst();
}

/** Locks a purchase: its returns are decided one at a time, each seeing the ones before. */
export async function lockEvent(db: Db, tenantId: string, eventId: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId).where('event_id', '=', eventId).forUpdate().executeTakeFirst();
}

export async function loadReturnsOf(db: Db, tenantId: string, purchaseEventId: string): Promise<EventRow[]> {
  return db.selectFrom('events').selectAll()
    .where('tenant_id', '=', tenantId).where('purchase_event_id', '=', purchaseEventId).orderBy('event_id').execute();
}

/** The ids of the returns of these purchases. */
export async function returnIdsOf(db: Db, tenantId: string, purchaseEventIds: readonly string[]): Promise<string[]> {
  if (purchaseEventIds.length === 0) return [];
  const rows = await db.selectFrom('events').select('event_id')
    .where('tenant_id', '=', tenantId).where('purchase_event_id', 'in', [...purchaseEventIds]).execute();
  return rows.map((r) => r.event_id);
}

export async function loadEvent(db: Db, tenantId: string, eventId: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId).where('event_id', '=', eventId).executeTakeFirst();
}

export interface EventFilter {
  memberId: string;
  types?: string[];
  /** events older than this one (pages go newest first) */
  before?: string | null;
  limit: number;
}

/** A member's events, newest first; limit+1 rows so the caller knows if more follow. */
export async function listEventRows(db: Db, tenantId: string, filter: EventFilter): Promise<EventRow[]> {
  let q = db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId).where('member_id', '=', filter.memberId);
  if (filter.types?.length) q = q.where('type', 'in', filter.types);
  if (filter.before) q = q.where('event_id', '<', filter.before);
  return q.orderBy('event_id', 'desc').limit(filter.limit + 1).execute();
}
