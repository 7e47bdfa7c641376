// Ledger queries: load a member's wallet under its lock, and write a core Decision in one statement.
import { sql, type Expression, type RawBuilder, type Selectable, type Transaction } from 'kysely';
import { balanceChanges } from '../core/ledger/invariants.js';
import type { LotTake } from '../core/ledger/consumption.js';
import type { Balance, Decision, EntryKind, Hold, JournalEntry, Lot, WalletState } from '../core/ledger/types.js';
import type { ExpiryPolicy, ProgramPolicy } from '../core/program.js';
import type { MemberProfile } from '../core/rules/facts.js';
import { uuidv7 } from '../core/ids.js';
import type { Database, Db, JournalEntriesTable } from './schema.js';
import { UNPREPARED, compiledOnce } from './connection.js';

export type Trx = Transaction<Database>;

export interface LockedWallet {
  state: WalletState;
  tenantId: string;
  memberStatus: 'active' | 'suspended' | 'erased';
  policy: ProgramPolicy;
  timeZone: string;
  /** lots to mature or expire, or holds to release, are waiting: settle before deciding */
  due: boolean;
  /** what rules read of the member, read with the lock when asked for (an event's first statement) */
  profile?: MemberProfile;
}

interface WalletRow {
  tenant_id: string; member_id: string; wallet_id: string; program_id: string;
  available: bigint; pending: bigint; held: bigint; lifetime_earned: bigint; lifetime_redeemed: bigint;
  expired: bigint; last_activity_at: Date | null; code: string; wallet_kind: 'redeemable' | 'qualifying';
  member_status: 'active' | 'suspended' | 'erased'; return_window_days: number;
  expiry_kind: ExpiryPolicy['kind']; expiry_months: number | null; expiry_month: number | null;
  expiry_day: number | null; expiry_years_after: number | null; negative_balance_policy: 'debt' | 'write_off';
  time_zone: string; due: boolean;
  /** with the profile only */
  member_tier?: string | null; member_grade?: string | null; member_attributes?: Record<string, unknown> | null;
  member_birthday?: string | null; member_enrolled_at?: Date;
}

export function expiryPolicyOf(row: Pick<WalletRow, 'expiry_kind' | 'expiry_months' | 'expiry_month' | 'expiry_day' | 'expiry_years_after'>): ExpiryPolicy {
  switch (row.expiry_kind) {
    case 'none': return { kind: 'none' };
    case 'rolling':
    case 'inactivity': return { kind: row.expiry_kind, months: row.expiry_months! };
    case 'fixed_date': return { kind: 'fixed_date', month: row.expiry_month!, day: row.expiry_day!, yearsAfter: row.expiry_years_after! };
  }
}

export function balanceOf(row: {
  member_id: string; wallet_id: string; code: string; available: bigint; pending: bigint; held: bigint;
  lifetime_earned: bigint; lifetime_redeemed: bigint; expired: bigint; last_activity_at: Date | null;
}): Balance {
  return {
    memberId: row.member_id, walletId: row.wallet_id, wallet: row.code, available: row.available, pending: row.pending,
    held: row.held, lifetimeEarned: row.lifetime_earned, lifetimeRedeemed: row.lifetime_redeemed,
    expired: row.expired, lastActivityAt: row.last_activity_at,
  };
}

/**
 * Whether the wallet locked as `b` (program `p`, tenant `t`) has anything to settle at `now`: a
 * pending lot to mature, a live lot past its date, live lots in a wallet idle for longer than an
 * inactivity policy allows, a debt with points to repay it, or an active hold past its expiry.
 * Each EXISTS reads at most one entry of one member-scoped index (migration 0004), so the check
 * costs the same for a member with ten lots as for one with a hundred thousand.
 */
function dueCheck(now: Date): RawBuilder<boolean> {
  const wallet = (alias: string) => sql.raw(`${alias}.tenant_id = b.tenant_id and ${alias}.member_id = b.member_id and ${alias}.wallet_id = b.wallet_id`);
  const liveLot = sql`exists (select 1 from lots l where ${wallet('l')} and l.remaining > 0 and not l.pending)`;
  return sql<boolean>`(
    exists (select 1 from lots l where ${wallet('l')} and l.pending and l.available_at <= ${now} and l.remaining <> 0)
    or exists (select 1 from lots l where ${wallet('l')} and l.remaining > 0 and not l.pending and l.expires_at <= ${now})
    or ((p.expiry_kind = 'inactivity' and ${inactiveSince(sql`b.last_activity_at`, sql`p.expiry_months`, sql`t.time_zone`, now)}
         or exists (select 1 from lots l where ${wallet('l')} and l.remaining < 0))
        and ${liveLot})
    or exists (select 1 from holds h where ${wallet('h')} and h.status = 'active' and h.expires_at <= ${now}))`;
}

/** What rules read of the member, with their wallet (LockedWallet.profile). */
const PROFILE = sql`, m.tier as member_tier, m.grade as member_grade, m.attributes as member_attributes, m.birthday as member_birthday,
  m.enrolled_at as member_enrolled_at`;

/** A member's wallet (its balance row, locked) and what the core needs to decide. */
function walletQuery(tenantId: string, memberId: string, walletCode: string, now: Date, withProfile = false): RawBuilder<WalletRow> {
  const profile = withProfile ? PROFILE : sql``;
  return sql<WalletRow>`
    select b.*, w.code, w.kind as wallet_kind, m.status as member_status, p.return_window_days, p.expiry_kind,
      p.expiry_months, p.expiry_month, p.expiry_day, p.expiry_years_after, p.negative_balance_policy, t.time_zone,
      ${dueCheck(now)} as due${profile}
    from balances b
    join wallets w on w.tenant_id = b.tenant_id and w.wallet_id = b.wallet_id
    join members m on m.tenant_id = b.tenant_id and m.member_id = b.member_id
    join programs p on p.tenant_id = b.tenant_id and p.program_id = b.program_id
    join tenants t on t.tenant_id = b.tenant_id
    where b.tenant_id = ${tenantId} and b.member_id = ${memberId} and w.code = ${walletCode}
    for update of b`;
}

function lockedWalletOf(tenantId: string, row: WalletRow): LockedWallet {
  return {
    tenantId,
    state: {
      programId: row.program_id, walletId: row.wallet_id, walletKind: row.wallet_kind,
      memberId: row.member_id, balance: balanceOf(row), lots: [],
    },
    memberStatus: row.member_status,
    policy: {
      returnWindowDays: row.return_window_days,
      expiry: expiryPolicyOf(row),
      negativeBalance: row.negative_balance_policy,
    },
    timeZone: row.time_zone,
    due: row.due,
    ...(row.member_enrolled_at === undefined ? {} : {
      profile: {
        memberId: row.member_id, tier: row.member_tier ?? null, grade: row.member_grade ?? null, attributes: row.member_attributes ?? {},
        birthday: row.member_birthday ?? null, enrolledAt: row.member_enrolled_at,
      },
    }),
  };
}

/** One wallet a batch locks, by member and code. */
export interface WalletRef {
  tenantId: string;
  memberId: string;
  code: string;
}

export const walletRefKey = (w: WalletRef): string => `${w.tenantId}/${w.memberId}/${w.code}`;

/**
 * Locks many wallets in one statement, in one global order (tenant, member, wallet), so that two
 * batches locking overlapping wallets never deadlock each other, each with what rules read of its
 * member (a batch's events decide on it). Answers by walletRefKey; a wallet that does not exist is absent.
 */
export async function lockWallets(trx: Trx, refs: WalletRef[], now: Date): Promise<Map<string, LockedWallet>> {
  const { rows } = await sql<WalletRow & { ref_code: string }>`
    select b.*, w.code, w.kind as wallet_kind, m.status as member_status, p.return_window_days, p.expiry_kind,
      p.expiry_months, p.expiry_month, p.expiry_day, p.expiry_years_after, p.negative_balance_policy, t.time_zone,
      ${dueCheck(now)} as due${PROFILE}
    from unnest(${refs.map((r) => r.tenantId)}::uuid[], ${refs.map((r) => r.memberId)}::uuid[], ${refs.map((r) => r.code)}::text[])
      as v(tenant_id, member_id, code)
    join balances b on b.tenant_id = v.tenant_id and b.member_id = v.member_id
    join wallets w on w.tenant_id = b.tenant_id and w.wallet_id = b.wallet_id and w.code = v.code
    join members m on m.tenant_id = b.tenant_id and m.member_id = b.member_id
    join programs p on p.tenant_id = b.tenant_id and p.program_id = b.program_id
    join tenants t on t.tenant_id = b.tenant_id
    order by b.tenant_id, b.member_id, b.wallet_id
    for update of b`.execute(trx);
  return new Map(rows.map((row) => [walletRefKey({ tenantId: row.tenant_id, memberId: row.member_id, code: row.code }), lockedWalletOf(row.tenant_id, row)]));
}

/** Locks a member's wallet (its balance row) and loads what the core needs to decide. */
export async function lockWallet(trx: Trx, tenantId: string, memberId: string, walletCode: string, now: Date, withProfile = false): Promise<LockedWallet | null> {
  const row = (await walletQuery(tenantId, memberId, walletCode, now, withProfile).execute(trx)).rows[0];
  return row ? lockedWalletOf(tenantId, row) : null;
}

/**
 * lockWallet and the lookup of an idempotency key in one statement (findingKeyQuery). A request that
 * waited for the wallet's lock sees the key as it was when the statement began: if the holder of
 * the lock stored the same key meanwhile, this request's own insert of the key fails (a unique
 * violation), and idempotent() retries and replays — as with a separate lookup.
 */
export async function lockWalletFindingKey(trx: Trx, tenantId: string, memberId: string, walletCode: string, now: Date, key: string, withProfile = false): Promise<{ wallet: LockedWallet | null; stored: StoredResponse | null }> {
  const rows = await (withProfile ? lockProfileFindingKey : lockFindingKey)(trx, tenantId, memberId, walletCode, now, key);
  const { row, stored } = foundWithKey(rows, 'member_id');
  return { stored, wallet: row && lockedWalletOf(tenantId, row) };
}

const walletFindingKey = (withProfile: boolean) => compiledOnce((_db, tenantId: string, memberId: string, walletCode: string, now: Date, key: string) =>
  findingKeyQuery(tenantId, key, walletQuery(tenantId, memberId, walletCode, now, withProfile)));
const lockFindingKey = walletFindingKey(false);
const lockProfileFindingKey = walletFindingKey(true);

/**
 * A statement that reads the first row of `query` and the response stored under an idempotency
 * key: a write whose first read is `query` saves the round trip of a separate lookup. It always
 * answers one row (foundWithKey reads it). Compiled once by its callers (compiledOnce).
 */
export const findingKeyQuery = <R extends object>(tenantId: string, key: string, query: Expression<R>) => sql<FoundWithKey<R>>`
  select k.key as stored_key, k.operation as stored_operation, k.request_hash as stored_request_hash,
    coalesce(k.response_text, k.response::text) as stored_response, q.*
  from (select) as one
  left join idempotency_keys k on k.tenant_id = ${tenantId} and k.key = ${key}
  left join (${query}) as q on true`;

export type FoundWithKey<R> = StoredRow & { [K in keyof R]: R[K] | null };

/** The row of `query` (null: none; `present` names a column it never answers null) and the stored response, from findingKeyQuery's one row. */
export function foundWithKey<R extends object>(rows: readonly FoundWithKey<R>[], present: keyof R & string): { row: R | null; stored: StoredResponse | null } {
  const row = rows[0]!;
  return { row: row[present] === null ? null : (row as R), stored: storedOf(row) };
}

/** True when a wallet last active at `lastActivity` has been idle for `months` months at `now`, on the tenant's calendar. */
export function inactiveSince(lastActivity: RawBuilder<unknown>, months: RawBuilder<unknown>, zone: RawBuilder<unknown>, now: Date): RawBuilder<boolean> {
  return sql<boolean>`((${lastActivity} at time zone ${zone}) + make_interval(months => ${months})) at time zone ${zone} <= ${now}`;
}

interface LotRow {
  lot_id: string; member_id: string; wallet_id: string; entry_id: string; amount: bigint; remaining: bigint;
  pending: boolean; earned_at: Date; available_at: Date; expires_at: Date | null;
}

export const lotOf = (r: LotRow): Lot => ({
  lotId: r.lot_id, memberId: r.member_id, walletId: r.wallet_id, entryId: r.entry_id, amount: r.amount,
  remaining: r.remaining, pending: r.pending, earnedAt: r.earned_at, availableAt: r.available_at, expiresAt: r.expires_at,
});

/**
 * The wallet's spendable lots, in consumption order (soonest-expiring, then oldest), as many as
 * cover `need` points: a spend reads a few lots, never the member's whole history. Pages grow
 * (64, 4,096, then all) for a spend that needs more. The caller holds the wallet's lock.
 */
export async function loadLots(trx: Trx, tenantId: string, state: WalletState, now: Date, need: bigint): Promise<Lot[]> {
  for (const limit of [64, 4096, null]) {
    const { rows } = await sql<LotRow>`${sql.raw(UNPREPARED)}
      select lot_id, member_id, wallet_id, entry_id, amount, remaining, pending, earned_at, available_at, expires_at
      from lots
      where tenant_id = ${tenantId} and member_id = ${state.memberId} and wallet_id = ${state.walletId}
        and remaining > 0 and not pending and (expires_at is null or expires_at > ${now})
      order by expires_at, earned_at, lot_id
      ${limit === null ? sql`` : sql`limit ${sql.lit(limit)}`}`.execute(trx);
    if (limit === null || rows.length < limit || rows.reduce((sum, r) => sum + r.remaining, 0n) >= need) return rows.map(lotOf);
  }
  return [];
}

/** What a consumption group took from each lot, net of what was given back. */
export async function loadConsumption(trx: Trx, tenantId: string, groupEntryId: string): Promise<LotTake[]> {
  const { rows } = await sql<LotRow & { taken: bigint }>`
    select l.lot_id, l.member_id, l.wallet_id, l.entry_id, l.amount, l.remaining, l.pending, l.earned_at,
           l.available_at, l.expires_at, -sum(mv.delta)::bigint as taken
    from lot_movements mv join lots l on l.tenant_id = mv.tenant_id and l.lot_id = mv.lot_id
    where mv.tenant_id = ${tenantId} and mv.group_entry_id = ${groupEntryId}
    group by l.tenant_id, l.lot_id
    having sum(mv.delta) < 0`.execute(trx);
  return rows.map((r) => ({ lot: lotOf(r), amount: r.taken }));
}

export async function loadHold(trx: Db, tenantId: string, holdId: string): Promise<Hold | null> {
  const row = await trx.selectFrom('holds').selectAll()
    .where('tenant_id', '=', tenantId).where('hold_id', '=', holdId).executeTakeFirst();
  return row ? holdOf(row) : null;
}

export const holdOf = (r: {
  hold_id: string; program_id: string; wallet_id: string; member_id: string; amount: bigint;
  status: Hold['status']; hold_entry_id: string; expires_at: Date; created_at: Date; resolved_at: Date | null;
}): Hold => ({
  holdId: r.hold_id, programId: r.program_id, walletId: r.wallet_id, memberId: r.member_id, amount: r.amount,
  status: r.status, holdEntryId: r.hold_entry_id, expiresAt: r.expires_at, createdAt: r.created_at, resolvedAt: r.resolved_at,
});

export const entryOf = (r: Selectable<JournalEntriesTable>): JournalEntry => ({
  entryId: r.entry_id, kind: r.kind as EntryKind, programId: r.program_id, walletId: r.wallet_id, memberId: r.member_id,
  amount: r.amount, counterpartyId: r.counterparty_id, holdId: r.hold_id, lotId: r.lot_id,
  reversesEntryId: r.reverses_entry_id, idempotencyKey: r.idempotency_key, ref: r.ref, actor: r.actor,
  reason: r.reason, createdAt: r.created_at,
});

/** An entry and how much of it earlier reversals already took back. */
export async function loadEntry(trx: Trx, tenantId: string, entryId: string): Promise<{ entry: JournalEntry; reversed: bigint; walletCode: string } | null> {
  const row = await trx.selectFrom('journal_entries as e')
    .innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'e.tenant_id').onRef('w.wallet_id', '=', 'e.wallet_id'))
    .selectAll('e').select('w.code as wallet_code')
    .select((eb) => eb.selectFrom('journal_entries as r')
      .select(sql<bigint>`coalesce(sum(r.amount), 0)::bigint`.as('s'))
      .whereRef('r.tenant_id', '=', 'e.tenant_id').whereRef('r.reverses_entry_id', '=', 'e.entry_id').as('reversed'))
    .where('e.tenant_id', '=', tenantId).where('e.entry_id', '=', entryId)
    .executeTakeFirst();
  if (!row) return null;
  return { entry: entryOf(row), reversed: BigInt(row.reversed ?? 0n), walletCode: row.wallet_code };
}

export async function loadLotsCreatedBy(trx: Trx, tenantId: string, entryId: string): Promise<Lot[]> {
  const rows = await trx.selectFrom('lots')
    .select(['lot_id', 'member_id', 'wallet_id', 'entry_id', 'amount', 'remaining', 'pending', 'earned_at', 'available_at', 'expires_at'])
    .where('tenant_id', '=', tenantId).where('entry_id', '=', entryId).where('amount', '>', 0n)
    .execute();
  return rows.map(lotOf);
}

/** A wallet's active holds with what each took, per lot: what a claw-back may take back from. */
export async function loadActiveHolds(trx: Trx, tenantId: string, memberId: string, walletId: string): Promise<{ hold: Hold; consumed: LotTake[] }[]> {
  const rows = await trx.selectFrom('holds').selectAll()
    .where('tenant_id', '=', tenantId).where('member_id', '=', memberId).where('wallet_id', '=', walletId).where('status', '=', 'active')
    .execute();
  const holds: { hold: Hold; consumed: LotTake[] }[] = [];
  for (const row of rows) holds.push({ hold: holdOf(row), consumed: await loadConsumption(trx, tenantId, row.hold_entry_id) });
  return holds;
}

export interface StoredResponse {
  key: string;
  operation: string;
  requestHash: string;
  response: string;
}

/**
 * Writes everything a decision decided, and the idempotency records when given, as one statement.
 * A batch writes the decisions of many operations of one tenant as one (their lists concatenated).
 */
export async function writeDecision(trx: Trx, tenantId: string, decision: Decision, now: Date, idempotency?: StoredResponse | StoredResponse[],
  /** more parts of the WITH, named apart from these (a batch's events: db/events.ts eventRowsParts) */
  also: readonly RawBuilder<unknown>[] = []): Promise<void> {
  const parts: RawBuilder<unknown>[] = [];
  const cte = (name: string, body: RawBuilder<unknown>) => parts.push(sql`${sql.raw(name)} as (${body})`);

  if (decision.entries.length) {
    cte('e', sql`insert into journal_entries (tenant_id, entry_id, program_id, wallet_id, member_id, kind, amount,
      counterparty_id, hold_id, lot_id, reverses_entry_id, idempotency_key, ref, actor, reason, created_at)
      select ${tenantId}::uuid, * from ${unnested(decision.entries, [['entry_id', 'uuid', (e) => e.entryId], ['program_id', 'uuid', (e) => e.programId],
        ['wallet_id', 'uuid', (e) => e.walletId], ['member_id', 'uuid', (e) => e.memberId], ['kind', 'text', (e) => e.kind], ['amount', 'bigint', (e) => e.amount],
        ['counterparty_id', 'uuid', (e) => e.counterpartyId], ['hold_id', 'uuid', (e) => e.holdId], ['lot_id', 'uuid', (e) => e.lotId],
        ['reverses_entry_id', 'uuid', (e) => e.reversesEntryId], ['idempotency_key', 'text', (e) => e.idempotencyKey], ['ref', 'text', (e) => e.ref],
        ['actor', 'text', (e) => e.actor], ['reason', 'text', (e) => e.reason], ['created_at', 'timestamptz', (e) => e.createdAt]])}`);
    const legs = decision.entries.flatMap((e) => e.postings.map((p, i) => ({ e, p, leg: i + 1 })));
    cte('p', sql`insert into postings (tenant_id, entry_id, leg, wallet_id, member_id, account, amount)
      select ${tenantId}::uuid, * from ${unnested(legs, [['entry_id', 'uuid', ({ e }) => e.entryId], ['leg', 'smallint', ({ leg }) => leg],
        ['wallet_id', 'uuid', ({ e }) => e.walletId], ['member_id', 'uuid', ({ p }) => p.memberId], ['account', 'text', ({ p }) => p.account],
        ['amount', 'bigint', ({ p }) => p.amount]])}`);
  }
  const newLots = new Set(decision.lots.map((l) => l.lotId));
  if (decision.lots.length) {
    const programOf = new Map(decision.entries.map((e) => [e.entryId, e.programId]));
    cte('l', sql`insert into lots (tenant_id, lot_id, program_id, wallet_id, member_id, entry_id, amount, remaining,
      pending, earned_at, available_at, expires_at)
      select ${tenantId}::uuid, * from ${unnested(decision.lots, [['lot_id', 'uuid', (l) => l.lotId],
        ['program_id', 'uuid', (l) => programOf.get(l.entryId) ?? decision.entries[0]!.programId], ['wallet_id', 'uuid', (l) => l.walletId],
        ['member_id', 'uuid', (l) => l.memberId], ['entry_id', 'uuid', (l) => l.entryId], ['amount', 'bigint', (l) => l.amount],
        ['remaining', 'bigint', (l) => l.remaining], ['pending', 'boolean', (l) => l.pending], ['earned_at', 'timestamptz', (l) => l.earnedAt],
        ['available_at', 'timestamptz', (l) => l.availableAt], ['expires_at', 'timestamptz', (l) => l.expiresAt]])}`);
  }
  const lotDeltas = new Map<string, bigint>();
  for (const m of decision.movements) {
    if (newLots.has(m.lotId)) continue;
    lotDeltas.set(m.lotId, (lotDeltas.get(m.lotId) ?? 0n) + m.delta);
  }
  const changed = [...lotDeltas].filter(([, d]) => d !== 0n);
  if (changed.length) {
    cte('lu', sql`update lots set remaining = lots.remaining + v.delta
      from ${joined(changed, [['lot_id', 'uuid', ([id]) => id], ['delta', 'bigint', ([, d]) => d]])}
      where lots.tenant_id = ${tenantId} and lots.lot_id = v.lot_id`);
  }
  if (decision.movements.length) {
    cte('m', sql`insert into lot_movements (tenant_id, movement_id, entry_id, group_entry_id, lot_id, delta, created_at)
      select ${tenantId}::uuid, v.*, ${now}::timestamptz from ${unnested(decision.movements, [['movement_id', 'uuid', () => uuidv7(now.getTime())],
        ['entry_id', 'uuid', (m) => m.entryId], ['group_entry_id', 'uuid', (m) => m.groupEntryId], ['lot_id', 'uuid', (m) => m.lotId],
        ['delta', 'bigint', (m) => m.delta]])}`);
  }
  if (decision.newHolds.length) {
    cte('h', sql`insert into holds (tenant_id, hold_id, program_id, wallet_id, member_id, amount, status, hold_entry_id,
      expires_at, created_at)
      select ${tenantId}::uuid, * from ${unnested(decision.newHolds, [['hold_id', 'uuid', (h) => h.holdId], ['program_id', 'uuid', (h) => h.programId],
        ['wallet_id', 'uuid', (h) => h.walletId], ['member_id', 'uuid', (h) => h.memberId], ['amount', 'bigint', (h) => h.amount],
        ['status', 'text', (h) => h.status], ['hold_entry_id', 'uuid', (h) => h.holdEntryId], ['expires_at', 'timestamptz', (h) => h.expiresAt],
        ['created_at', 'timestamptz', (h) => h.createdAt]])}`);
  }
  if (decision.resolvedHolds.length) {
    cte('hr', sql`update holds set status = v.status, resolved_at = ${now}
      from ${joined(decision.resolvedHolds, [['hold_id', 'uuid', (h) => h.holdId], ['status', 'text', (h) => h.status]])}
      where holds.tenant_id = ${tenantId} and holds.hold_id = v.hold_id`);
  }
  if (decision.shrunkHolds.length) {
    cte('hs', sql`update holds set amount = v.amount
      from ${joined(decision.shrunkHolds, [['hold_id', 'uuid', (h) => h.holdId], ['amount', 'bigint', (h) => h.amount]])}
      where holds.tenant_id = ${tenantId} and holds.hold_id = v.hold_id`);
  }
  const balances = balanceChanges(decision);
  if (balances.length) {
    cte('b', sql`update balances set available = balances.available + v.available, pending = balances.pending + v.pending,
      held = balances.held + v.held, lifetime_earned = balances.lifetime_earned + v.earned,
      lifetime_redeemed = balances.lifetime_redeemed + v.redeemed, expired = balances.expired + v.expired,
      last_activity_at = case when v.active then ${now}::timestamptz else balances.last_activity_at end
      from ${joined(balances, [['member_id', 'uuid', (b) => b.memberId], ['wallet_id', 'uuid', (b) => b.walletId],
        ['available', 'bigint', (b) => b.available], ['pending', 'bigint', (b) => b.pending], ['held', 'bigint', (b) => b.held],
        ['earned', 'bigint', (b) => b.lifetimeEarned], ['redeemed', 'bigint', (b) => b.lifetimeRedeemed], ['expired', 'bigint', (b) => b.expired],
        ['active', 'boolean', (b) => b.active]])}
      where balances.tenant_id = ${tenantId} and balances.member_id = v.member_id and balances.wallet_id = v.wallet_id`);
  }
  const records = idempotency === undefined ? [] : Array.isArray(idempotency) ? idempotency : [idempotency];
  if (records.length) {
    cte('i', insertIdempotency(tenantId, records, now));
  }
  parts.push(...also);
  if (parts.length === 0) return;
  await sql`with ${sql.join(parts)} select 1`.execute(trx);
}

/**
 * Rows as `unnest(…) as v(columns)`, one array parameter per column: the statement's text is the
 * same however many rows it writes (PostgreSQL prepares it once per connection), and Kysely
 * compiles a parameter per column instead of one per value. Elements go as text (bigints and
 * instants too), as both drivers take them.
 */
export function unnested<T>(rows: readonly T[], columns: readonly (readonly [name: string, type: string, value: (row: T) => unknown])[]): RawBuilder<unknown> {
  return sql`unnest(${sql.join(columns.map(([, type, value]) => sql`${rows.map((r) => element(value(r)))}::${sql.raw(type)}[]`))})
    as v(${sql.raw(columns.map(([name]) => name).join(', '))})`;
}

/**
 * The rows an update joins, as `v`: one row as a row of parameters, more through unnested. The
 * planner reads one row's values into the update's key (an index scan by the whole key), where
 * it cannot see into unnest's arrays: a custom plan for a tenant its statistics called small then
 * scanned all the tenant's rows by the key's first column (the 20-rule purchases, which update
 * one balance each outside the group commit, lost an eighth of their rate that way).
 */
function joined<T>(rows: readonly T[], columns: readonly (readonly [name: string, type: string, value: (row: T) => unknown])[]): RawBuilder<unknown> {
  if (rows.length !== 1) return unnested(rows, columns);
  return sql`(select ${sql.join(columns.map(([name, type, value]) => sql`${element(value(rows[0]!))}::${sql.raw(type)} as ${sql.raw(name)}`))}) as v`;
}

/** A value as unnest's arrays and joined's row take it: bigints and instants as text. */
const element = (v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Date ? v.toISOString() : v ?? null);

export const insertIdempotency = (tenantId: string, records: readonly StoredResponse[], now: Date) => sql`
  insert into idempotency_keys (tenant_id, key, operation, request_hash, response_text, created_at)
  select ${tenantId}::uuid, v.*, ${now}::timestamptz from ${unnested(records, [['key', 'text', (r) => r.key], ['operation', 'text', (r) => r.operation],
    ['request_hash', 'text', (r) => r.requestHash], ['response_text', 'text', (r) => r.response]])}`;

export async function storeIdempotency(trx: Trx, tenantId: string, record: StoredResponse, now: Date): Promise<void> {
  await insertIdempotency(tenantId, [record], now).execute(trx);
}

interface StoredRow {
  stored_key: string | null; stored_operation: string | null; stored_request_hash: string | null; stored_response: string | null;
}

const storedOf = (r: StoredRow): StoredResponse | null => (r.stored_key === null ? null : {
  key: r.stored_key, operation: r.stored_operation!, requestHash: r.stored_request_hash!, response: r.stored_response!,
});

/** The responses stored under many keys, in one statement; answered by `${tenantId}/${key}`. */
export async function findIdempotencyKeys(trx: Trx, keys: { tenantId: string; key: string }[]): Promise<Map<string, StoredResponse>> {
  const { rows } = await sql<StoredRow & { tenant_id: string }>`
    select k.tenant_id, k.key as stored_key, k.operation as stored_operation, k.request_hash as stored_request_hash,
      coalesce(k.response_text, k.response::text) as stored_response
    from unnest(${keys.map((k) => k.tenantId)}::uuid[], ${keys.map((k) => k.key)}::text[]) as v(tenant_id, key)
    join idempotency_keys k on k.tenant_id = v.tenant_id and k.key = v.key`.execute(trx);
  return new Map(rows.map((r) => [`${r.tenant_id}/${r.stored_key}`, storedOf(r)!]));
}

export async function findIdempotency(trx: Trx | Db, tenantId: string, key: string): Promise<StoredResponse | null> {
  const row = await trx.selectFrom('idempotency_keys')
    .select(['key as stored_key', 'operation as stored_operation', 'request_hash as stored_request_hash'])
    .select(sql<string>`coalesce(response_text, response::text)`.as('stored_response'))
    .where('tenant_id', '=', tenantId).where('key', '=', key).executeTakeFirst();
  return row ? storedOf(row) : null;
}

export async function readBalances(trx: Trx, tenantId: string, wallets: { memberId: string; walletId: string }[]): Promise<Balance[]> {
  const rows = await trx.selectFrom('balances as b')
    .innerJoin('wallets as w', (j) => j.onRef('w.tenant_id', '=', 'b.tenant_id').onRef('w.wallet_id', '=', 'b.wallet_id'))
    .selectAll('b').select('w.code').where('b.tenant_id', '=', tenantId)
    .where((eb) => eb.or(wallets.map((w) => eb.and([eb('b.member_id', '=', w.memberId), eb('b.wallet_id', '=', w.walletId)]))))
    .execute();
  return wallets.map((w) => balanceOf(rows.find((r) => r.member_id === w.memberId && r.wallet_id === w.walletId)!));
}
