-- `member.stats` (rule conditions, reward segments) counted a member's purchases and spend by
-- reading every purchase event of theirs, on each event that asked: the longer a member's history,
-- the slower their purchases. Now each purchase event adds itself to its member's month, in the
-- tenant's time zone (a tenant's zone never changes), in the statement that writes the event; the
-- stats sum at most one row per month of history. The months are the exact buckets the stats ask
-- about: all of them, those from the start of the year, those from the start of the month.
create function laurel_month_of(at timestamptz, zone text) returns integer as $$
  select (extract(year from at at time zone zone) * 12 + extract(month from at at time zone zone) - 1)::integer
$$ language sql stable;

create table member_purchase_months (
  tenant_id uuid not null,
  member_id uuid not null,
  month     integer not null, -- year × 12 + month − 1
  purchases bigint not null check (purchases > 0),
  spend     bigint not null,
  primary key (tenant_id, member_id, month)
);

insert into member_purchase_months (tenant_id, member_id, month, purchases, spend)
select e.tenant_id, e.member_id, laurel_month_of(e.occurred_at, t.time_zone), count(*), coalesce(sum(e.total), 0)
from events e join tenants t on t.tenant_id = e.tenant_id
where e.type = 'purchase' and e.member_id is not null
group by 1, 2, 3;
