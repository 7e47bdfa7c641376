// Referral queries: settings, codes, referrals and fraud signals. Every statement is scoped to a tenant.
import { sql } from 'kysely';
import type { ReferralState } from '../core/referrals/referral.js';
import type { SignalKind } from '../core/referrals/fraud.js';
import type { Db } from './schema.js';
import type { Trx } from './ledger.js';

export async function loadSettingsRow(db: Db, tenantId: string, programId: string) {
  return db.selectFrom('referral_settings').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', programId).executeTakeFirst();
}

export async function saveSettingsRow(trx: Trx, row: { tenantId: string; programId: string; enabled: boolean; settings: string; now: Date; actor: string }): Promise<void> {
  await trx.insertInto('referral_settings').values({
    tenant_id: row.tenantId, program_id: row.programId, enabled: row.enabled, settings: row.settings, updated_at: row.now, updated_by: row.actor,
  }).onConflict((oc) => oc.columns(['tenant_id', 'program_id']).doUpdateSet({
    enabled: row.enabled, settings: row.settings, updated_at: row.now, updated_by: row.actor,
  })).execute();
}

/** What an event of the member needs to know, in one statement: the settings (none: referrals never set up) and the member's own referral. */
export async function eventReferralContext(db: Db, tenantId: string, programId: string, memberId: string) {
  return db.selectFrom('referral_settings as s')
    .innerJoin('programs as p', (j) => j.onRef('p.tenant_id', '=', 's.tenant_id').onRef('p.program_id', '=', 's.program_id'))
    .leftJoin('referrals as r', (j) => j.onRef('r.tenant_id', '=', 's.tenant_id').on('r.referee_id', '=', memberId))
    .select(['s.enabled', 's.settings', 'p.return_window_days', 'r.referral_id', 'r.state'])
    .where('s.tenant_id', '=', tenantId).where('s.program_id', '=', programId)
    .executeTakeFirst();
}

export type ReferralRow = Awaited<ReturnType<typeof lockReferral>> & {};

export async function lockReferral(trx: Trx, tenantId: string, where: { referralId: string } | { refereeId: string }) {
  let q = trx.selectFrom('referrals').selectAll().where('tenant_id', '=', tenantId);
  q = 'referralId' in where ? q.where('referral_id', '=', where.referralId) : q.where('referee_id', '=', where.refereeId);
  return q.forUpdate().executeTakeFirst();
}

export async function loadReferral(db: Db, tenantId: string, referralId: string) {
  return db.selectFrom('referrals').selectAll().where('tenant_id', '=', tenantId).where('referral_id', '=', referralId).executeTakeFirst();
}

export async function referralOfQualifyingOrder(trx: Trx, tenantId: string, programId: string, externalId: string) {
  return trx.selectFrom('referrals').select(['referral_id', 'referee_id', 'state'])
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('qualifying_external_id', '=', externalId)
    .executeTakeFirst();
}

/** The member a code belongs to, in the program. */
export async function codeOwner(db: Db, tenantId: string, programId: string, code: string) {
  return db.selectFrom('referral_codes as c')
    .innerJoin('members as m', (j) => j.onRef('m.tenant_id', '=', 'c.tenant_id').onRef('m.member_id', '=', 'c.member_id'))
    .select(['m.member_id', 'm.email', 'm.phone', 'm.status'])
    .where('c.tenant_id', '=', tenantId).where('c.program_id', '=', programId).where('c.code', '=', code)
    .executeTakeFirst();
}

export async function memberCode(db: Db, tenantId: string, memberId: string) {
  return db.selectFrom('referral_codes').select(['code', 'created_at']).where('tenant_id', '=', tenantId).where('member_id', '=', memberId).executeTakeFirst();
}

/** Gives a member their code, unless they have one already (a concurrent call, say): the stored one wins. */
export async function insertCode(db: Db, row: { tenantId: string; programId: string; memberId: string; code: string; now: Date }): Promise<void> {
  await db.insertInto('referral_codes').values({
    tenant_id: row.tenantId, program_id: row.programId, member_id: row.memberId, code: row.code, created_at: row.now,
  }).onConflict((oc) => oc.columns(['tenant_id', 'member_id']).doNothing()).execute();
}

export async function rejectReferral(trx: Trx, tenantId: string, referralId: string, reason: string, detail: string, now: Date): Promise<void> {
  await trx.updateTable('referrals').set({ state: 'rejected', reason, detail, rejected_at: now })
    .where('tenant_id', '=', tenantId).where('referral_id', '=', referralId).execute();
}

/** Records the referral qualified (or rewarded at once), answering its row as written. */
export async function qualifyReferral(trx: Trx, tenantId: string, referralId: string, q: {
  now: Date; externalId: string; rewardAt: Date; rewarded: boolean; referrerPoints: bigint; refereePoints: bigint;
  referrerEntryId: string | null; refereeEntryId: string | null; referrerInstanceId: string | null; refereeInstanceId: string | null;
}): Promise<ReferralRow> {
  return trx.updateTable('referrals').set({
    state: q.rewarded ? 'rewarded' : 'qualified', qualified_at: q.now, qualifying_external_id: q.externalId, reward_at: q.rewardAt,
    rewarded_at: q.rewarded ? q.now : null, referrer_points: q.referrerPoints, referee_points: q.refereePoints,
    referrer_entry_id: q.referrerEntryId, referee_entry_id: q.refereeEntryId,
    referrer_instance_id: q.referrerInstanceId, referee_instance_id: q.refereeInstanceId,
  }).where('tenant_id', '=', tenantId).where('referral_id', '=', referralId).returningAll().executeTakeFirstOrThrow();
}

export async function markReversed(trx: Trx, tenantId: string, referralId: string, now: Date): Promise<void> {
  await trx.updateTable('referrals').set({ state: 'reversed', reversed_at: now })
    .where('tenant_id', '=', tenantId).where('referral_id', '=', referralId).execute();
}

/** A referrer's referrals that were paid and not taken back: since `from`, and ever. */
export async function paidReferrals(trx: Trx, tenantId: string, referrerId: string, from: Date | null): Promise<{ inPeriod: number; ever: number }> {
  const row = await trx.selectFrom('referrals')
    .select([
      sql<string>`count(*) filter (where ${from === null ? sql`true` : sql`qualified_at >= ${from}`})`.as('in_period'),
      sql<string>`count(*)`.as('ever'),
    ])
    .where('tenant_id', '=', tenantId).where('referrer_id', '=', referrerId).where('state', 'in', ['qualified', 'rewarded'])
    .executeTakeFirstOrThrow();
  return { inPeriod: Number(row.in_period), ever: Number(row.ever) };
}

export async function recordSignals(trx: Trx, tenantId: string, programId: string, memberId: string, signals: readonly { kind: SignalKind; hash: string }[]): Promise<void> {
  if (signals.length === 0) return;
  await trx.insertInto('referral_signals')
    .values(signals.map((s) => ({ tenant_id: tenantId, program_id: programId, kind: s.kind, hash: s.hash, member_id: memberId })))
    .onConflict((oc) => oc.doNothing()).execute();
}

/** The kind of signal (device, payment) two members share, if any. */
export async function sharedSignal(trx: Trx, tenantId: string, programId: string, a: string, b: string): Promise<SignalKind | null> {
  const row = await trx.selectFrom('referral_signals as x')
    .innerJoin('referral_signals as y', (j) => j.onRef('y.tenant_id', '=', 'x.tenant_id').onRef('y.program_id', '=', 'x.program_id')
      .onRef('y.kind', '=', 'x.kind').onRef('y.hash', '=', 'x.hash'))
    .select('x.kind')
    .where('x.tenant_id', '=', tenantId).where('x.program_id', '=', programId).where('x.member_id', '=', a).where('y.member_id', '=', b)
    .limit(1).executeTakeFirst();
  return row?.kind ?? null;
}

export interface ReferralFilter {
  programId?: string | undefined;
  state?: ReferralState | undefined;
  reason?: string | undefined;
  referrerId?: string | undefined;
  refereeId?: string | undefined;
  /** referrals older than this one (pages go newest first) */
  before: string | null;
  limit: number;
}

export async function listReferralRows(db: Db, tenantId: string, f: ReferralFilter) {
  let q = db.selectFrom('referrals').selectAll().where('tenant_id', '=', tenantId);
  if (f.programId) q = q.where('program_id', '=', f.programId);
  if (f.state) q = q.where('state', '=', f.state);
  if (f.reason) q = q.where('reason', '=', f.reason);
  if (f.referrerId) q = q.where('referrer_id', '=', f.referrerId);
  if (f.refereeId) q = q.where('referee_id', '=', f.refereeId);
  if (f.before) q = q.where('referral_id', '<', f.before);
  return q.orderBy('referral_id', 'desc').limit(f.limit).execute();
}

/** The funnel over referrals that joined in [from, to): one statement. */
export async function funnelRow(db: Db, tenantId: string, programId: string, from: Date | null, to: Date | null) {
  const inRange = (column: string) => sql`${from === null ? sql`true` : sql`${sql.ref(column)} >= ${from}`} and ${to === null ? sql`true` : sql`${sql.ref(column)} < ${to}`}`;
  const r = await sql<{
    codes: string; joined: string; qualified: string; rewarded: string; reversed: string; pending: string; points: string | null;
  }>`
    select
      (select count(*) from referral_codes c where c.tenant_id = ${tenantId} and c.program_id = ${programId} and ${inRange('c.created_at')}) as codes,
      count(*) as joined,
      count(*) filter (where qualified_at is not null) as qualified,
      count(*) filter (where state = 'rewarded') as rewarded,
      count(*) filter (where state = 'reversed') as reversed,
      count(*) filter (where state = 'pending') as pending,
      sum(referrer_points + referee_points) filter (where state in ('qualified', 'rewarded')) as points
    from referrals where tenant_id = ${tenantId} and program_id = ${programId} and ${inRange('joined_at')}`.execute(db);
  const reasons = await sql<{ reason: string; n: string }>`
    select reason, count(*) as n from referrals
    where tenant_id = ${tenantId} and program_id = ${programId} and state = 'rejected' and ${inRange('joined_at')}
    group by reason order by reason`.execute(db);
  return { ...r.rows[0]!, reasons: reasons.rows };
}

/** The hold ended: qualified referrals become rewarded, a chunk at a time. */
export async function rewardDue(db: Db, now: Date, chunk: number): Promise<number> {
  const r = await sql`
    update referrals r set state = 'rewarded', rewarded_at = ${now}
    from (select tenant_id, referral_id from referrals where state = 'qualified' and reward_at <= ${now}
          order by reward_at limit ${chunk} for update skip locked) due
    where r.tenant_id = due.tenant_id and r.referral_id = due.referral_id and r.state = 'qualified'`.execute(db);
  return Number(r.numAffectedRows ?? 0n);
}

/** Pending referrals whose window closed are rejected (window_passed), each with its outbox message, a chunk at a time. */
export async function expirePending(db: Db, now: Date, chunk: number): Promise<number> {
  const r = await sql`
    with due as (
      select tenant_id, referral_id from referrals where state = 'pending' and expires_at <= ${now}
      order by expires_at limit ${chunk} for update skip locked
    ), rejected as (
      update referrals r set state = 'rejected', reason = 'window_passed', detail = 'no qualifying event before ' || to_char(r.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), rejected_at = ${now}
      from due where r.tenant_id = due.tenant_id and r.referral_id = due.referral_id and r.state = 'pending'
      returning r.*
    )
    insert into outbox (tenant_id, message_id, type, dedupe_key, payload, created_at)
    select tenant_id, laurel_uuid_v7(), 'referral.rejected', 'referral.rejected:' || referral_id,
      jsonb_build_object('referralId', referral_id, 'programId', program_id, 'referrerId', referrer_id, 'refereeId', referee_id,
        'state', state, 'reason', reason, 'detail', detail),
      ${now}
    from rejected
    on conflict (tenant_id, dedupe_key) do nothing`.execute(db);
  return Number(r.numAffectedRows ?? 0n);
}
