// Achievement queries: definitions and their versions, the running tallies (upserted by the event
// path, one statement per event), contributions, unlocks, the unlock report and the backfill's
// chunked, set-based reads and writes.
import { sql, type RawBuilder } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import { decodeJson } from '../core/json.js';
import { definitionJson, definitionOf, type Achievement, type AchievementDefinition } from '../core/achievements/definition.js';
import type { Tally } from '../core/achievements/progress.js';
import type { Facts } from '../core/rules/conditions.js';
import { outboxPayload, type OutboxMessage } from './jobs.js';
import { freeInstancesParts, rewardOf, type Instance } from './rewards.js';
import type { Reward } from '../core/rewards/reward.js';
import type { Db } from './schema.js';

type Row = {
  achievement_id: string; program_id: string; enabled: boolean; definition: unknown; at_version: number;
};

const achievementOf = (r: Row): Achievement => ({
  ...definitionOf(r.definition as Record<string, unknown>), achievementId: r.achievement_id, programId: r.program_id, version: r.at_version, enabled: r.enabled,
});

const withVersion = (db: Db, tenantId: string) => db.selectFrom('achievements as a')
  .innerJoin('achievement_versions as v', (j) => j.onRef('v.tenant_id', '=', 'a.tenant_id').onRef('v.achievement_id', '=', 'a.achievement_id'))
  .select(['a.achievement_id', 'a.program_id', 'a.enabled', 'v.definition', 'v.version as at_version'])
  .where('a.tenant_id', '=', tenantId);

export async function insertAchievement(db: Db, tenantId: string, a: Achievement, actor: string, now: Date): Promise<void> {
  await db.insertInto('achievements').values({
    tenant_id: tenantId, achievement_id: a.achievementId, program_id: a.programId, code: a.code, enabled: a.enabled, version: a.version,
    created_at: now, updated_at: now,
  }).execute();
  await insertVersion(db, tenantId, a, actor, now);
}

async function insertVersion(db: Db, tenantId: string, a: Achievement, actor: string, now: Date): Promise<void> {
  const { achievementId, programId: _p, version, enabled: _e, ...definition } = a;
  await db.insertInto('achievement_versions').values({
    tenant_id: tenantId, achievement_id: achievementId, version, definition: JSON.stringify(definitionJson(definition as AchievementDefinition)), actor, created_at: now,
  }).execute();
}

/** Saves the next version; the caller holds the achievement's row lock. */
export async function insertNextVersion(db: Db, tenantId: string, a: Achievement, actor: string, now: Date): Promise<void> {
  await insertVersion(db, tenantId, a, actor, now);
  await db.updateTable('achievements').set({ version: a.version, code: a.code, updated_at: now })
    .where('tenant_id', '=', tenantId).where('achievement_id', '=', a.achievementId).execute();
}

export async function loadAchievement(db: Db, tenantId: string, achievementId: string, options: { version?: number; lock?: boolean } = {}): Promise<Achievement | null> {
  let q = withVersion(db, tenantId).where('a.achievement_id', '=', achievementId);
  q = options.version === undefined ? q.whereRef('v.version', '=', 'a.version') : q.where('v.version', '=', options.version);
  if (options.lock) q = q.forUpdate('a');
  const row = await q.executeTakeFirst();
  return row ? achievementOf(row) : null;
}

export async function codeInUse(db: Db, tenantId: string, programId: string, code: string, except: string | null): Promise<boolean> {
  let q = db.selectFrom('achievements').select('achievement_id').where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('code', '=', code);
  if (except) q = q.where('achievement_id', '<>', except);
  return (await q.executeTakeFirst()) !== undefined;
}

export async function listAchievementRows(db: Db, tenantId: string, programId: string, options: { enabledOnly?: boolean } = {}): Promise<Achievement[]> {
  let q = withVersion(db, tenantId).where('a.program_id', '=', programId).whereRef('v.version', '=', 'a.version');
  if (options.enabledOnly) q = q.where('a.enabled', '=', true);
  return (await q.orderBy('a.achievement_id').execute()).map(achievementOf);
}

export async function listVersions(db: Db, tenantId: string, achievementId: string) {
  const rows = await db.selectFrom('achievement_versions').selectAll().where('tenant_id', '=', tenantId).where('achievement_id', '=', achievementId)
    .orderBy('version').execute();
  return rows.map((r) => ({ version: r.version, actor: r.actor, createdAt: r.created_at, definition: definitionOf(r.definition as Record<string, unknown>) }));
}

export async function setAchievementEnabled(db: Db, tenantId: string, achievementId: string, enabled: boolean, now: Date): Promise<void> {
  await db.updateTable('achievements').set({ enabled, updated_at: now }).where('tenant_id', '=', tenantId).where('achievement_id', '=', achievementId).execute();
}

// ---- tallies --------------------------------------------------------------------------------

export interface TallyRow extends Tally {
  achievementId: string;
}

/** Adds to the member's tallies, in one statement. */
export async function addTallies(db: Db, tenantId: string, memberId: string, rows: readonly TallyRow[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into achievement_tallies (tenant_id, achievement_id, member_id, period, key, value)
    select ${tenantId}::uuid, a, ${memberId}::uuid, p, k, v
    from unnest(${rows.map((r) => r.achievementId)}::uuid[], ${rows.map((r) => r.period)}::int[], ${rows.map((r) => r.key)}::text[],
                ${rows.map((r) => r.value.toString())}::bigint[]) as t(a, p, k, v)
    on conflict (tenant_id, achievement_id, member_id, period, key) do update set value = achievement_tallies.value + excluded.value
  `.execute(db);
}

/**
 * One range's tallies (r: achievement a, periods lo to hi) of a member (given, or a column such as
 * q.m), for a lateral join: probed through the key's leading columns for each range, never by a
 * scan of the tenant's tallies for the member (member_id is the key's third column).
 * OFFSET 0 keeps the planner from flattening it into a join it may hash over that scan.
 */
const talliesIn = (tenantId: unknown, memberId: unknown) => sql`
  select t.achievement_id, t.period, t.key, t.value from achievement_tallies t
  where t.tenant_id = ${tenantId} and t.achievement_id = r.a and t.member_id = ${memberId} and t.period between r.lo and r.hi
  offset 0`;

/**
 * Whether range r is left unread: it is r.unheld and the statement's unlock rows (`live`: a, src,
 * and the query's n when `n` is given) hold a live unlock of its achievement, which then decides
 * nothing on its tallies (a one-time achievement held). Its unlock rows are read anyway (their
 * range covers every period): holding is known without probing the unlocks a second time.
 */
const unreadRange = (n?: RawBuilder<unknown>) => (n
  ? sql`(r.unheld and (${n}, r.a) in (select h.n, h.a from live h where h.src = 'unlock'))`
  : sql`(r.unheld and r.a in (select h.a from live h where h.src = 'unlock'))`);

/** The columns of talliesIn's ranges (a, lo, hi, unheld), as unnest's arguments. */
const rangeColumns = (ranges: readonly TallyRange[]) =>
  sql`${ranges.map((r) => r.achievementId)}::uuid[], ${ranges.map((r) => r.from)}::int[], ${ranges.map((r) => r.to)}::int[], ${ranges.map((r) => r.unheld ?? false)}::boolean[]`;

/**
 * One range's live unlocks (u: achievement a, periods lo to hi) of a member, for a lateral join:
 * rows ('unlock', period, cycle). A counted range (u.counted: a repeatable counter's one period)
 * first gives how many live unlocks the member holds there ('held', lo, n), then only those whose
 * cycle is above n: its decision needs no more (the next cycle is above the count), so a member
 * holding hundreds of a stamp card's unlocks reads none of them, only their count from the index.
 * OFFSET 0 keeps the count one subquery: inlined, it was planned twice (for the rows and for 'held').
 */
const unlocksIn = (tenantId: unknown, memberId: unknown) => sql`
  select x.src, x.period, x.value
  from (select case when u.counted then (select count(*) from achievement_unlocks y
          where y.tenant_id = ${tenantId} and y.achievement_id = u.a and y.member_id = ${memberId} and y.period = u.lo and y.revoked_at is null)
        else 0 end as n offset 0) h
  cross join lateral (
    select 'unlock' as src, x.period, x.cycle::bigint as value from achievement_unlocks x
    where x.tenant_id = ${tenantId} and x.achievement_id = u.a and x.member_id = ${memberId} and x.period between u.lo and u.hi
      and x.revoked_at is null and x.cycle > h.n
    union all
    select 'held', u.lo, h.n where u.counted
  ) x`;

/** The columns of unlocksIn's ranges (a, lo, hi, counted), as unnest's arguments. */
const unlockColumns = (ranges: readonly UnlockRange[]) =>
  sql`${ranges.map((r) => r.achievementId)}::uuid[], ${ranges.map((r) => r.from)}::int[], ${ranges.map((r) => r.to)}::int[], ${ranges.map((r) => r.counted ?? false)}::boolean[]`;

/** The member's tallies of each achievement within its own range of periods, in one statement. */
export async function readTallies(db: Db, tenantId: string, memberId: string,
  ranges: readonly PeriodRange[]): Promise<TallyRow[]> {
  if (ranges.length === 0) return [];
  const { rows } = await sql<{ achievement_id: string; period: number; key: string; value: string | bigint }>`
    select t.achievement_id, t.period, t.key, t.value
    from unnest(${rangeColumns(ranges)}) as r(a, lo, hi, unheld)
    cross join lateral (${talliesIn(tenantId, memberId)}) t
  `.execute(db);
  return rows.map((r) => ({ achievementId: r.achievement_id, period: r.period, key: r.key, value: BigInt(r.value) }));
}

/**
 * An event's contributions as one row: element i of the arrays adds amounts[i] to the tally
 * (achievement_ids[i], periods[i], keys[i]). `select` yields (a, p, k, v) with the event's ids
 * in (pe, e, m); grouped by event, so it may hold many events' contributions. Aggregates of one
 * group see its rows in one order: the four arrays stay parallel.
 */
const packedContributions = (tenantId: string, select: RawBuilder<unknown>) => sql`
  insert into achievement_contributions (tenant_id, purchase_event_id, event_id, member_id, achievement_ids, periods, keys, amounts)
  select ${tenantId}::uuid, pe, e, m, array_agg(a), array_agg(p), array_agg(k), array_agg(v) from (${select}) x group by pe, e, m`;

/** The contributions of one event (a return's, under the purchase it takes from), in one row. */
export async function insertContributions(db: Db, tenantId: string, memberId: string, eventId: string, purchaseEventId: string, rows: readonly TallyRow[]): Promise<void> {
  if (rows.length === 0) return;
  await packedContributions(tenantId, sql`
    select ${purchaseEventId}::uuid as pe, ${eventId}::uuid as e, ${memberId}::uuid as m, a, p, k, v
    from unnest(${rows.map((r) => r.achievementId)}::uuid[], ${rows.map((r) => r.period)}::int[], ${rows.map((r) => r.key)}::text[],
                ${rows.map((r) => r.value.toString())}::bigint[]) as t(a, p, k, v)`).execute(db);
}

/** What a purchase still contributes to each achievement: its own row plus its returns' (negative). */
export async function contributionsLeft(db: Db, tenantId: string, purchaseEventId: string): Promise<TallyRow[]> {
  const { rows } = await sql<{ achievement_id: string; period: number; key: string; value: string }>`
    select u.a as achievement_id, u.p as period, u.k as key, sum(u.v)::text as value
    from achievement_contributions c cross join lateral unnest(c.achievement_ids, c.periods, c.keys, c.amounts) as u(a, p, k, v)
    where c.tenant_id = ${tenantId} and c.purchase_event_id = ${purchaseEventId}
    group by 1, 2, 3 order by 1, 2, 3`.execute(db);
  return rows.map((r) => ({ achievementId: r.achievement_id, period: r.period, key: r.key, value: BigInt(r.value) }));
}

// ---- unlocks --------------------------------------------------------------------------------

export interface Unlock {
  unlockId: string;
  achievementId: string;
  version: number;
  memberId: string;
  period: number;
  cycle: number;
  threshold: bigint | null;
  eventId: string | null;
  unlockedAt: Date;
  points: bigint | null;
  entryId: string | null;
  instanceId: string | null;
  revokedAt: Date | null;
}

type UnlockRow = {
  unlock_id: string; achievement_id: string; version: number; member_id: string; period: number; cycle: number; threshold: bigint | string | null;
  event_id: string | null; unlocked_at: Date; points: bigint | string | null; entry_id: string | null; instance_id: string | null; revoked_at: Date | null;
};

const unlockOf = (r: UnlockRow): Unlock => ({
  unlockId: r.unlock_id, achievementId: r.achievement_id, version: r.version, memberId: r.member_id, period: r.period, cycle: r.cycle,
  threshold: r.threshold === null ? null : BigInt(r.threshold), eventId: r.event_id, unlockedAt: r.unlocked_at,
  points: r.points === null ? null : BigInt(r.points), entryId: r.entry_id, instanceId: r.instance_id, revokedAt: r.revoked_at,
});

/** The member's live (not revoked) unlocks of these achievements. */
export async function liveUnlocks(db: Db, tenantId: string, memberId: string, achievementIds: readonly string[]): Promise<Unlock[]> {
  if (achievementIds.length === 0) return [];
  const rows = await db.selectFrom('achievement_unlocks').selectAll().where('tenant_id', '=', tenantId).where('member_id', '=', memberId)
    .where('achievement_id', 'in', [...achievementIds]).where('revoked_at', 'is', null).orderBy('unlock_id').execute();
  return rows.map(unlockOf);
}

export async function insertUnlocks(db: Db, tenantId: string, programId: string, unlocks: readonly Unlock[]): Promise<void> {
  if (unlocks.length === 0) return;
  await db.insertInto('achievement_unlocks').values(unlocks.map((u) => ({
    tenant_id: tenantId, unlock_id: u.unlockId, achievement_id: u.achievementId, version: u.version, program_id: programId, member_id: u.memberId,
    period: u.period, cycle: u.cycle, threshold: u.threshold, event_id: u.eventId, unlocked_at: u.unlockedAt, points: u.points, entry_id: u.entryId,
    instance_id: u.instanceId, revoked_at: null, revoked_by: null,
  }))).execute();
}

/**
 * What one progress check decided, in one statement: the new unlocks, the milestone levels
 * (period-0 tallies set to their value) and the outbox messages telling them. Each part may be
 * empty; a live unlock recorded twice fails the statement, as an insert would.
 */
export async function recordTold(db: Db, tenantId: string, programId: string, memberId: string, told: Told, now: Date): Promise<void> {
  const parts = toldParts(tenantId, [{ programId, memberId, told }], now);
  if (parts.length > 0) await sql`with ${sql.join(parts)} select 1`.execute(db);
}

/** What a progress check has decided to record and tell (it adds to the lists as it decides). */
export interface Told {
  unlocks: Unlock[];
  /** milestone levels to set */
  levels: TallyRow[];
  messages: OutboxMessage[];
}

/** What one member's progress check decided, in their program. */
export interface MemberTold {
  programId: string;
  memberId: string;
  told: Told;
}

/**
 * recordTold's writes as the parts of a WITH (`unlocked`, `levels`, `told`), for a statement that
 * writes more: one insert per table for every member's. Those with nothing to write are left out,
 * unless `every`: a batch's statement keeps one text whatever its events told.
 */
export function toldParts(tenantId: string, all: readonly MemberTold[], now: Date, every = false): RawBuilder<unknown>[] {
  const unlocks = all.flatMap(({ programId, told }) => told.unlocks.map((u) => ({ ...u, programId })));
  const levels = all.flatMap(({ memberId, told }) => told.levels.map((l) => ({ ...l, memberId })));
  const messages = all.flatMap(({ told }) => told.messages);
  const parts: RawBuilder<unknown>[] = [];
  const col = <T>(f: (u: Unlock & { programId: string }) => T) => unlocks.map(f);
  if (unlocks.length > 0 || every) {
    parts.push(sql`unlocked as (
      insert into achievement_unlocks (tenant_id, unlock_id, achievement_id, version, program_id, member_id, period, cycle, threshold, event_id,
                                       unlocked_at, points, entry_id, instance_id)
      select ${tenantId}::uuid, u.id, u.a, u.version, u.program, u.m, u.period, u.cycle, u.threshold, u.event, u.at, u.points, u.entry, u.instance
      from unnest(${col((u) => u.unlockId)}::uuid[], ${col((u) => u.achievementId)}::uuid[], ${col((u) => u.version)}::int[], ${col((u) => u.programId)}::uuid[],
                  ${col((u) => u.memberId)}::uuid[], ${col((u) => u.period)}::int[], ${col((u) => u.cycle)}::int[], ${col((u) => u.threshold?.toString() ?? null)}::bigint[],
                  ${col((u) => u.eventId)}::uuid[], ${col((u) => u.unlockedAt.toISOString())}::timestamptz[], ${col((u) => u.points?.toString() ?? null)}::bigint[],
                  ${col((u) => u.entryId)}::uuid[], ${col((u) => u.instanceId)}::uuid[])
        as u(id, a, version, program, m, period, cycle, threshold, event, at, points, entry, instance))`);
  }
  if (levels.length > 0 || every) {
    parts.push(sql`levels as (
      insert into achievement_tallies (tenant_id, achievement_id, member_id, period, key, value)
      select ${tenantId}::uuid, a, m, p, k, v
      from unnest(${levels.map((r) => r.achievementId)}::uuid[], ${levels.map((r) => r.memberId)}::uuid[], ${levels.map((r) => r.period)}::int[],
                  ${levels.map((r) => r.key)}::text[], ${levels.map((r) => r.value.toString())}::bigint[]) as t(a, m, p, k, v)
      on conflict (tenant_id, achievement_id, member_id, period, key) do update set value = excluded.value)`);
  }
  if (messages.length > 0 || every) {
    parts.push(sql`told as (
      insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
      select ${tenantId}::uuid, m.id, m.type, m.key, m.payload::jsonb, ${now}
      from unnest(${messages.map(() => uuidv7())}::uuid[], ${messages.map((m) => m.type)}::text[], ${messages.map((m) => m.dedupeKey)}::text[],
                  ${messages.map((m) => outboxPayload(m.payload))}::text[]) as m(id, type, key, payload)
      on conflict (tenant_id, dedupe_key) do nothing)`);
  }
  return parts;
}

/** What a batched event decided for its member's achievements: its contributions, the instances its unlocks issued, and what it tells. */
export interface Progressed extends MemberTold {
  eventId: string;
  /** added to the tallies, and recorded under the event for its returns */
  added: readonly TallyRow[];
  /** free instances of rewards without a stock limit, each with its reward.issued message */
  issued: readonly { instance: Instance; told: OutboxMessage }[];
}

/**
 * The writes of batched events' progress as the parts of a WITH (`added`, `tallied`, `contributed`,
 * freeInstancesParts' and toldParts'): one statement with the batch's ledger rows, every part
 * present however little the events wrote (the statement keeps one text). The contributions are
 * sent once, each naming its event by ordinal (`n`, the events' member and id sent once each): the
 * tallies and the contributions rows read the same rows. A milestone is never counted, so its
 * level and the added tallies never touch one row twice.
 */
export function progressParts(tenantId: string, all: readonly Progressed[], now: Date): RawBuilder<unknown>[] {
  const added = all.flatMap((p, i) => p.added.map((t) => ({ t, n: i + 1 })));
  const parts = [
    sql`added as (
      select w.m, w.e, t.a, t.p, t.k, t.v
      from unnest(${added.map((r) => r.t.achievementId)}::uuid[], ${added.map((r) => r.n)}::int[], ${added.map((r) => r.t.period)}::int[],
                  ${added.map((r) => r.t.key)}::text[], ${added.map((r) => r.t.value.toString())}::bigint[]) as t(a, n, p, k, v)
      join unnest(${all.map((p) => p.memberId)}::uuid[], ${all.map((p) => p.eventId)}::uuid[]) with ordinality as w(m, e, n) on w.n = t.n)`,
    sql`tallied as (
      insert into achievement_tallies (tenant_id, achievement_id, member_id, period, key, value)
      select ${tenantId}::uuid, a, m, p, k, v from added
      on conflict (tenant_id, achievement_id, member_id, period, key) do update set value = achievement_tallies.value + excluded.value)`,
    sql`contributed as (${packedContributions(tenantId, sql`select e as pe, e, m, a, p, k, v from added`)})`,
  ];
  // Each instance told before its unlock, as issueFreeInstance tells it in the event's own transaction.
  const told = all.map((p) => ({ ...p, told: { ...p.told, messages: [...p.issued.map((i) => i.told), ...p.told.messages] } }));
  return [...parts, ...freeInstancesParts(tenantId, all.flatMap((p) => p.issued.map((i) => i.instance))), ...toldParts(tenantId, told, now, true)];
}

export async function revokeUnlocks(db: Db, tenantId: string, unlockIds: readonly string[], now: Date, by: string): Promise<void> {
  if (unlockIds.length === 0) return;
  await db.updateTable('achievement_unlocks').set({ revoked_at: now, revoked_by: by })
    .where('tenant_id', '=', tenantId).where('unlock_id', 'in', [...unlockIds]).execute();
}

/** A member's live unlocks, newest first (the most recent 1,000). */
export async function memberUnlocks(db: Db, tenantId: string, memberId: string): Promise<Unlock[]> {
  const rows = await db.selectFrom('achievement_unlocks').selectAll().where('tenant_id', '=', tenantId).where('member_id', '=', memberId)
    .where('revoked_at', 'is', null).orderBy('unlock_id', 'desc').limit(1000).execute();
  return rows.map(unlockOf);
}

/** Unlocks per achievement of a program in [from, to): how many, by how many members, revoked, points paid, rewards issued. */
export async function unlockReport(db: Db, tenantId: string, programId: string, period: { from: Date | null; to: Date | null }) {
  let q = db.selectFrom('achievement_unlocks')
    .select([
      'achievement_id',
      sql<string>`count(*) filter (where revoked_at is null)`.as('unlocks'),
      sql<string>`count(distinct member_id) filter (where revoked_at is null)`.as('members'),
      sql<string>`count(*) filter (where revoked_at is not null)`.as('revoked'),
      sql<string>`coalesce(sum(points) filter (where revoked_at is null), 0)`.as('points'),
      sql<string>`count(instance_id) filter (where revoked_at is null)`.as('rewards'),
    ])
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId);
  if (period.from) q = q.where('unlocked_at', '>=', period.from);
  if (period.to) q = q.where('unlocked_at', '<', period.to);
  const rows = await q.groupBy('achievement_id').execute();
  return new Map(rows.map((r) => [r.achievement_id, {
    unlocks: BigInt(r.unlocks), members: BigInt(r.members), revoked: BigInt(r.revoked), points: BigInt(r.points), rewards: BigInt(r.rewards),
  }]));
}

/** The points wallet's available balance, read under the caller's lock. */
export async function pointsBalance(db: Db, tenantId: string, memberId: string): Promise<bigint> {
  const row = await db.selectFrom('balances as b')
    .innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'b.tenant_id').onRef('w.wallet_id', '=', 'b.wallet_id'))
    .select('b.available').where('b.tenant_id', '=', tenantId).where('b.member_id', '=', memberId).where('w.code', '=', 'points').executeTakeFirst();
  return row ? BigInt(row.available) : 0n;
}

// ---- backfill -------------------------------------------------------------------------------

export interface Backfill {
  backfillId: string;
  achievementId: string;
  programId: string;
  status: 'pending' | 'done';
  membersDone: bigint;
  unlocksFound: bigint;
  createdAt: Date;
  finishedAt: Date | null;
}

type BackfillRow = {
  backfill_id: string; achievement_id: string; program_id: string; status: 'pending' | 'done'; members_done: bigint | string;
  unlocks_found: bigint | string; created_at: Date; finished_at: Date | null; cursor: string | null; tenant_id: string;
};

const backfillOf = (r: BackfillRow): Backfill & { cursor: string | null; tenantId: string } => ({
  backfillId: r.backfill_id, achievementId: r.achievement_id, programId: r.program_id, status: r.status, membersDone: BigInt(r.members_done),
  unlocksFound: BigInt(r.unlocks_found), createdAt: r.created_at, finishedAt: r.finished_at, cursor: r.cursor, tenantId: r.tenant_id,
});

export async function insertBackfill(db: Db, tenantId: string, b: { backfillId: string; achievementId: string; programId: string; actor: string; now: Date }) {
  const row = await db.insertInto('achievement_backfills').values({
    tenant_id: tenantId, backfill_id: b.backfillId, achievement_id: b.achievementId, program_id: b.programId, status: 'pending', cursor: null,
    actor: b.actor, created_at: b.now,
  }).returningAll().executeTakeFirstOrThrow();
  return backfillOf(row);
}

export async function loadBackfill(db: Db, tenantId: string, backfillId: string) {
  const row = await db.selectFrom('achievement_backfills').selectAll().where('tenant_id', '=', tenantId).where('backfill_id', '=', backfillId).executeTakeFirst();
  return row ? backfillOf(row) : null;
}

/** The oldest pending backfill, locked (SKIP LOCKED: another worker takes the next one). */
export async function claimBackfill(db: Db) {
  const row = await db.selectFrom('achievement_backfills').selectAll().where('status', '=', 'pending')
    .orderBy('created_at').orderBy('backfill_id').limit(1).forUpdate().skipLocked().executeTakeFirst();
  return row ? backfillOf(row) : null;
}

/**
 * The next members of the backfill's program after the cursor whose points wallets can be locked
 * now (SKIP LOCKED; the lock events take first), in member id order. The chunk stops before the
 * first member an event holds: the cursor never passes a member it has not done.
 */
export async function lockBackfillMembers(db: Db, tenantId: string, programId: string, cursor: string | null, limit: number): Promise<{ done: string[]; more: boolean }> {
  const { rows: candidates } = await sql<{ member_id: string }>`
    select member_id from members
    where tenant_id = ${tenantId} and program_id = ${programId} and (${cursor}::uuid is null or member_id > ${cursor}::uuid)
    order by member_id limit ${limit}
  `.execute(db);
  if (candidates.length === 0) return { done: [], more: false };
  const ids = candidates.map((c) => c.member_id);
  const { rows: locked } = await sql<{ member_id: string }>`
    select b.member_id from balances b join wallets w on w.tenant_id = b.tenant_id and w.wallet_id = b.wallet_id
    where b.tenant_id = ${tenantId} and w.code = 'points' and b.member_id = any(${ids}::uuid[])
    order by b.member_id for update of b skip locked
  `.execute(db);
  const got = new Set(locked.map((r) => r.member_id));
  // A member without a points wallet has no events either: nothing to lock.
  const { rows: withWallet } = await sql<{ member_id: string }>`
    select b.member_id from balances b join wallets w on w.tenant_id = b.tenant_id and w.wallet_id = b.wallet_id
    where b.tenant_id = ${tenantId} and w.code = 'points' and b.member_id = any(${ids}::uuid[])
  `.execute(db);
  const hasWallet = new Set(withWallet.map((r) => r.member_id));
  const done: string[] = [];
  for (const id of ids) {
    if (hasWallet.has(id) && !got.has(id)) break;
    done.push(id);
  }
  return { done, more: candidates.length === limit || done.length < ids.length };
}

export interface HistoryRow {
  eventId: string;
  memberId: string;
  type: string;
  occurredAt: Date;
  total: bigint | null;
  refundAmount: bigint | null;
  purchaseEventId: string | null;
  facts: Facts | null;
  /** a purchase's lines (sku, category, quantity), a return's units back per sku; null: a refund by amount, or an action */
  lines: { sku: string; category: string | null; quantity: bigint }[] | null;
}

/** Every event of these members, in the order they were recorded (event ids are time-ordered), in one statement. */
export async function historyOf(db: Db, tenantId: string, memberIds: readonly string[]): Promise<HistoryRow[]> {
  if (memberIds.length === 0) return [];
  const rows = await db.selectFrom('events')
    .select(['event_id', 'member_id', 'type', 'occurred_at', 'total', 'refund_amount', 'purchase_event_id', 'facts', sql<unknown>`payload->'lines'`.as('lines')])
    .where('tenant_id', '=', tenantId).where('member_id', 'in', [...memberIds]).orderBy('member_id').orderBy('event_id').execute();
  return rows.map((r) => ({
    eventId: r.event_id, memberId: r.member_id, type: r.type, occurredAt: r.occurred_at, total: r.total === null ? null : BigInt(r.total),
    refundAmount: r.refund_amount === null ? null : BigInt(r.refund_amount), purchaseEventId: r.purchase_event_id,
    facts: r.facts === null ? null : decodeJson<Facts>(r.facts),
    lines: Array.isArray(r.lines)
      ? (r.lines as { sku: string; category?: string | null; quantity: number }[]).map((l) => ({ sku: l.sku, category: l.category ?? null, quantity: BigInt(l.quantity) }))
      : null,
  }));
}

/** Replaces the achievement's tallies of these members by recomputed ones, in two statements. */
export async function replaceTallies(db: Db, tenantId: string, achievementId: string, memberIds: readonly string[],
  rows: readonly { memberId: string; period: number; key: string; value: bigint }[]): Promise<void> {
  await db.deleteFrom('achievement_tallies').where('tenant_id', '=', tenantId).where('achievement_id', '=', achievementId)
    .where('member_id', 'in', [...memberIds]).execute();
  if (rows.length === 0) return;
  await sql`
    insert into achievement_tallies (tenant_id, achievement_id, member_id, period, key, value)
    select ${tenantId}::uuid, ${achievementId}::uuid, m, p, k, v
    from unnest(${rows.map((r) => r.memberId)}::uuid[], ${rows.map((r) => r.period)}::int[], ${rows.map((r) => r.key)}::text[],
                ${rows.map((r) => r.value.toString())}::bigint[]) as t(m, p, k, v)
  `.execute(db);
}

/**
 * Replaces the achievement's share of the contributions of these events (every event of a chunk's
 * members), in one statement: their rows are taken out and written again with the other
 * achievements' elements and the recomputed ones (an event that gains its first share gets a row,
 * one left with none has none). Rows are found by the events' ids (the key's second column), never
 * by a scan of the tenant's.
 */
export async function replaceContributions(db: Db, tenantId: string, achievementId: string, eventIds: readonly string[],
  rows: readonly { eventId: string; memberId: string; purchaseEventId: string; period: number; key: string; value: bigint }[]): Promise<void> {
  if (eventIds.length === 0) return;
  await sql`
    with taken as (
      delete from achievement_contributions c
      where c.tenant_id = ${tenantId} and c.purchase_event_id = any(${[...eventIds]}::uuid[])
      returning c.purchase_event_id, c.event_id, c.member_id, c.achievement_ids, c.periods, c.keys, c.amounts
    )
    ${packedContributions(tenantId, sql`
      select c.purchase_event_id as pe, c.event_id as e, c.member_id as m, u.a, u.p, u.k, u.v
      from taken c cross join lateral unnest(c.achievement_ids, c.periods, c.keys, c.amounts) as u(a, p, k, v)
      where u.a <> ${achievementId}::uuid
      union all
      select pe, e, m, ${achievementId}::uuid, p, k, v
      from unnest(${rows.map((r) => r.eventId)}::uuid[], ${rows.map((r) => r.period)}::int[], ${rows.map((r) => r.key)}::text[],
                  ${rows.map((r) => r.memberId)}::uuid[], ${rows.map((r) => r.purchaseEventId)}::uuid[], ${rows.map((r) => r.value.toString())}::bigint[])
        as t(e, p, k, m, pe, v)`)}
  `.execute(db);
}

export async function advanceBackfill(db: Db, tenantId: string, backfillId: string, step: { cursor: string | null; members: number; unlocks: number; done: boolean; now: Date }) {
  await db.updateTable('achievement_backfills').set((eb) => ({
    cursor: step.cursor, members_done: sql`${eb.ref('members_done')} + ${step.members}`, unlocks_found: sql`${eb.ref('unlocks_found')} + ${step.unlocks}`,
    ...(step.done ? { status: 'done' as const, finished_at: step.now } : {}),
  })).where('tenant_id', '=', tenantId).where('backfill_id', '=', backfillId).execute();
}

// ---- the event path, in two statements --------------------------------------------------------

const DEFINITIONS_CACHED = 10_000;
/** Versions are immutable: a definition read once per process is the definition, keyed by tenant, id and version. */
const definitions = new Map<string, Achievement>();

export interface AchievementVersion {
  achievementId: string;
  version: number;
}

/** The program's enabled achievements at their current versions: a small indexed read of ids and versions. */
export async function enabledAchievements(db: Db, tenantId: string, programId: string): Promise<Achievement[]> {
  const rows = await db.selectFrom('achievements').select(['achievement_id as achievementId', 'version'])
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('enabled', '=', true).orderBy('achievement_id').execute();
  return definitionsOf(db, tenantId, programId, rows);
}

/** The definitions of these versions: those not seen yet by this process are read in one statement and kept. */
export async function definitionsOf(db: Db, tenantId: string, programId: string, versions: readonly AchievementVersion[]): Promise<Achievement[]> {
  const key = (v: AchievementVersion) => `${tenantId}:${v.achievementId}:${v.version}`;
  const missing = versions.filter((v) => !definitions.has(key(v)));
  if (missing.length > 0) {
    const found = await withVersion(db, tenantId).where('a.program_id', '=', programId)
      .where((eb) => eb.or(missing.map((m) => eb.and([eb('v.achievement_id', '=', m.achievementId), eb('v.version', '=', m.version)])))).execute();
    if (definitions.size + found.length > DEFINITIONS_CACHED) definitions.clear();
    for (const f of found) definitions.set(key({ achievementId: f.achievement_id, version: f.at_version }), { ...achievementOf(f), enabled: true });
  }
  return versions.flatMap((v) => definitions.get(key(v)) ?? []);
}

export interface EventState {
  /** the tallies within the ranges asked for, this event's additions included */
  tallies: TallyRow[];
  /** live unlocks in the ranges asked for (a counted range's: those above its count) */
  live: { achievementId: string; period: number; cycle: number }[];
  /** a counted range's achievement: how many live unlocks it holds in the range's period */
  held: Map<string, number>;
  /** each milestone asked for: its last live cycle (its next crossing is numbered after it) */
  lastCycles: Map<string, number>;
  /** the points wallet's available balance, when asked for */
  balance: bigint;
}

/**
 * An achievement's last live cycle in period 0 (a milestone's; 0: none): one descent of the live
 * unlocks' index, however many the member holds. A milestone's unlocks are never revoked (no
 * contribution of a purchase is in them), so its cycles run 1..n.
 */
const lastCycle = (tenantId: unknown, memberId: unknown, achievementId: unknown) => sql`coalesce((select x.cycle from achievement_unlocks x
  where x.tenant_id = ${tenantId} and x.member_id = ${memberId} and x.achievement_id = ${achievementId} and x.period = 0 and x.revoked_at is null
  order by x.cycle desc limit 1), 0)::bigint`;

/** Each achievement's last live cycle (lastCycle), as a part of a union (src 'cycle'). */
const lastCycles = (tenantId: unknown, memberId: unknown, achievementIds: unknown) => sql`
  select 'cycle' as src, a.id as achievement_id, 0 as period, null as key, ${lastCycle(tenantId, memberId, sql.ref('a.id'))} as value
  from unnest(${achievementIds}) as a(id)`;

/** Reads a row of a state statement into `state`: a tally, a live unlock, how many a counted range holds, a milestone's last cycle, or the balance. */
function stateRow(state: Pick<EventState, 'tallies' | 'live' | 'held' | 'lastCycles'> & { balance?: bigint },
  r: { src: string; achievement_id: string | null; period: number; key?: string | null; value: string | bigint }): void {
  if (r.src === 'tally') state.tallies.push({ achievementId: r.achievement_id!, period: r.period, key: r.key ?? '', value: BigInt(r.value) });
  else if (r.src === 'unlock') state.live.push({ achievementId: r.achievement_id!, period: r.period, cycle: Number(r.value) });
  else if (r.src === 'held') state.held.set(r.achievement_id!, Number(r.value));
  else if (r.src === 'cycle') state.lastCycles.set(r.achievement_id!, Number(r.value));
  else state.balance = BigInt(r.value);
}

/**
 * One statement: adds the event's contributions to the tallies and records them under the event,
 * and reads back what the decisions need — the tallies in each range (as they are after this
 * event), the live unlocks of these achievements, and the points balance.
 */
export async function recordAndRead(db: Db, tenantId: string, memberId: string, eventId: string, added: readonly TallyRow[],
  ranges: readonly TallyRange[], unlocks: readonly UnlockRange[], numbered: readonly string[], withBalance: boolean): Promise<EventState> {
  const { rows } = await sql<{ src: string; achievement_id: string | null; period: number; key: string | null; value: string | bigint }>`
    with input as (
      select * from unnest(${added.map((r) => r.achievementId)}::uuid[], ${added.map((r) => r.period)}::int[], ${added.map((r) => r.key)}::text[],
                           ${added.map((r) => r.value.toString())}::bigint[]) as t(a, p, k, v)
    ), up as (
      insert into achievement_tallies (tenant_id, achievement_id, member_id, period, key, value)
      select ${tenantId}::uuid, a, ${memberId}::uuid, p, k, v from input
      on conflict (tenant_id, achievement_id, member_id, period, key) do update set value = achievement_tallies.value + excluded.value
      returning achievement_id, period, key, value
    ), contributed as (
      ${packedContributions(tenantId, sql`select ${eventId}::uuid as pe, ${eventId}::uuid as e, ${memberId}::uuid as m, a, p, k, v from input`)}
    ), ranges as (
      select * from unnest(${rangeColumns(ranges)}) as r(a, lo, hi, unheld)
    ), live as materialized (
      select x.src, u.a, x.period, x.value
      from unnest(${unlockColumns(unlocks)}) as u(a, lo, hi, counted) cross join lateral (${unlocksIn(tenantId, memberId)}) x
    )
    select 'tally' as src, achievement_id, period, key, value from up
    union all
    select 'tally', t.achievement_id, t.period, t.key, t.value
    from ranges r cross join lateral (${talliesIn(tenantId, memberId)}) t
    where not ${unreadRange()} and not exists (select 1 from input i where i.a = t.achievement_id and i.p = t.period and i.k = t.key)
    union all
    select src, a, period, null, value from live
    union all
    ${lastCycles(tenantId, memberId, sql`${[...numbered]}::uuid[]`)}
    union all
    select 'balance', null, 0, null, b.available from balances b join wallets w on w.tenant_id = b.tenant_id and w.wallet_id = b.wallet_id
    where ${withBalance} and b.tenant_id = ${tenantId} and b.member_id = ${memberId} and w.code = 'points'
  `.execute(db);
  const state: EventState = { tallies: [], live: [], held: new Map(), lastCycles: new Map(), balance: 0n };
  for (const r of rows) stateRow(state, r);
  return state;
}

/** A range of an achievement's periods: its tallies, or its live unlocks, that a decision reads. */
export interface PeriodRange {
  achievementId: string;
  from: number;
  to: number;
}

/**
 * A range of tallies a decision reads; `unheld`: only while the member holds no live unlock of the
 * achievement — known from the statement's unlock rows, so its unlock range covers every period
 * (ALL_PERIODS, as a one-time achievement's decision needs anyway).
 */
export interface TallyRange extends PeriodRange {
  unheld?: boolean;
}

/** A range of live unlocks a decision reads; `counted`: how many it holds in its one period, and only the unlocks above that (unlocksIn). */
export interface UnlockRange extends PeriodRange {
  counted?: boolean;
}

/** Every period: an achievement whose decision reads all its live unlocks. */
export const ALL_PERIODS = { from: -2_147_483_648, to: 2_147_483_647 } as const;

/** What a batched event reads of its member's engagement: the tallies and live unlocks in its ranges, and their referral. */
export interface EngagementQuery {
  tenantId: string;
  memberId: string;
  /** the tallies the decisions read */
  ranges: readonly TallyRange[];
  /** the live unlocks they read */
  unlocks: readonly UnlockRange[];
  /** milestones whose last live cycle is read */
  numbered: readonly string[];
  /** the catalog rewards an unlock may issue */
  rewardIds: readonly string[];
  /** read the member's referral as a referee */
  referral: boolean;
}

export interface EngagementState {
  /** the tallies within the ranges, before the event */
  tallies: TallyRow[];
  live: { achievementId: string; period: number; cycle: number }[];
  held: Map<string, number>;
  lastCycles: Map<string, number>;
  /** the state of the referral that brought the member; null when none did (or it was not asked for) */
  referral: string | null;
  rewards: Map<string, Reward>;
}

/**
 * Many members' engagement in one statement, for a batch that holds their points wallets' locks
 * (under which their tallies, unlocks and referral change): each query's rows in its place.
 */
export async function engagementStates(db: Db, queries: readonly EngagementQuery[]): Promise<EngagementState[]> {
  const states: EngagementState[] = queries.map(() => ({ tallies: [], live: [], held: new Map(), lastCycles: new Map(), referral: null, rewards: new Map() }));
  if (queries.length === 0) return states;
  const ranges = queries.flatMap((q, n) => q.ranges.map((r) => ({ ...r, n })));
  const unlocks = queries.flatMap((q, n) => q.unlocks.map((u) => ({ ...u, n })));
  const rewards = queries.flatMap((q, n) => q.rewardIds.map((id) => ({ id, n })));
  const numbered = queries.flatMap((q, n) => q.numbered.map((a) => ({ a, n })));
  const { rows } = await sql<{ n: number; src: string; achievement_id: string | null; period: number; key: string | null; value: string | bigint }>`
    with q as (
      select * from unnest(${queries.map((_, n) => n)}::int[], ${queries.map((q) => q.tenantId)}::uuid[], ${queries.map((q) => q.memberId)}::uuid[],
                           ${queries.map((q) => q.referral)}::boolean[]) as q(n, t, m, referral)
    ), r as (
      select * from unnest(${ranges.map((r) => r.n)}::int[], ${rangeColumns(ranges)}) as r(n, a, lo, hi, unheld)
    ), u as (
      select * from unnest(${unlocks.map((u) => u.n)}::int[], ${unlockColumns(unlocks)}) as u(n, a, lo, hi, counted)
    ), w as (
      select * from unnest(${rewards.map((w) => w.n)}::int[], ${rewards.map((w) => w.id)}::uuid[]) as w(n, id)
    ), c as (
      select * from unnest(${numbered.map((c) => c.n)}::int[], ${numbered.map((c) => c.a)}::uuid[]) as c(n, a)
    ), live as materialized (
      select q.n, x.src, u.a, x.period, x.value
      from u join q on q.n = u.n cross join lateral (${unlocksIn(sql.ref('q.t'), sql.ref('q.m'))}) x
    )
    select q.n, 'tally' as src, t.achievement_id, t.period, t.key, t.value
    from r join q on q.n = r.n cross join lateral (${talliesIn(sql.ref('q.t'), sql.ref('q.m'))}) t
    where not ${unreadRange(sql.ref('r.n'))}
    union all
    select n, src, a, period, null, value from live
    union all
    select q.n, 'cycle', c.a, 0, null, ${lastCycle(sql.ref('q.t'), sql.ref('q.m'), sql.ref('c.a'))}
    from c join q on q.n = c.n
    union all
    select q.n, 'referral', null, 0, x.state, 0 from q join referrals x on x.tenant_id = q.t and x.referee_id = q.m where q.referral
    union all
    select q.n, 'reward', x.reward_id, 0, jsonb_build_object('program_id', x.program_id, 'code', x.code, 'definition', x.definition)::text, 0
    from w join q on q.n = w.n join rewards x on x.tenant_id = q.t and x.reward_id = w.id
  `.execute(db);
  for (const r of rows) {
    const state = states[r.n]!;
    if (r.src === 'referral') state.referral = r.key;
    else if (r.src === 'reward') state.rewards.set(r.achievement_id!, rewardOf({ reward_id: r.achievement_id!, ...(JSON.parse(r.key!) as { program_id: string; code: string; definition: unknown }) }));
    else stateRow(state, r);
  }
  return states;
}

/** What a milestone check reads, in one statement: each milestone's level (its period-0 tally), its last live cycle, and the points balance. */
export async function milestoneState(db: Db, tenantId: string, memberId: string, achievementIds: readonly string[]): Promise<EventState> {
  const ids = sql`${[...achievementIds]}::uuid[]`;
  const { rows } = await sql<{ src: string; achievement_id: string | null; period: number; key: string | null; value: string | bigint }>`
    select 'tally' as src, achievement_id, period, key, value from achievement_tallies
    where tenant_id = ${tenantId} and member_id = ${memberId} and achievement_id = any(${ids}) and period = 0 and key = ''
    union all
    ${lastCycles(tenantId, memberId, ids)}
    union all
    select 'balance', null, 0, null, b.available from balances b join wallets w on w.tenant_id = b.tenant_id and w.wallet_id = b.wallet_id
    where b.tenant_id = ${tenantId} and b.member_id = ${memberId} and w.code = 'points'
  `.execute(db);
  const state: EventState = { tallies: [], live: [], held: new Map(), lastCycles: new Map(), balance: 0n };
  for (const r of rows) stateRow(state, r);
  return state;
}
