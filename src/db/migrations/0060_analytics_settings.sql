-- Analytics and ROI settings of a program (SPEC §11). control_share_bp: the share of customers,
-- in basis points, kept in the holdout (control group): they are members, their events are
-- recorded, but they earn nothing. Who is in it is a hash of the salt (null: the program's id)
-- and the customer's external id (core/analytics/holdout.ts), so it needs no column on members
-- and never drifts; a new salt draws a new control group. gross_margin_bp: the gross margin of
-- the shop's sales, for ROI.
create table program_analytics (
  tenant_id         uuid not null,
  program_id        uuid not null,
  control_share_bp  integer not null default 0 check (control_share_bp between 0 and 5000),
  gross_margin_bp   integer not null default 10000 check (gross_margin_bp between 0 and 10000),
  holdout_salt      text check (length(holdout_salt) between 1 and 100),
  actor             text not null,
  updated_at        timestamptz not null,
  primary key (tenant_id, program_id),
  foreign key (tenant_id, program_id) references programs
);
