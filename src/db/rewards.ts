// Reward, instance and partner-code queries. A reward's row is the lock its stock is counted
// under; an instance's row the lock its use or cancellation is decided under. Locks follow the
// ledger's order: the member's wallet, then the reward row; an instance's row, then the wallet.
import { sql, type RawBuilder } from 'kysely';
import type { RewardDefinition, Reward, RewardValue } from '../core/rewards/reward.js';
import { uuidv7 } from '../core/ids.js';
import { periodStart } from '../core/rules/evaluate.js';
import { big, capsJson, capsOf, when } from './rules.js';
import type { Period } from '../core/rules/rule.js';
import { outboxPayload, type OutboxMessage } from './jobs.js';
import { unnested, type Trx } from './ledger.js';
import type { Db, InstanceStatus } from './schema.js';


/** The definition as JSON: money and points are at most 10^12, exact as numbers. */
export function rewardJson(d: RewardDefinition): string {
  return JSON.stringify({ ...d, perMember: capsJson(d.perMember) }, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
}

export function valueOf(json: unknown): RewardValue {
  const v = json as Record<string, unknown>;
  switch (v.type) {
    case 'fixed_discount': return { type: 'fixed_discount', amount: BigInt(v.amount as number) };
    case 'percent_discount': return { type: 'percent_discount', percent: v.percent as string, cap: big(v.cap) };
    case 'store_credit': return { type: 'store_credit', amount: BigInt(v.amount as number), wallet: v.wallet as string };
    case 'experience': return { type: 'experience', startsAt: new Date(v.startsAt as string), location: (v.location as string | null) ?? null };
    case 'donation': return { type: 'donation', amount: BigInt(v.amount as number), charity: v.charity as string };
    default: return v as RewardValue;
  }
}

export interface RewardRow {
  reward: Reward;
  issued: bigint;
  createdAt: Date;
  updatedAt: Date;
}

type Row = { reward_id: string; program_id: string; code: string; definition: unknown; issued: bigint | string; created_at: Date; updated_at: Date };

function rowOf(r: Row): RewardRow {
  return { reward: rewardOf(r), issued: BigInt(r.issued), createdAt: r.created_at, updatedAt: r.updated_at };
}

/** A reward as its row holds it. */
export function rewardOf(r: Pick<Row, 'reward_id' | 'program_id' | 'code' | 'definition'>): Reward {
  const d = r.definition as Record<string, unknown>;
  return {
      rewardId: r.reward_id, programId: r.program_id, code: r.code, name: d.name as string, description: (d.description as string | null) ?? null,
      imageUrl: (d.imageUrl as string | null) ?? null, value: valueOf(d.value), cost: BigInt(d.cost as number),
      validFrom: when(d.validFrom), validTo: when(d.validTo), stock: big(d.stock), perMember: capsOf(d.perMember),
      tiers: (d.tiers as string[] | null) ?? null, grades: (d.grades as string[] | null) ?? null, segment: (d.segment as string | null) ?? null,
    channels: (d.channels as string[] | null) ?? null, expiresAfterDays: (d.expiresAfterDays as number | null) ?? null, enabled: d.enabled as boolean,
  };
}

export async function insertReward(trx: Trx, tenantId: string, rewardId: string, programId: string, d: RewardDefinition, now: Date): Promise<RewardRow> {
  const row = await trx.insertInto('rewards').values({
    tenant_id: tenantId, reward_id: rewardId, program_id: programId, code: d.code, definition: rewardJson(d), created_at: now, updated_at: now,
  }).returningAll().executeTakeFirstOrThrow();
  return rowOf(row);
}

export async function replaceReward(trx: Trx, tenantId: string, rewardId: string, d: RewardDefinition, now: Date): Promise<RewardRow | null> {
  const row = await trx.updateTable('rewards').set({ code: d.code, definition: rewardJson(d), updated_at: now })
    .where('tenant_id', '=', tenantId).where('reward_id', '=', rewardId).returning('reward_id').executeTakeFirst();
  return row ? loadReward(trx, tenantId, rewardId) : null;
}

/** A reward's issued count: its row's counter and, for a reward without a stock limit, its shards (see countIssued). */
const issuedTotal = sql<string>`rewards.issued + coalesce((select sum(c.n) from reward_issue_counts c
  where c.tenant_id = rewards.tenant_id and c.reward_id = rewards.reward_id), 0)`.as('issued');

export async function loadReward(db: Db, tenantId: string, rewardId: string, options: { lock?: boolean } = {}): Promise<RewardRow | null> {
  let q = db.selectFrom('rewards').select(['reward_id', 'program_id', 'code', 'definition', 'created_at', 'updated_at', issuedTotal])
    .where('tenant_id', '=', tenantId).where('reward_id', '=', rewardId);
  if (options.lock) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row ? rowOf(row) : null;
}

/**
 * The reward an instance is about to be issued of, locked when its issue must wait its turn: a
 * stock limit (or a partner voucher's codes) is checked and counted under the reward's lock. A
 * reward without one is read unlocked, and its count goes to a shard (countIssued), so members
 * issued it at once never queue on its row. The caller holds the member's wallet lock first.
 */
export async function loadRewardToIssue(trx: Trx, tenantId: string, rewardId: string): Promise<RewardRow | null> {
  const row = await loadReward(trx, tenantId, rewardId);
  return row && (row.reward.stock !== null || row.reward.value.type === 'partner_voucher') ? loadReward(trx, tenantId, rewardId, { lock: true }) : row;
}

export async function listRewardRows(db: Db, tenantId: string, programId: string): Promise<RewardRow[]> {
  const rows = await db.selectFrom('rewards').select(['reward_id', 'program_id', 'code', 'definition', 'created_at', 'updated_at', issuedTotal])
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).orderBy('code').execute();
  return rows.map(rowOf);
}

/**
 * The statement parts that move rewards' issued counts (`counted`: rows of reward_id and n, the
 * delta). With a stock limit, on the reward's row (which the caller has locked to check the
 * limit); without, on one of 16 shard rows: the first that no other transaction holds (SKIP
 * LOCKED), so concurrent issues of the same reward do not wait for each other's commits. Only when
 * every shard is held (or none exists yet) does it add to one picked at random, and may wait
 * there. Each reward picks its shard once, in a materialized `free` (an update joining the pick
 * itself may pick again per row it scans: it counted 44 for 24). One text however many rewards.
 */
const issuedCountParts = (tenantId: string, counted: RawBuilder<unknown>) => sql`
    counted as (${counted}), limited as (
      update rewards x set issued = x.issued + r.n from counted r
      where x.tenant_id = ${tenantId} and x.reward_id = r.reward_id and (x.definition->>'stock') is not null
      returning x.reward_id
    ), free as materialized (
      select r.reward_id, r.n, f.shard from counted r cross join lateral (
        select s.shard from reward_issue_counts s
        where s.tenant_id = ${tenantId} and s.reward_id = r.reward_id and not exists (select 1 from limited l where l.reward_id = r.reward_id)
        limit 1 for update skip locked) f
    ), bumped as (
      update reward_issue_counts c set n = c.n + f.n from free f
      where c.tenant_id = ${tenantId} and c.reward_id = f.reward_id and c.shard = f.shard
      returning c.reward_id
    ), sharded as (
      insert into reward_issue_counts (tenant_id, reward_id, shard, n)
      select ${tenantId}::uuid, r.reward_id, floor(random() * 16)::smallint, r.n from counted r
      where not exists (select 1 from limited l where l.reward_id = r.reward_id) and not exists (select 1 from bumped b where b.reward_id = r.reward_id)
      on conflict (tenant_id, reward_id, shard) do update set n = reward_issue_counts.n + excluded.n
    )`;

/** One reward's delta as issuedCountParts' `counted`, where `guard` holds. */
const oneReward = (rewardId: string, delta: number, guard: RawBuilder<unknown>) =>
  sql`select ${rewardId}::uuid as reward_id, ${delta}::bigint as n where ${guard}`;

/** Moves a reward's issued count: +1 when an instance is issued, −n when instances are cancelled (issuedCountParts). */
export async function countIssued(trx: Trx, tenantId: string, rewardId: string, delta: number): Promise<void> {
  await sql`with ${issuedCountParts(tenantId, oneReward(rewardId, delta, sql`true`))} select 1`.execute(trx);
}

/**
 * Issues an instance in one statement: its row, its count (issuedCountParts) and the message
 * telling it. False, with nothing written, when another instance of the tenant has its code.
 */
export async function issueInstance(trx: Trx, tenantId: string, i: Instance, message: OutboxMessage, now: Date): Promise<boolean> {
  const { rows } = await sql<{ issued: string }>`
    with issued as (
      insert into reward_instances ${INSTANCE_COLUMNS} values ${instanceValues(tenantId, i)}
      on conflict (tenant_id, code) do nothing
      returning 1
    ), ${issuedCountParts(tenantId, oneReward(i.rewardId, 1, sql`exists (select 1 from issued)`))}, told as (
      insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
      select ${tenantId}::uuid, ${uuidv7()}::uuid, ${message.type}, ${message.dedupeKey}, ${outboxPayload(message.payload)}::jsonb, ${now}::timestamptz
      where exists (select 1 from issued)
      on conflict (tenant_id, dedupe_key) do nothing
    )
    select count(*) as issued from issued`.execute(trx);
  return Number(rows[0]!.issued) === 1;
}

const INSTANCE_COLUMNS = sql`(tenant_id, instance_id, program_id, reward_id, member_id, code, status, cost, value, partner_code, channel,
  entry_id, hold_id, issued_at, expires_at, resolved_at, consumed_ref)`;

const instanceValues = (tenantId: string, i: Instance) => sql`(${tenantId}, ${i.instanceId}, ${i.programId}, ${i.rewardId}, ${i.memberId}, ${i.code},
  ${i.status}, ${i.cost}, ${instanceValue(i.value)}, ${i.partnerCode}, ${i.channel}, ${i.entryId}, ${i.holdId}, ${i.issuedAt}, ${i.expiresAt},
  ${i.resolvedAt}, ${i.consumedRef})`;

/**
 * Free instances of rewards without a stock limit (nor partner codes), as parts of a WITH
 * (`instances`, and issuedCountParts' for every reward at once): a batch's, with its other rows.
 * The parts are the same text however many instances and rewards (none too), so a batch's
 * statement is prepared once per connection. A code another instance of the tenant holds
 * (2^-80-rare) fails the statement, and the batch runs its operations again one by one.
 */
export function freeInstancesParts(tenantId: string, instances: readonly Instance[]): RawBuilder<unknown>[] {
  const perReward = new Map<string, number>();
  for (const i of instances) perReward.set(i.rewardId, (perReward.get(i.rewardId) ?? 0) + 1);
  return [
    sql`instances as (insert into reward_instances ${INSTANCE_COLUMNS} select ${tenantId}::uuid, * from ${unnested(instances, [
      ['instance_id', 'uuid', (i) => i.instanceId], ['program_id', 'uuid', (i) => i.programId], ['reward_id', 'uuid', (i) => i.rewardId],
      ['member_id', 'uuid', (i) => i.memberId], ['code', 'text', (i) => i.code], ['status', 'text', (i) => i.status], ['cost', 'bigint', (i) => i.cost],
      ['value', 'jsonb', (i) => instanceValue(i.value)], ['partner_code', 'text', (i) => i.partnerCode], ['channel', 'text', (i) => i.channel],
      ['entry_id', 'uuid', (i) => i.entryId], ['hold_id', 'uuid', (i) => i.holdId], ['issued_at', 'timestamptz', (i) => i.issuedAt],
      ['expires_at', 'timestamptz', (i) => i.expiresAt], ['resolved_at', 'timestamptz', (i) => i.resolvedAt], ['consumed_ref', 'text', (i) => i.consumedRef],
    ])})`,
    issuedCountParts(tenantId, sql`select * from unnest(${[...perReward.keys()]}::uuid[], ${[...perReward.values()]}::bigint[]) as r(reward_id, n)`),
  ];
}

export type Usage = (rewardId: string, period: Period) => { points: bigint; times: number };

const PERIODS: Period[] = ['day', 'week', 'month', 'year', 'lifetime'];

/**
 * A member's instances (not cancelled) and the points spent on them, per reward and per period
 * holding `at` in the tenant's zone: one statement for the whole catalog.
 */
export async function memberRewardUsage(db: Db, tenantId: string, memberId: string, at: Date, timeZone: string): Promise<Usage> {
  const starts = PERIODS.map((p) => periodStart(p, at, timeZone)?.toISOString() ?? '-infinity');
  const { rows } = await sql<{ reward_id: string; period: number; times: string; points: string }>`
    select i.reward_id, s.n::int as period, count(*) as times, sum(i.cost) as points
    from reward_instances i
    join unnest(${starts}::timestamptz[]) with ordinality as s(start, n) on i.issued_at >= s.start
    where i.tenant_id = ${tenantId} and i.member_id = ${memberId} and i.status <> 'cancelled'
    group by i.reward_id, s.n`.execute(db);
  const found = new Map(rows.map((r) => [`${r.reward_id}|${PERIODS[r.period - 1]}`, { points: BigInt(r.points), times: Number(r.times) }]));
  return (rewardId, period) => found.get(`${rewardId}|${period}`) ?? { points: 0n, times: 0 };
}

export interface Instance {
  instanceId: string;
  programId: string;
  rewardId: string;
  memberId: string;
  code: string;
  status: InstanceStatus;
  cost: bigint;
  value: RewardValue;
  partnerCode: string | null;
  channel: string | null;
  entryId: string | null;
  holdId: string | null;
  issuedAt: Date;
  expiresAt: Date | null;
  resolvedAt: Date | null;
  consumedRef: string | null;
}

type InstanceRow = {
  instance_id: string; program_id: string; reward_id: string; member_id: string; code: string; status: InstanceStatus; cost: bigint | string;
  value: unknown; partner_code: string | null; channel: string | null; entry_id: string | null; hold_id: string | null; issued_at: Date;
  expires_at: Date | null; resolved_at: Date | null; consumed_ref: string | null;
};

const instanceOf = (r: InstanceRow): Instance => ({
  instanceId: r.instance_id, programId: r.program_id, rewardId: r.reward_id, memberId: r.member_id, code: r.code, status: r.status,
  cost: BigInt(r.cost), value: valueOf(r.value), partnerCode: r.partner_code, channel: r.channel, entryId: r.entry_id, holdId: r.hold_id,
  issuedAt: r.issued_at, expiresAt: r.expires_at, resolvedAt: r.resolved_at, consumedRef: r.consumed_ref,
});

export async function codeTaken(trx: Trx, tenantId: string, code: string): Promise<boolean> {
  return (await trx.selectFrom('reward_instances').select('instance_id').where('tenant_id', '=', tenantId).where('code', '=', code).executeTakeFirst()) !== undefined;
}

const instanceValue = (value: RewardValue): string => JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));

export async function insertInstance(trx: Trx, tenantId: string, i: Instance): Promise<void> {
  await trx.insertInto('reward_instances').values({
    tenant_id: tenantId, instance_id: i.instanceId, program_id: i.programId, reward_id: i.rewardId, member_id: i.memberId, code: i.code,
    status: i.status, cost: i.cost, value: instanceValue(i.value),
    partner_code: i.partnerCode, channel: i.channel, entry_id: i.entryId, hold_id: i.holdId, issued_at: i.issuedAt, expires_at: i.expiresAt,
    resolved_at: i.resolvedAt, consumed_ref: i.consumedRef,
  }).execute();
}

export async function loadInstance(db: Db, tenantId: string, by: { code: string } | { instanceId: string }, options: { lock?: boolean } = {}): Promise<Instance | null> {
  let q = db.selectFrom('reward_instances').selectAll().where('tenant_id', '=', tenantId);
  q = 'code' in by ? q.where('code', '=', by.code) : q.where('instance_id', '=', by.instanceId);
  if (options.lock) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row ? instanceOf(row) : null;
}

/** An instance's end: consumed (on an order, with the capture that paid it), cancelled or expired. */
export async function resolveInstance(trx: Trx, tenantId: string, instanceId: string, status: InstanceStatus, now: Date,
  used: { consumedRef: string | null; entryId: string | null } = { consumedRef: null, entryId: null }): Promise<void> {
  await trx.updateTable('reward_instances')
    .set({ status, resolved_at: now, consumed_ref: used.consumedRef, ...(used.entryId ? { entry_id: used.entryId } : {}) })
    .where('tenant_id', '=', tenantId).where('instance_id', '=', instanceId).execute();
}

export async function listMemberInstances(db: Db, tenantId: string, memberId: string, before: string | null, limit: number): Promise<Instance[]> {
  let q = db.selectFrom('reward_instances').selectAll().where('tenant_id', '=', tenantId).where('member_id', '=', memberId);
  if (before) q = q.where('instance_id', '<', before);
  return (await q.orderBy('instance_id', 'desc').limit(limit).execute()).map(instanceOf);
}

export interface InstanceFilter {
  statuses?: readonly InstanceStatus[];
  rewardId?: string;
  memberId?: string;
  /** issued at or after / before */
  from?: Date;
  to?: Date;
  /** keyset: instances older than this one */
  before: string | null;
  limit: number;
}

/** A program's reward instances, newest first: the redemptions list. */
export async function listProgramInstances(db: Db, tenantId: string, programId: string, f: InstanceFilter): Promise<Instance[]> {
  let q = db.selectFrom('reward_instances').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId);
  if (f.statuses?.length) q = q.where('status', 'in', f.statuses);
  if (f.rewardId) q = q.where('reward_id', '=', f.rewardId);
  if (f.memberId) q = q.where('member_id', '=', f.memberId);
  if (f.from) q = q.where('issued_at', '>=', f.from);
  if (f.to) q = q.where('issued_at', '<', f.to);
  if (f.before) q = q.where('instance_id', '<', f.before);
  return (await q.orderBy('instance_id', 'desc').limit(f.limit).execute()).map(instanceOf);
}

/** Takes one of the partner's codes nobody has, for an instance; null when they are all taken. */
export async function takePartnerCode(trx: Trx, tenantId: string, rewardId: string, instanceId: string): Promise<string | null> {
  // A CTE, evaluated once: as a subquery in FROM the planner may scan it again per row, and SKIP LOCKED would hand out another code each time.
  const { rows } = await sql<{ code: string }>`
    with free as materialized (
      select code from partner_codes where tenant_id = ${tenantId} and reward_id = ${rewardId} and instance_id is null
      order by imported_at, code limit 1 for update skip locked
    )
    update partner_codes p set instance_id = ${instanceId}
    from free
    where p.tenant_id = ${tenantId} and p.reward_id = ${rewardId} and p.code = free.code
    returning p.code`.execute(trx);
  return rows[0]?.code ?? null;
}

export async function importPartnerCodeRows(trx: Trx, tenantId: string, rewardId: string, codes: readonly string[], now: Date): Promise<number> {
  const result = await sql`
    insert into partner_codes (tenant_id, reward_id, code, imported_at)
    select ${tenantId}, ${rewardId}, c, ${now} from unnest(${codes}::text[]) as c
    on conflict do nothing`.execute(trx);
  return Number(result.numAffectedRows ?? 0n);
}

/** Free partner codes per reward of a program. */
export async function freePartnerCodes(db: Db, tenantId: string, rewardIds: readonly string[]): Promise<Map<string, bigint>> {
  if (rewardIds.length === 0) return new Map();
  const rows = await db.selectFrom('partner_codes').select(['reward_id', sql<string>`count(*)`.as('n')])
    .where('tenant_id', '=', tenantId).where('reward_id', 'in', rewardIds).where('instance_id', 'is', null).groupBy('reward_id').execute();
  return new Map(rows.map((r) => [r.reward_id, BigInt(r.n)]));
}

/** Donations made with points, per reward: count and money, over [from, to). */
export async function donationTotals(db: Db, tenantId: string, programId: string, period: { from: Date | null; to: Date | null }) {
  const { rows } = await sql<{ reward_id: string; charity: string; donations: string; amount: string; points: string }>`
    select reward_id, value->>'charity' as charity, count(*) as donations, sum((value->>'amount')::bigint) as amount, sum(cost) as points
    from reward_instances
    where tenant_id = ${tenantId} and program_id = ${programId} and value->>'type' = 'donation' and status = 'consumed'
      and (${period.from}::timestamptz is null or issued_at >= ${period.from}) and (${period.to}::timestamptz is null or issued_at < ${period.to})
    group by reward_id, value->>'charity'
    order by reward_id`.execute(db);
  return rows.map((r) => ({ rewardId: r.reward_id, charity: r.charity, donations: BigInt(r.donations), amount: BigInt(r.amount), points: BigInt(r.points) }));
}



/**
 * Reserved instances whose hold is over: captured out of band (consumed), or voided or run out
 * (cancelled, their unit back in stock). One statement for every due row; the settle job releases
 * the expired holds' points.
 */
export async function settleReservedInstances(db: Db, now: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    with over as (
      select i.tenant_id, i.instance_id, i.reward_id, case when h.status = 'captured' then 'consumed' else 'cancelled' end as status
      from reward_instances i join holds h on h.tenant_id = i.tenant_id and h.hold_id = i.hold_id
      where i.status = 'reserved' and (h.status <> 'active' or h.expires_at <= ${now})
      for update of i skip locked
    ), done as (
      update reward_instances i set status = over.status, resolved_at = ${now}
      from over where i.tenant_id = over.tenant_id and i.instance_id = over.instance_id
      returning i.tenant_id, i.instance_id, i.reward_id, i.member_id, i.program_id, i.cost, i.status, i.partner_code
    ), stock as (
      update rewards r set issued = r.issued - c.n
      from (select tenant_id, reward_id, count(*) as n from done where status = 'cancelled' group by tenant_id, reward_id) c
      where r.tenant_id = c.tenant_id and r.reward_id = c.reward_id
    ), messages as (
      insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
      select tenant_id, laurel_uuid_v7(), 'reward.' || status, 'reward.' || status || ':' || instance_id,
             jsonb_build_object('instanceId', instance_id, 'rewardId', reward_id, 'memberId', member_id, 'programId', program_id, 'points', cost, 'status', status,
                                'partnerCode', partner_code),
             ${now}
      from done
      on conflict (tenant_id, dedupe_key) do nothing
    )
    select count(*)::int as n from done`.execute(db);
  return rows[0]?.n ?? 0;
}

/** Issued instances past their date in programs that forfeit their points: expired, in one statement. */
export async function forfeitExpiredInstances(db: Db, now: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    with done as (
      update reward_instances i set status = 'expired', resolved_at = ${now}
      from programs p
      where p.tenant_id = i.tenant_id and p.program_id = i.program_id and p.expired_rewards = 'forfeit'
        and i.status = 'issued' and i.expires_at <= ${now}
      returning i.tenant_id, i.instance_id, i.reward_id, i.member_id, i.program_id, i.cost, i.partner_code
    ), messages as (
      insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
      select tenant_id, laurel_uuid_v7(), 'reward.expired', 'reward.expired:' || instance_id,
             jsonb_build_object('instanceId', instance_id, 'rewardId', reward_id, 'memberId', member_id, 'programId', program_id, 'points', cost, 'refunded', false,
                                'partnerCode', partner_code),
             ${now}
      from done
      on conflict (tenant_id, dedupe_key) do nothing
    )
    select count(*)::int as n from done`.execute(db);
  return rows[0]?.n ?? 0;
}

/** A chunk of issued instances past their date in programs that refund them, locked (SKIP LOCKED) for the caller's transaction. */
export async function claimRefundableInstances(trx: Trx, now: Date, limit: number): Promise<(Instance & { tenantId: string })[]> {
  const { rows } = await sql<InstanceRow & { tenant_id: string }>`
    select i.* from reward_instances i
    join programs p on p.tenant_id = i.tenant_id and p.program_id = i.program_id and p.expired_rewards = 'refund'
    where i.status = 'issued' and i.expires_at <= ${now}
    order by i.expires_at
    limit ${limit}
    for update of i skip locked`.execute(trx);
  return rows.map((r) => ({ ...instanceOf(r), tenantId: r.tenant_id }));
}

/** A reward.expiring message for each issued instance within its program's expiryReminderDays of its date, once. */
export async function queueRewardReminders(db: Db, now: Date): Promise<number> {
  const result = await sql`
    insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
    select i.tenant_id, laurel_uuid_v7(), 'reward.expiring', 'reward.expiring:' || i.instance_id,
           jsonb_build_object('instanceId', i.instance_id, 'rewardId', i.reward_id, 'memberId', i.member_id, 'programId', i.program_id,
                              'points', i.cost, 'expiresAt', i.expires_at),
           ${now}
    from reward_instances i
    join programs p on p.tenant_id = i.tenant_id and p.program_id = i.program_id
    where p.expiry_reminder_days is not null and i.status = 'issued'
      and i.expires_at > ${now} and i.expires_at <= ${now}::timestamptz + make_interval(days => p.expiry_reminder_days)
    on conflict (tenant_id, dedupe_key) do nothing`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
