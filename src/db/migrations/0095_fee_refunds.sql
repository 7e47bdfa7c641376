-- A refunded membership fee in the accounting journal (IFRS 15): one `fee_refund` entry per
-- refund, posted when it is recorded. Its amount is the money given back (negative); fee_rest is
-- the part of the refunded fee still deferred at the refund (the service ends there): that part
-- stops being recognised, straight-line over what was left of the service period (service_start
-- to service_end), so the fee's revenue comes to what was kept. See docs/accounting.md.
alter table accounting_entries drop constraint accounting_entries_kind_check;
alter table accounting_entries add constraint accounting_entries_kind_check
  check (kind in ('allocation', 'allocation_reversal', 'fee', 'fee_refund'));
alter table accounting_entries add column refunded_fee_ref text;  -- fee_refund: the fee_ref of the fee it refunds
alter table accounting_entries add column fee_rest bigint;        -- fee_refund: that fee's deferred part at the refund
create unique index accounting_entries_fee_refund on accounting_entries (tenant_id, program_id, fee_ref) where kind = 'fee_refund';
