-- An event's contributions to its member's achievements were a row each (achievement, period,
-- key): ten achievements made ten rows and twenty index entries per purchase, more bytes than the
-- event's own ledger rows. Now an event's contributions are one row: parallel arrays, element i
-- adding amounts[i] to the tally (achievement_ids[i], periods[i], keys[i]). The key leads with the
-- purchase, so one index finds a purchase's row and its returns' rows (a return's row is its own
-- event's, under the purchase it takes from).
alter table achievement_contributions rename to achievement_contributions_0040;

create table achievement_contributions (
  tenant_id          uuid not null,
  purchase_event_id  uuid not null,      -- the purchase or action whose contributions these are (itself, or the one a return takes from)
  event_id           uuid not null,
  member_id          uuid not null,
  achievement_ids    uuid[] not null,
  periods            integer[] not null,
  keys               text[] not null,
  amounts            bigint[] not null,
  primary key (tenant_id, purchase_event_id, event_id),
  check (cardinality(achievement_ids) > 0 and cardinality(periods) = cardinality(achievement_ids)
         and cardinality(keys) = cardinality(achievement_ids) and cardinality(amounts) = cardinality(achievement_ids))
);

insert into achievement_contributions (tenant_id, purchase_event_id, event_id, member_id, achievement_ids, periods, keys, amounts)
select tenant_id, purchase_event_id, event_id, min(member_id::text)::uuid,
       array_agg(achievement_id order by achievement_id, period, key), array_agg(period order by achievement_id, period, key),
       array_agg(key order by achievement_id, period, key), array_agg(value order by achievement_id, period, key)
from achievement_contributions_0040
group by tenant_id, purchase_event_id, event_id;

drop table achievement_contributions_0040;
