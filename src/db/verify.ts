// `laurel verify`: recomputes balances and lots from the journal and checks every invariant of
// core/ledger/invariants.ts on the stored data, in one consistent snapshot.
import { sql, type RawBuilder } from 'kysely';
import type { Db } from './schema.js';

export interface CheckResult {
  name: string;
  description: string;
  checked: number;
  failures: Record<string, unknown>[];
}

export interface VerifyReport {
  ok: boolean;
  checks: CheckResult[];
}

const MAX_FAILURES = 20;

/** Each check is a query yielding one row per thing checked, with a boolean column `ok`. */
function checks(now: Date, tenant: RawBuilder<unknown>): { name: string; description: string; rows: RawBuilder<unknown> }[] {
  const t = (alias: string) => sql`(${sql.raw(alias)}.tenant_id = ${tenant} or ${tenant}::uuid is null)`;
  // Sums grouped over the whole tenant and joined, never a subquery per balance row: no index finds
  // a wallet's postings, so a lateral sum per row made verify quadratic in the tenant's size.
  const postingSums = sql`select tenant_id, member_id, wallet_id,
      sum(amount) filter (where account = 'available') as available,
      sum(amount) filter (where account = 'pending') as pending,
      sum(amount) filter (where account = 'held') as held
    from postings where member_id is not null and ${t('postings')} group by tenant_id, member_id, wallet_id`;
  // Every change of a lot's remaining: its movements, and what expiries took (one row per expire
  // entry, its lots and amounts side by side: migration 0111).
  const lotChanges = sql`select tenant_id, lot_id, delta from lot_movements where ${t('lot_movements')}
    union all
    select x.tenant_id, u.lot_id, -u.amount from lot_expiries x cross join unnest(x.lot_ids, x.amounts) u(lot_id, amount) where ${t('x')}`;
  const lotSums = sql`select tenant_id, lot_id, sum(delta) as total from (${lotChanges}) c group by tenant_id, lot_id`;
  const shardSums = sql`select tenant_id, scope, sum(used) as used from budget_shards where ${t('budget_shards')} group by tenant_id, scope`;
  return [
    {
      name: 'double_entry',
      description: 'every journal entry has postings that sum to zero',
      rows: sql`select e.tenant_id, e.entry_id, e.kind, coalesce(sum(p.amount), 0) as sum, count(p.leg) as legs,
                  coalesce(sum(p.amount), 0) = 0 and count(p.leg) >= 2 as ok
                from journal_entries e left join postings p on p.tenant_id = e.tenant_id and p.entry_id = e.entry_id
                where ${t('e')} group by e.tenant_id, e.entry_id, e.kind`,
    },
    {
      name: 'postings_have_entries',
      description: 'every posting, lot movement and lot expiry belongs to a journal entry',
      rows: sql`select x.tenant_id, x.entry_id, exists (select 1 from journal_entries e
                  where e.tenant_id = x.tenant_id and e.entry_id = x.entry_id) as ok
                from (select tenant_id, entry_id from postings union select tenant_id, entry_id from lot_movements
                      union select tenant_id, entry_id from lot_expiries) x
                where ${t('x')}`,
    },
    {
      name: 'balances_follow_postings',
      description: 'available, pending and held equal the sums of the postings to those buckets',
      rows: sql`select b.tenant_id, b.member_id, b.wallet_id, b.available, b.pending, b.held,
                  coalesce(s.available, 0) as journal_available, coalesce(s.pending, 0) as journal_pending, coalesce(s.held, 0) as journal_held,
                  (b.available, b.pending, b.held) = (coalesce(s.available, 0), coalesce(s.pending, 0), coalesce(s.held, 0)) as ok
                from balances b left join (${postingSums}) s on s.tenant_id = b.tenant_id and s.member_id = b.member_id and s.wallet_id = b.wallet_id
                where ${t('b')}`,
    },
    {
      name: 'counters_follow_entries',
      description: 'lifetime earned, lifetime redeemed and expired equal their entries net of reversals',
      rows: sql`select b.tenant_id, b.member_id, b.wallet_id, b.lifetime_earned, b.lifetime_redeemed, b.expired,
                  s.earned as journal_earned, s.redeemed as journal_redeemed, s.expired as journal_expired,
                  (b.lifetime_earned, b.lifetime_redeemed, b.expired) = (s.earned, s.redeemed, s.expired) as ok
                from balances b cross join lateral (
                  select coalesce(sum(case when k = 'earn' then amt end), 0) as earned,
                         coalesce(sum(case when k = 'redeem' then amt end), 0) as redeemed,
                         coalesce(sum(case when k = 'expire' then amt end), 0) as expired
                  from (select coalesce(o.kind, e.kind) as k, case when e.kind = 'reverse' then -e.amount else e.amount end as amt
                        from journal_entries e
                        left join journal_entries o on o.tenant_id = e.tenant_id and o.entry_id = e.reverses_entry_id
                        where e.tenant_id = b.tenant_id and e.member_id = b.member_id and e.wallet_id = b.wallet_id) x) s
                where ${t('b')}`,
    },
    {
      name: 'lots_follow_movements',
      description: "every lot's remaining is the sum of its movements less what expiries took, between 0 and its amount",
      rows: sql`select l.tenant_id, l.lot_id, l.member_id, l.amount, l.remaining, coalesce(s.total, 0) as movements,
                  l.remaining = coalesce(s.total, 0)
                    and case when l.amount > 0 then l.remaining between 0 and l.amount else l.remaining between l.amount and 0 end as ok
                from lots l left join (${lotSums}) s on s.tenant_id = l.tenant_id and s.lot_id = l.lot_id
                where ${t('l')}`,
    },
    {
      // An expiry row is its expire entry, lot by lot: the entry of the same wallet with the sum of
      // its amounts, each lot the entry's member's, each amount taken from a lot that had it.
      name: 'expiries_follow_journal',
      description: "every lot expiry's amounts sum to its expire entry's amount, and its lots are that member's, in that wallet",
      rows: sql`select x.tenant_id, x.entry_id, e.kind, e.amount as entry_amount, s.total, s.foreign_lots, s.non_positive,
                  coalesce(e.kind = 'expire' and e.wallet_id = x.wallet_id and e.amount = s.total
                    and s.foreign_lots = 0 and s.non_positive = 0, false) as ok
                from lot_expiries x
                left join journal_entries e on e.tenant_id = x.tenant_id and e.entry_id = x.entry_id
                cross join lateral (
                  select sum(u.amount) as total, count(*) filter (where u.amount <= 0) as non_positive,
                    count(*) filter (where l.lot_id is null or l.member_id is distinct from e.member_id or l.wallet_id <> x.wallet_id) as foreign_lots
                  from unnest(x.lot_ids, x.amounts) u(lot_id, amount)
                  left join lots l on l.tenant_id = x.tenant_id and l.lot_id = u.lot_id) s
                where ${t('x')}`,
    },
    {
      // Against the journal, not the balance row (balances_follow_postings checks that): so a damaged
      // balance, lot or hold is reported once, by the check that reads it.
      name: 'lots_back_balances',
      description: "the journal's pending equals the pending lots' movements, available the matured lots' (debts included), held the active holds",
      rows: sql`select b.tenant_id, b.member_id, b.wallet_id, coalesce(s.available, 0) as journal_available, coalesce(s.pending, 0) as journal_pending,
                  coalesce(s.held, 0) as journal_held, coalesce(l.matured, 0) as lots_matured, coalesce(l.pending, 0) as lots_pending,
                  coalesce(h.held, 0) as holds_active,
                  (coalesce(s.available, 0), coalesce(s.pending, 0), coalesce(s.held, 0))
                    = (coalesce(l.matured, 0), coalesce(l.pending, 0), coalesce(h.held, 0)) as ok
                from balances b
                left join (${postingSums}) s on s.tenant_id = b.tenant_id and s.member_id = b.member_id and s.wallet_id = b.wallet_id
                left join (select lots.tenant_id, lots.member_id, lots.wallet_id,
                                  sum(m.total) filter (where not lots.pending) as matured, sum(m.total) filter (where lots.pending) as pending
                  from lots join (${lotSums}) m on m.tenant_id = lots.tenant_id and m.lot_id = lots.lot_id
                  where ${t('lots')} group by lots.tenant_id, lots.member_id, lots.wallet_id) l
                  on l.tenant_id = b.tenant_id and l.member_id = b.member_id and l.wallet_id = b.wallet_id
                left join (select tenant_id, member_id, wallet_id, sum(amount) as held from holds
                  where status = 'active' and ${t('holds')} group by tenant_id, member_id, wallet_id) h
                  on h.tenant_id = b.tenant_id and h.member_id = b.member_id and h.wallet_id = b.wallet_id
                where ${t('b')}`,
    },
    {
      name: 'holds_back_their_points',
      description: 'an active hold has taken its amount from lots; a captured one what was captured and not reversed',
      rows: sql`select h.tenant_id, h.hold_id, h.status, h.amount, -coalesce(m.net, 0) as taken, coalesce(c.captured, 0) as captured,
                  -coalesce(m.net, 0) = case h.status when 'active' then h.amount when 'captured' then coalesce(c.captured, 0) else 0 end as ok
                from holds h
                left join lateral (select sum(delta) as net from lot_movements
                  where lot_movements.tenant_id = h.tenant_id and lot_movements.group_entry_id = h.hold_entry_id) m on true
                left join (select e.tenant_id, e.hold_id, sum(e.amount - coalesce(r.amount, 0)) as captured from journal_entries e
                  left join lateral (select sum(amount) as amount from journal_entries r
                    where r.tenant_id = e.tenant_id and r.reverses_entry_id = e.entry_id) r on true
                  where e.kind = 'redeem' and e.hold_id is not null and ${t('e')} group by e.tenant_id, e.hold_id) c
                  on c.tenant_id = h.tenant_id and c.hold_id = h.hold_id
                where ${t('h')}`,
    },
    {
      name: 'debts_repaid_first',
      description: 'no wallet owes a debt while it has spendable points',
      rows: sql`select d.tenant_id, d.member_id, d.wallet_id, d.lot_id as debt_lot, d.remaining as owed,
                  not exists (select 1 from lots c where c.tenant_id = d.tenant_id and c.member_id = d.member_id
                    and c.wallet_id = d.wallet_id and c.remaining > 0 and not c.pending
                    and (c.expires_at is null or c.expires_at > ${now})) as ok
                from lots d where d.remaining < 0 and ${t('d')}`,
    },
    {
      name: 'events_follow_journal',
      description: "every event's journal entries exist, for its member, of its kind and amount, and its points are its points-wallet entry's",
      rows: sql`select ev.tenant_id, ev.event_id, ev.type, ev.member_id, ev.points, ev.entry_id, x.listed, x.matching, x.missing,
                  x.default_amount as entries_points, x.default_entry,
                  x.listed = x.matching and ev.points = coalesce(x.default_amount, 0)
                    and ev.entry_id is not distinct from x.default_entry as ok
                from events ev cross join lateral (
                  select count(*) as listed,
                         count(*) filter (where j.member_id = ev.member_id and w.code = a.wallet and case when a.amount > 0
                           then j.kind = 'earn' and j.amount = a.amount else j.kind = 'reverse' and j.amount = -a.amount end) as matching,
                         array_agg(a.entry_id) filter (where j.entry_id is null) as missing,
                         sum(a.amount) filter (where a.wallet = 'points') as default_amount,
                         min(a.entry_id::text) filter (where a.wallet = 'points')::uuid as default_entry
                  from (select v->>'wallet' as wallet, (v->>'entryId')::uuid as entry_id, (v->'amount'->>'$bigint')::bigint as amount
                        from jsonb_array_elements(ev.entries) v) a
                  left join journal_entries j on j.tenant_id = ev.tenant_id and j.entry_id = a.entry_id
                  left join wallets w on w.tenant_id = j.tenant_id and w.wallet_id = j.wallet_id) x
                where ${t('ev')}`,
    },
    {
      name: 'awards_follow_journal',
      description: "an event's rule awards per wallet equal what its entries earned; a return's take back at most that",
      rows: sql`select a.tenant_id, a.event_id, a.wallet, a.awarded, coalesce(e.amount, 0) as entries_amount,
                  case when a.awarded >= 0 then coalesce(e.amount, 0) = a.awarded
                       else coalesce(e.amount, 0) between a.awarded and 0 end as ok
                from (select tenant_id, event_id, wallet, sum(points) as awarded from rule_awards
                      where ${t('rule_awards')} group by tenant_id, event_id, wallet) a
                join events ev on ev.tenant_id = a.tenant_id and ev.event_id = a.event_id
                left join lateral (select sum((v->'amount'->>'$bigint')::bigint) as amount from jsonb_array_elements(ev.entries) v
                  where v->>'wallet' = a.wallet) e on true`,
    },
    {
      // A referral's points are earns of their own: present, of the stated amount, for the right
      // member, when it was paid; none when it was not; reversed in full when it was reversed.
      name: 'referrals_follow_journal',
      description: "a paid referral's earns exist with its points for each side; a reversed one's are reversed in full; an unpaid one has none",
      rows: sql`select r.tenant_id, r.referral_id, s.side, r.state, s.points, j.amount as entry_amount, coalesce(rev.reversed, 0) as reversed,
                  case when r.state in ('pending', 'rejected') or s.points = 0 then s.entry_id is null
                       else j.entry_id is not null and j.kind = 'earn' and j.amount = s.points and j.member_id = s.member_id
                         and (r.state <> 'reversed' or coalesce(rev.reversed, 0) = j.amount) end as ok
                from referrals r
                cross join lateral (values ('referrer', r.referrer_id, r.referrer_points, r.referrer_entry_id),
                                           ('referee', r.referee_id, r.referee_points, r.referee_entry_id)) s(side, member_id, points, entry_id)
                left join journal_entries j on j.tenant_id = r.tenant_id and j.entry_id = s.entry_id
                left join lateral (select sum(x.amount) as reversed from journal_entries x
                  where x.tenant_id = r.tenant_id and x.reverses_entry_id = s.entry_id) rev on true
                where ${t('r')}`,
    },
    {
      // A budget counts the awards made while it is set and gives back what returns take back:
      // so it lies between the awards net of returns and the awards alone (from 0 for an
      // unbudgeted rule, which counts nothing). What it used is Σ used over its shards (0112).
      name: 'budgets_follow_awards',
      description: "a budgeted rule's or campaign's budget used lies between its awards net of returns and its awards",
      rows: sql`select r.tenant_id, 'rule' as scope, r.rule_id as id, coalesce(u.used, 0) as budget_used, coalesce(a.net, 0) as awards_net,
                  coalesce(a.earned, 0) as awards_earned,
                  coalesce(u.used, 0) between case when v.definition -> 'limits' ->> 'budget' is null then 0 else greatest(coalesce(a.net, 0), 0) end
                    and coalesce(a.earned, 0) as ok
                from rules r
                join rule_versions v on v.tenant_id = r.tenant_id and v.rule_id = r.rule_id and v.version = r.version
                left join (${shardSums}) u on u.tenant_id = r.tenant_id and u.scope = 'rule:' || r.rule_id
                left join (select tenant_id, rule_id, sum(points) as net, sum(points) filter (where points > 0) as earned
                  from rule_awards where ${t('rule_awards')} group by tenant_id, rule_id) a on a.tenant_id = r.tenant_id and a.rule_id = r.rule_id
                where ${t('r')}
                union all
                select c.tenant_id, 'campaign', c.campaign_id, coalesce(u.used, 0), coalesce(a.net, 0), coalesce(a.earned, 0),
                  coalesce(u.used, 0) between case when c.budget is null then 0 else greatest(coalesce(a.net, 0), 0) end and coalesce(a.earned, 0)
                from campaigns c
                left join (${shardSums}) u on u.tenant_id = c.tenant_id and u.scope = 'campaign:' || c.campaign_id
                left join (select tenant_id, campaign_id, sum(points) as net, sum(points) filter (where points > 0) as earned
                  from rule_awards where campaign_id is not null and ${t('rule_awards')} group by tenant_id, campaign_id) a
                  on a.tenant_id = c.tenant_id and a.campaign_id = c.campaign_id
                where ${t('c')}`,
    },
    {
      // The shards can give out no more than the budget has left (core/rules/budget.ts): 16 of
      // them, one budget, and rooms that add up to at most the budget less Σ used.
      name: 'budget_shards_hold_the_budget',
      description: "a budget's shards are 16, carry its budget, and their rooms add up to at most what it has left",
      rows: sql`select tenant_id, scope, count(*) as shards, min(budget) as budget, sum(used) as used, sum(room) as room,
                  count(*) = 16 and count(distinct coalesce(budget, -1)) = 1 and count(distinct shard) = 16
                    and sum(room) <= greatest(coalesce(min(budget), 0) - sum(used), 0) as ok
                from budget_shards where ${t('budget_shards')} group by tenant_id, scope`,
    },
    {
      // The running counters member.stats sums (migration 0113) are what a scan of the purchase events would count.
      name: 'purchase_months_follow_events',
      description: "a member's purchases and spend per month of the tenant's zone (what member.stats sums) are those of their purchase events",
      rows: sql`select coalesce(c.tenant_id, e.tenant_id) as tenant_id, coalesce(c.member_id, e.member_id) as member_id, coalesce(c.month, e.month) as month,
                  c.purchases, e.purchases as events, c.spend, e.spend as events_spend,
                  coalesce(c.purchases = e.purchases and c.spend = e.spend, false) as ok
                from (select * from member_purchase_months where ${t('member_purchase_months')}) c
                full join (select x.tenant_id, x.member_id, laurel_month_of(x.occurred_at, z.time_zone) as month, count(*) as purchases,
                             coalesce(sum(x.total), 0) as spend
                           from events x join tenants z on z.tenant_id = x.tenant_id
                           where x.type = 'purchase' and x.member_id is not null and ${t('x')}
                           group by x.tenant_id, x.member_id, laurel_month_of(x.occurred_at, z.time_zone)) e
                  on e.tenant_id = c.tenant_id and e.member_id = c.member_id and e.month = c.month`,
    },
    {
      name: 'allocations_follow_journal',
      description: "an earning purchase's accounting allocation carries the points of its earn entry, and its returns have taken back exactly their share of it (migration 0050)",
      rows: sql`select a.tenant_id, a.purchase_event_id, a.points, a.amount, j.amount as earned, coalesce(r.points_back, 0) as points_back,
                  coalesce(r.reversed, 0) as reversed,
                  coalesce(j.kind = 'earn' and j.amount = a.points and coalesce(r.points_back, 0) <= a.points
                    and coalesce(r.reversed, 0) = floor((2 * a.amount * coalesce(r.points_back, 0) + a.points)::numeric / (2 * a.points)), false) as ok
                from accounting_entries a
                left join journal_entries j on j.tenant_id = a.tenant_id and j.entry_id = a.ledger_entry_id
                left join (select tenant_id, purchase_event_id, -sum(points) as points_back, -sum(amount) as reversed
                  from accounting_entries where kind = 'allocation_reversal' and ${t('accounting_entries')} group by tenant_id, purchase_event_id) r
                  on r.tenant_id = a.tenant_id and r.purchase_event_id = a.purchase_event_id
                where a.kind = 'allocation' and ${t('a')}`,
    },
    {
      name: 'recognition_follows_journal',
      description: "every recognition allowance is its earn entry; every gift's allowance spend, receiver's credit and declined return are its entries, of its members and amount",
      rows: sql`select a.tenant_id, 'allowance' as what, a.entry_id as id,
                  coalesce(e.kind = 'earn' and e.member_id = a.member_id and e.amount = a.amount, false) as ok
                from recognition_allowances a left join journal_entries e on e.tenant_id = a.tenant_id and e.entry_id = a.entry_id
                where ${t('a')}
                union all
                select g.tenant_id, 'gift', g.gift_id,
                  coalesce(s.kind = 'redeem' and s.member_id = g.giver_id and s.amount = g.amount, false)
                    and (g.credit_entry_id is null or coalesce(c.kind = 'earn' and c.member_id = g.receiver_id and c.amount = g.amount, false))
                    and (g.return_entry_id is null or coalesce(r.kind = 'reverse' and r.reverses_entry_id = g.spend_entry_id and r.amount = g.amount, false))
                from recognition_gifts g
                left join journal_entries s on s.tenant_id = g.tenant_id and s.entry_id = g.spend_entry_id
                left join journal_entries c on c.tenant_id = g.tenant_id and c.entry_id = g.credit_entry_id
                left join journal_entries r on r.tenant_id = g.tenant_id and r.entry_id = g.return_entry_id
                where ${t('g')}`,
    },
    {
      name: 'households_follow_journal',
      description: "every household pool entry is its journal entry: points brought or earned a transfer from the member to the household's account, points spent a redeem from that account, points returned the member's reversal taken from that account",
      rows: sql`select he.tenant_id, he.household_id, he.entry_id, he.action, he.member_id,
                  coalesce(case when he.action = 'spent' then e.kind = 'redeem' and e.member_id = h.account_member_id
                    when he.action = 'returned' then e.kind = 'reverse' and e.member_id = he.member_id and e.counterparty_id = h.account_member_id
                    else e.kind = 'transfer' and e.member_id = he.member_id and e.counterparty_id = h.account_member_id end, false) as ok
                from household_entries he
                join households h on h.tenant_id = he.tenant_id and h.household_id = he.household_id
                left join journal_entries e on e.tenant_id = he.tenant_id and e.entry_id = he.entry_id
                where ${t('he')}`,
    },
  ];
}

export async function verifyLedger(db: Db, now: Date, tenantId: string | null = null): Promise<VerifyReport> {
  return db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
    const results: CheckResult[] = [];
    for (const check of checks(now, sql`${tenantId}::uuid`)) {
      const { rows } = await sql<{ checked: number; failures: Record<string, unknown>[] | null }>`
        select count(*)::int as checked,
               (array_agg(to_jsonb(c) - 'ok') filter (where not c.ok))[1:${MAX_FAILURES}] as failures
        from (${check.rows}) c`.execute(trx);
      results.push({ name: check.name, description: check.description, checked: rows[0]?.checked ?? 0, failures: rows[0]?.failures ?? [] });
    }
    return { ok: results.every((r) => r.failures.length === 0), checks: results };
  });
}

export function formatReport(report: VerifyReport): string {
  const lines = report.checks.map((c) =>
    `${c.failures.length ? 'FAIL' : 'ok  '} ${c.name}: ${c.description} (${c.checked} checked${c.failures.length ? `, ${c.failures.length}+ wrong` : ''})` +
    c.failures.map((f) => `\n       ${JSON.stringify(f)}`).join(''));
  return [...lines, report.ok ? 'ledger verified: every invariant holds' : 'LEDGER INCONSISTENT'].join('\n');
}
