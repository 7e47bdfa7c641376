-- A return of a purchase whose points went into a household's pool takes them back from the
-- pool (services/ledger.ts reverseWithin): the reversal is recorded as the member's `returned`
-- pool entry, so the household's journal shows whose purchase came back.
alter table household_entries drop constraint household_entries_action_check;
alter table household_entries add constraint household_entries_action_check check (action in ('brought', 'earned', 'spent', 'returned'));
