-- A return's awards name the purchase they belong to: a per-member cap's `times` counts the
-- purchases whose award in its scope the member still keeps (an award taken back whole, by a
-- full return or by a partial one that no longer qualifies, frees its time).
alter table rule_awards add column purchase_event_id uuid;
update rule_awards a set purchase_event_id = e.purchase_event_id
  from events e
  where e.tenant_id = a.tenant_id and e.event_id = a.event_id and e.purchase_event_id is not null;

-- The rules an exclusive rule kept from firing on a purchase ([{ ruleId, version }]): when a
-- return drops the exclusive rule below its condition, what is left earns through them instead.
alter table events add column excluded_rules jsonb;
