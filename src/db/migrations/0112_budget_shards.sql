-- A budget was one column on its rule or campaign, and every event drawing on it locked that row
-- until it committed: a campaign every purchase touches let one purchase through at a time. Now a
-- budget is 16 shards (core/rules/budget.ts). An event locks its member's shard and takes from
-- that shard's room while it holds enough; an event that needs more runs again holding all 16, and
-- spreads what is left over them again. Σ used is the budget used; no shard's room is negative and
-- the rooms add up to at most what the budget has left, so no interleaving gives out more.
-- Every shard carries the budget (null: none now, what was used is kept), so the event that holds
-- all of them judges by the budget as it stands, whatever version of the rule it read.
create table budget_shards (
  tenant_id uuid not null,
  scope     text not null check (scope ~ '^(rule|campaign):[0-9a-f-]{36}$'),
  shard     smallint not null check (shard >= 0 and shard < 16),
  budget    bigint check (budget >= 0),
  used      bigint not null check (used >= 0),
  room      bigint not null check (room >= 0),
  primary key (tenant_id, scope, shard)
);

-- What each budget used so far goes to its shard 0; what it has left is spread over the 16.
with budgets as (
  select r.tenant_id, 'rule:' || r.rule_id as scope, (v.definition -> 'limits' ->> 'budget')::bigint as budget, r.budget_used as used
  from rules r join rule_versions v on v.tenant_id = r.tenant_id and v.rule_id = r.rule_id and v.version = r.version
  union all
  select c.tenant_id, 'campaign:' || c.campaign_id, c.budget, c.budget_used from campaigns c
)
insert into budget_shards (tenant_id, scope, shard, budget, used, room)
select b.tenant_id, b.scope, s.shard, b.budget, case when s.shard = 0 then b.used else 0 end,
  case when b.budget is null or b.budget <= b.used then 0
       else (b.budget - b.used) / 16 + case when s.shard < (b.budget - b.used) % 16 then 1 else 0 end end
from budgets b cross join generate_series(0, 15) as s(shard)
where b.budget is not null or b.used > 0;

alter table rules drop column budget_used;
alter table campaigns drop column budget_used;
