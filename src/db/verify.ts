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
      description: 'every posting and lot movement belongs to a journal entry',
      rows: sql`select x.tenant_id, x.entry_id, exists (select 1 from journal_entries e
                  where e.tenant_id = x.tenant_id and e.entry_id = x.entry_id) as ok
                from (select tenant_id, entry_id from postings union select tenant_id, entry_id from lot_movements) x
                where ${t('x')}`,
    },
    {
      name: 'balances_follow_postings',
      description: 'available, pending and held equal the sums of the postings to those buckets',
      rows: sql`select b.tenant_id, b.member_id, b.wallet_id, b.available, b.pending, b.held,
                  s.available as journal_available, s.pending as journal_pending, s.held as journal_held,
                  (b.available, b.pending, b.held) = (s.available, s.pending, s.held) as ok
                from balances b cross join lateral (
                  select coalesce(sum(amount) filter (where account = 'available'), 0) as available,
                         coalesce(sum(amount) filter (where account = 'pending'), 0) as pending,
                         coalesce(sum(amount) filter (where account = 'held'), 0) as held
                  from postings p where p.tenant_id = b.tenant_id and p.member_id = b.member_id and p.wallet_id = b.wallet_id) s
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
      description: "every lot's remaining is the sum of its movements, between 0 and its amount",
      rows: sql`select l.tenant_id, l.lot_id, l.member_id, l.amount, l.remaining, coalesce(s.total, 0) as movements,
                  l.remaining = coalesce(s.total, 0)
                    and case when l.amount > 0 then l.remaining between 0 and l.amount else l.remaining between l.amount and 0 end as ok
                from lots l left join lateral (select sum(delta) as total from lot_movements m
                  where m.tenant_id = l.tenant_id and m.lot_id = l.lot_id) s on true
                where ${t('l')}`,
    },
    {
      // Against the journal, not the balance row (balances_follow_postings checks that): so a damaged
      // balance, lot or hold is reported once, by the check that reads it.
      name: 'lots_back_balances',
      description: "the journal's pending equals the pending lots' movements, available the matured lots' (debts included), held the active holds",
      rows: sql`select b.tenant_id, b.member_id, b.wallet_id, s.available as journal_available, s.pending as journal_pending,
                  s.held as journal_held, l.matured as lots_matured, l.pending as lots_pending, h.held as holds_active,
                  (s.available, s.pending, s.held) = (l.matured, l.pending, h.held) as ok
                from balances b
                cross join lateral (
                  select coalesce(sum(amount) filter (where account = 'available'), 0) as available,
                         coalesce(sum(amount) filter (where account = 'pending'), 0) as pending,
                         coalesce(sum(amount) filter (where account = 'held'), 0) as held
                  from postings p where p.tenant_id = b.tenant_id and p.member_id = b.member_id and p.wallet_id = b.wallet_id) s
                cross join lateral (select coalesce(sum(m.delta) filter (where not lots.pending), 0) as matured,
                                           coalesce(sum(m.delta) filter (where lots.pending), 0) as pending
                  from lots join lot_movements m on m.tenant_id = lots.tenant_id and m.lot_id = lots.lot_id
                  where lots.tenant_id = b.tenant_id and lots.member_id = b.member_id and lots.wallet_id = b.wallet_id) l
                cross join lateral (select coalesce(sum(amount), 0) as held from holds
                  where holds.tenant_id = b.tenant_id and holds.member_id = b.member_id and holds.wallet_id = b.wallet_id
                    and holds.status = 'active') h
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
                left join lateral (select sum(e.amount - coalesce(r.amount, 0)) as captured from journal_entries e
                  left join lateral (select sum(amount) as amount from journal_entries r
                    where r.tenant_id = e.tenant_id and r.reverses_entry_id = e.entry_id) r on true
                  where e.tenant_id = h.tenant_id and e.hold_id = h.hold_id and e.kind = 'redeem') c on true
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
      // A budget counts the awards made while it is set and gives back what returns take back:
      // so it lies between the awards net of returns and the awards alone (from 0 for an
      // unbudgeted rule, which counts nothing).
      name: 'budgets_follow_awards',
      description: "a budgeted rule's or campaign's budget used lies between its awards net of returns and its awards",
      rows: sql`select r.tenant_id, 'rule' as scope, r.rule_id as id, r.budget_used, coalesce(a.net, 0) as awards_net, coalesce(a.earned, 0) as awards_earned,
                  r.budget_used between case when v.definition -> 'limits' ->> 'budget' is null then 0 else greatest(coalesce(a.net, 0), 0) end
                    and coalesce(a.earned, 0) as ok
                from rules r
                join rule_versions v on v.tenant_id = r.tenant_id and v.rule_id = r.rule_id and v.version = r.version
                left join (select tenant_id, rule_id, sum(points) as net, sum(points) filter (where points > 0) as earned
                  from rule_awards where ${t('rule_awards')} group by tenant_id, rule_id) a on a.tenant_id = r.tenant_id and a.rule_id = r.rule_id
                where ${t('r')}
                union all
                select c.tenant_id, 'campaign', c.campaign_id, c.budget_used, coalesce(a.net, 0), coalesce(a.earned, 0),
                  c.budget_used between case when c.budget is null then 0 else greatest(coalesce(a.net, 0), 0) end and coalesce(a.earned, 0)
                from campaigns c left join (select tenant_id, campaign_id, sum(points) as net, sum(points) filter (where points > 0) as earned
                  from rule_awards where campaign_id is not null and ${t('rule_awards')} group by tenant_id, campaign_id) a
                  on a.tenant_id = c.tenant_id and a.campaign_id = c.campaign_id
                where ${t('c')}`,
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
