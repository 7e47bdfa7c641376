// The database as one typed interface: a schema change that the code does not follow breaks the build.
import type { ColumnType, Kysely } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface TenantsTable {
  tenant_id: string;
  name: string;
  time_zone: string;
  currency: string;
  created_at: Timestamp;
  member_token_secret: string;
}

export interface ProgramsTable {
  tenant_id: string;
  program_id: string;
  name: string;
  enrollment_mode: 'universal' | 'opt_in';
  return_window_days: number;
  expiry_kind: 'none' | 'rolling' | 'fixed_date' | 'inactivity';
  expiry_months: number | null;
  expiry_month: number | null;
  expiry_day: number | null;
  expiry_years_after: number | null;
  negative_balance_policy: 'debt' | 'write_off';
  expiry_reminder_days: ColumnType<number | null, number | null | undefined, number | null>;
  point_value_points: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
  point_value_minor: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
  expired_rewards: ColumnType<'refund' | 'forfeit', 'refund' | 'forfeit' | undefined, 'refund' | 'forfeit'>;
  earn_on_paid_with_points: ColumnType<boolean, boolean | undefined, boolean>;
  enroll_by_email: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
}

export interface WalletsTable {
  tenant_id: string;
  wallet_id: string;
  program_id: string;
  code: string;
  kind: 'redeemable' | 'qualifying';
}

export interface MembersTable {
  tenant_id: string;
  member_id: string;
  program_id: string;
  external_id: string | null;
  email: string | null;
  phone: string | null;
  card_code: string | null;
  attributes: ColumnType<Record<string, unknown>, string, string>;
  birthday: ColumnType<string | null, string | null, string | null>;
  status: 'active' | 'suspended' | 'erased';
  tier: ColumnType<string | null, string | null | undefined, string | null>;
  grade: ColumnType<string | null, string | null | undefined, string | null>;
  tier_since: ColumnType<Date | null, Date | null | undefined, Date | null>;
  tier_grace_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  tier_review_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  enrolled_by_event: ColumnType<string | null, string | null | undefined, string | null>;
  welcome_due_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  enrolled_at: Timestamp;
  updated_at: Timestamp;
}

export interface BalancesTable {
  tenant_id: string;
  member_id: string;
  wallet_id: string;
  program_id: string;
  available: ColumnType<bigint, bigint | undefined, bigint>;
  pending: ColumnType<bigint, bigint | undefined, bigint>;
  held: ColumnType<bigint, bigint | undefined, bigint>;
  lifetime_earned: ColumnType<bigint, bigint | undefined, bigint>;
  lifetime_redeemed: ColumnType<bigint, bigint | undefined, bigint>;
  expired: ColumnType<bigint, bigint | undefined, bigint>;
  last_activity_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface JournalEntriesTable {
  tenant_id: string;
  entry_id: string;
  program_id: string;
  wallet_id: string;
  member_id: string;
  kind: string;
  amount: bigint;
  counterparty_id: string | null;
  hold_id: string | null;
  lot_id: string | null;
  reverses_entry_id: string | null;
  idempotency_key: string | null;
  ref: string | null;
  actor: string;
  reason: string | null;
  created_at: Timestamp;
}

export interface PostingsTable {
  tenant_id: string;
  entry_id: string;
  leg: number;
  wallet_id: string;
  member_id: string | null;
  account: string;
  amount: bigint;
}

export interface LotsTable {
  tenant_id: string;
  lot_id: string;
  program_id: string;
  wallet_id: string;
  member_id: string;
  entry_id: string;
  amount: bigint;
  remaining: bigint;
  pending: boolean;
  earned_at: Timestamp;
  available_at: Timestamp;
  expires_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

export interface LotMovementsTable {
  tenant_id: string;
  movement_id: string;
  entry_id: string;
  group_entry_id: string;
  lot_id: string;
  delta: bigint;
  created_at: Timestamp;
}

export interface LotExpiriesTable {
  tenant_id: string;
  entry_id: string;
  wallet_id: string;
  lot_ids: string[];
  amounts: ColumnType<string[], bigint[] | string[], never>;
  created_at: Timestamp;
}

export interface HoldsTable {
  tenant_id: string;
  hold_id: string;
  program_id: string;
  wallet_id: string;
  member_id: string;
  amount: bigint;
  status: 'active' | 'captured' | 'voided' | 'expired';
  hold_entry_id: string;
  expires_at: Timestamp;
  created_at: Timestamp;
  resolved_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
}

export interface IdempotencyKeysTable {
  tenant_id: string;
  key: string;
  operation: string;
  request_hash: string;
  /** rows written before response_text: the response as jsonb (its keys re-ordered) */
  response: ColumnType<unknown, string | null, string | null>;
  /** the response as written, replayed as it is */
  response_text: string | null;
  created_at: Timestamp;
}

export interface ApiKeysTable {
  tenant_id: string;
  key_id: string;
  name: string;
  scopes: string[];
  secret_hash: string;
  created_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  last_used_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface EventsTable {
  tenant_id: string;
  event_id: string;
  program_id: string;
  member_id: string;
  external_id: string;
  type: string;
  occurred_at: Timestamp;
  channel: string | null;
  location: string | null;
  currency: string | null;
  total: bigint | null;
  paid_with_points: bigint | null;
  refund_amount: bigint | null;
  order_ref: string | null;
  purchase_event_id: string | null;
  payload: ColumnType<Record<string, unknown>, string, string>;
  points: bigint;
  entry_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** the facts its rules saw (JSON with tagged bigints) */
  facts: ColumnType<unknown, string | null | undefined, string | null>;
  /** the rules that fired, with their inputs and amounts */
  explanation: ColumnType<unknown, string | undefined, string>;
  /** the journal entries it wrote: [{ wallet, entryId, amount }] */
  entries: ColumnType<unknown, string | undefined, string>;
  created_at: Timestamp;
  points_entry_id: ColumnType<string | null, string | null | undefined, string | null>;
  points_paid: ColumnType<bigint | null, bigint | null | undefined, bigint | null>;
  /** purchase: the rules an exclusive rule kept from firing, [{ ruleId, version }]; null: none */
  excluded_rules: ColumnType<unknown, string | null | undefined, string | null>;
}

export interface CampaignsTable {
  tenant_id: string;
  campaign_id: string;
  program_id: string;
  name: string;
  valid_from: Date | null;
  valid_to: Date | null;
  budget: bigint | null;
  per_member: ColumnType<unknown, string, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RulesTable {
  tenant_id: string;
  rule_id: string;
  program_id: string;
  trigger: string;
  enabled: boolean;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A member's purchases per month of the tenant's zone (migration 0113): what member.stats sums */
export interface MemberPurchaseMonthsTable {
  tenant_id: string;
  member_id: string;
  /** year × 12 + month − 1 */
  month: number;
  purchases: bigint;
  spend: bigint;
}

/** A budget's shards (migration 0112, core/rules/budget.ts) */
export interface BudgetShardsTable {
  tenant_id: string;
  scope: string;
  shard: number;
  budget: bigint | null;
  used: bigint;
  room: bigint;
}

export interface RuleVersionsTable {
  tenant_id: string;
  rule_id: string;
  version: number;
  definition: ColumnType<unknown, string, never>;
  actor: string;
  created_at: Timestamp;
}

export interface RuleAwardsTable {
  tenant_id: string;
  event_id: string;
  rule_id: string;
  version: number;
  campaign_id: string | null;
  member_id: string;
  occurred_at: Timestamp;
  wallet: string;
  points: bigint;
  /** a return's award: the purchase it belongs to */
  purchase_event_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface JobSchedulesTable {
  job: string;
  cron: string;
  time_zone: string;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  next_run_at: Timestamp;
  failures: ColumnType<number, number | undefined, number>;
  leased_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface JobRunsTable {
  run_id: string;
  job: string;
  trigger: 'schedule' | 'manual';
  status: 'running' | 'succeeded' | 'failed' | 'abandoned';
  worker: string;
  started_at: Timestamp;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  stats: ColumnType<unknown, string | null | undefined, string | null>;
  error: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface OutboxTable {
  tenant_id: string;
  message_id: string;
  type: string;
  dedupe_key: string;
  payload: ColumnType<unknown, string, string>;
  created_at: Timestamp;
  delivered_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: Timestamp;
}

export interface MemberActivityTable {
  tenant_id: string;
  event_id: string;
  program_id: string;
  member_id: string;
  occurred_at: Timestamp;
  qualifying_points: bigint;
  spend: bigint;
  visits: number;
}

/** tier_ladders and grading_schemes: one validated definition per program */
export interface ProgramDefinitionTable {
  tenant_id: string;
  program_id: string;
  definition: ColumnType<unknown, string, string>;
  actor: string;
  updated_at: Timestamp;
}

export interface TierHistoryTable {
  tenant_id: string;
  history_id: string;
  member_id: string;
  at: Timestamp;
  from_tier: string | null;
  to_tier: string;
  change: 'placed' | 'up' | 'kept' | 'grace' | 'down' | 'set';
  reason: string;
  event_id: string | null;
}

export interface GradeHistoryTable {
  tenant_id: string;
  history_id: string;
  member_id: string;
  at: Timestamp;
  from_grade: string | null;
  to_grade: string | null;
  reason: string;
}

export interface WebhookEndpointsTable {
  tenant_id: string;
  endpoint_id: string;
  url: string;
  description: string | null;
  /** whsec_…: signs every send, so it is kept in clear */
  secret: string;
  /** the message types it receives; empty: all */
  event_types: ColumnType<string[], string[] | undefined, string[]>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** one per outbox message and endpoint: the delivery log */
export interface WebhookDeliveriesTable {
  tenant_id: string;
  delivery_id: string;
  message_id: string;
  endpoint_id: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: ColumnType<number, number | undefined, number>;
  /** when a pending delivery may be sent next (or its lease ends); null once delivered or given up */
  next_attempt_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  last_attempt_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  last_status_code: ColumnType<number | null, number | null | undefined, number | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  delivered_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: Timestamp;
}

export interface RewardIssueCountsTable {
  tenant_id: string;
  reward_id: string;
  shard: number;
  n: ColumnType<bigint, bigint | number, bigint>;
}

export interface RewardsTable {
  tenant_id: string;
  reward_id: string;
  program_id: string;
  code: string;
  definition: ColumnType<unknown, string, string>;
  issued: ColumnType<bigint, bigint | undefined, bigint>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type InstanceStatus = 'reserved' | 'issued' | 'consumed' | 'cancelled' | 'expired';

export interface RewardInstancesTable {
  tenant_id: string;
  instance_id: string;
  program_id: string;
  reward_id: string;
  member_id: string;
  code: string;
  status: InstanceStatus;
  cost: bigint;
  value: ColumnType<unknown, string, string>;
  partner_code: string | null;
  channel: string | null;
  entry_id: string | null;
  hold_id: string | null;
  issued_at: Timestamp;
  expires_at: ColumnType<Date | null, Date | null, Date | null>;
  resolved_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  consumed_ref: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PartnerCodesTable {
  tenant_id: string;
  reward_id: string;
  code: string;
  instance_id: string | null;
  imported_at: Timestamp;
}

export type Role = 'owner' | 'marketer' | 'support' | 'finance' | 'viewer';

export interface ConsoleUsersTable {
  tenant_id: string;
  user_id: string;
  email: string;
  name: string;
  role: Role;
  password_hash: string;
  failed_attempts: ColumnType<number, number | undefined, number>;
  locked_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  disabled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Timestamp;
}

export interface ConsoleSessionsTable {
  token_hash: string;
  tenant_id: string;
  user_id: string;
  csrf_token: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface AuditLogTable {
  tenant_id: string;
  audit_id: string;
  actor: string;
  actor_name: string;
  method: string;
  route: string;
  path: string;
  status: number;
  request: ColumnType<unknown, string | null, never>;
  before: ColumnType<unknown, string | null, never>;
  after: ColumnType<unknown, string | null, never>;
  created_at: Timestamp;
}

export type ReferralState = 'pending' | 'qualified' | 'rewarded' | 'rejected' | 'reversed';

export interface ReferralSettingsTable {
  tenant_id: string;
  program_id: string;
  enabled: boolean;
  settings: ColumnType<unknown, string, string>;
  updated_at: Timestamp;
  updated_by: string;
}

export interface ReferralCodesTable {
  tenant_id: string;
  member_id: string;
  program_id: string;
  code: string;
  created_at: Timestamp;
}

type Maybe<T> = ColumnType<T | null, T | null | undefined, T | null>;

export interface ReferralsTable {
  tenant_id: string;
  referral_id: string;
  program_id: string;
  referrer_id: string;
  referee_id: string;
  code: string;
  state: ReferralState;
  reason: Maybe<string>;
  detail: Maybe<string>;
  joined_at: Timestamp;
  expires_at: Maybe<Date>;
  qualified_at: Maybe<Date>;
  qualifying_external_id: Maybe<string>;
  reward_at: Maybe<Date>;
  rewarded_at: Maybe<Date>;
  rejected_at: Maybe<Date>;
  reversed_at: Maybe<Date>;
  referrer_points: ColumnType<bigint, bigint | undefined, bigint>;
  referee_points: ColumnType<bigint, bigint | undefined, bigint>;
  referrer_entry_id: Maybe<string>;
  referee_entry_id: Maybe<string>;
  referrer_instance_id: Maybe<string>;
  referee_instance_id: Maybe<string>;
}

export interface ReferralSignalsTable {
  tenant_id: string;
  program_id: string;
  kind: 'device' | 'payment';
  hash: string;
  member_id: string;
}

export interface AccountingSettingsTable {
  tenant_id: string;
  program_id: string;
  currency: string;
  point_value_points: bigint;
  point_value_minor: bigint;
  rate_method: 'manual' | 'estimated';
  min_history_months: number;
  lifetime_fee_months: number;
  gl_accounts: ColumnType<Record<string, string>, string, string>;
  updated_at: Timestamp;
}

export interface AccountingRatesTable {
  tenant_id: string;
  program_id: string;
  effective_from: Timestamp;
  period: string;
  rate_bps: number;
  method: 'manual' | 'estimated';
  inputs: ColumnType<unknown, string | null, string | null>;
  set_at: Timestamp;
  set_by: string;
}

export interface AccountingEntriesTable {
  tenant_id: string;
  entry_id: string;
  program_id: string;
  kind: 'allocation' | 'allocation_reversal' | 'fee' | 'fee_refund';
  member_id: string | null;
  event_id: string | null;
  purchase_event_id: string | null;
  ledger_entry_id: string | null;
  points: bigint;
  amount: bigint;
  price: bigint | null;
  ssp_micro: bigint | null;
  rate_bps: number | null;
  carry_micro: bigint | null;
  fee_ref: string | null;
  service_start: Timestamp | null;
  service_end: Timestamp | null;
  refunded_fee_ref: string | null;
  fee_rest: bigint | null;
  posted_at: Timestamp;
}

export interface AccountingClosesTable {
  tenant_id: string;
  program_id: string;
  month: string;
  start_at: Timestamp;
  end_at: Timestamp;
  state: ColumnType<unknown, string, never>;
  closed_at: Timestamp;
  closed_by: string;
}

export interface ProgramAnalyticsTable {
  tenant_id: string;
  program_id: string;
  control_share_bp: number;
  gross_margin_bp: number;
  holdout_salt: ColumnType<string | null, string | null | undefined, string | null>;
  actor: string;
  updated_at: Timestamp;
}

export interface RecognitionProgramsTable {
  tenant_id: string;
  program_id: string;
  giving_wallet: string;
  receiving_wallet: string;
  allowance: bigint;
  period: 'week' | 'month' | 'quarter';
  carry_over: boolean;
  max_gift: bigint;
  approval_threshold: bigint | null;
  value_tags: ColumnType<string[], string, string>;
  updated_at: Timestamp;
}

export interface RecognitionAllowancesTable {
  tenant_id: string;
  program_id: string;
  member_id: string;
  period_start: Timestamp;
  period_end: Timestamp;
  entry_id: string;
  amount: bigint;
  created_at: Timestamp;
}

export interface RecognitionGiftsTable {
  tenant_id: string;
  gift_id: string;
  program_id: string;
  giver_id: string;
  receiver_id: string;
  amount: bigint;
  message: string;
  value_tag: string;
  status: 'pending' | 'approved' | 'declined';
  spend_entry_id: string;
  credit_entry_id: string | null;
  return_entry_id: string | null;
  decided_by: string | null;
  decided_at: Timestamp | null;
  note: string | null;
  created_at: Timestamp;
}

export interface HouseholdsTable {
  tenant_id: string;
  household_id: string;
  program_id: string;
  name: string;
  account_member_id: string;
  created_at: Timestamp;
}

export interface HouseholdMembersTable {
  tenant_id: string;
  membership_id: string;
  household_id: string;
  member_id: string;
  can_spend: boolean;
  joined_at: Timestamp;
  left_at: Timestamp | null;
}

export interface HouseholdEntriesTable {
  tenant_id: string;
  entry_id: string;
  household_id: string;
  member_id: string;
  action: 'brought' | 'earned' | 'spent' | 'returned';
}

export interface AchievementsTable {
  tenant_id: string;
  achievement_id: string;
  program_id: string;
  code: string;
  enabled: boolean;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AchievementVersionsTable {
  tenant_id: string;
  achievement_id: string;
  version: number;
  definition: ColumnType<unknown, string, never>;
  actor: string;
  created_at: Timestamp;
}

export interface AchievementTalliesTable {
  tenant_id: string;
  achievement_id: string;
  member_id: string;
  period: number;
  key: string;
  value: bigint;
}

export interface AchievementContributionsTable {
  tenant_id: string;
  purchase_event_id: string;
  event_id: string;
  member_id: string;
  achievement_ids: string[];
  periods: number[];
  keys: string[];
  amounts: string[];
}

export interface AchievementUnlocksTable {
  tenant_id: string;
  unlock_id: string;
  achievement_id: string;
  version: number;
  program_id: string;
  member_id: string;
  period: number;
  cycle: number;
  threshold: bigint | null;
  event_id: string | null;
  unlocked_at: Timestamp;
  points: bigint | null;
  entry_id: string | null;
  instance_id: string | null;
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  revoked_by: string | null;
}

export interface AchievementBackfillsTable {
  tenant_id: string;
  backfill_id: string;
  achievement_id: string;
  program_id: string;
  status: 'pending' | 'done';
  cursor: string | null;
  members_done: ColumnType<bigint, bigint | undefined, bigint>;
  unlocks_found: ColumnType<bigint, bigint | undefined, bigint>;
  actor: string;
  created_at: Timestamp;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

type NullableTime = ColumnType<Date | null, Date | string | null, Date | string | null>;

export interface MembershipPlansTable {
  tenant_id: string;
  plan_id: string;
  program_id: string;
  code: string;
  name: string;
  fee: bigint;
  currency: string;
  period: 'monthly' | 'annual' | 'lifetime';
  trial_days: number;
  grace_days: number;
  benefits: ColumnType<unknown, string, string>;
  stripe_price_id: string | null;
  created_at: Timestamp;
}

export interface MembershipsTable {
  tenant_id: string;
  membership_id: string;
  program_id: string;
  member_id: string;
  plan_id: string;
  status: 'trialing' | 'active' | 'past_due' | 'cancelled' | 'expired';
  since: Timestamp;
  period_start: NullableTime;
  period_end: NullableTime;
  trial_ends_at: NullableTime;
  past_due_since: NullableTime;
  cancel_at_period_end: boolean;
  expires_at: NullableTime;
  changed_at: Timestamp;
  provider: string;
  external_id: string;
  customer_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface MembershipTransitionsTable {
  tenant_id: string;
  transition_id: string;
  membership_id: string;
  from_status: string | null;
  to_status: string;
  cause: string;
  event_id: string | null;
  at: Timestamp;
  recorded_at: Timestamp;
}

export interface MembershipFeesTable {
  tenant_id: string;
  fee_id: string;
  program_id: string;
  membership_id: string;
  member_id: string;
  plan_id: string;
  amount: bigint;
  currency: string;
  period_start: NullableTime;
  period_end: NullableTime;
  provider: string;
  external_id: string;
  event_id: string;
  occurred_at: Timestamp;
  recorded_at: Timestamp;
}

export interface MembershipRewardPeriodsTable {
  tenant_id: string;
  membership_id: string;
  period_start: Timestamp;
  period_end: NullableTime;
  instance_ids: string[];
  event_id: string | null;
  issued_at: Timestamp;
}

export interface MembershipPaymentEventsTable {
  tenant_id: string;
  program_id: string;
  provider: string;
  event_id: string;
  type: string;
  membership_id: string | null;
  outcome: string;
  received_at: Timestamp;
}

export interface StripeSettingsTable {
  tenant_id: string;
  program_id: string;
  webhook_secret: string;
  updated_at: Timestamp;
}

export interface Database {
  tenants: TenantsTable;
  programs: ProgramsTable;
  wallets: WalletsTable;
  members: MembersTable;
  balances: BalancesTable;
  journal_entries: JournalEntriesTable;
  postings: PostingsTable;
  lots: LotsTable;
  lot_movements: LotMovementsTable;
  lot_expiries: LotExpiriesTable;
  holds: HoldsTable;
  idempotency_keys: IdempotencyKeysTable;
  api_keys: ApiKeysTable;
  events: EventsTable;
  campaigns: CampaignsTable;
  rules: RulesTable;
  budget_shards: BudgetShardsTable;
  member_purchase_months: MemberPurchaseMonthsTable;
  rule_versions: RuleVersionsTable;
  rule_awards: RuleAwardsTable;
  job_schedules: JobSchedulesTable;
  job_runs: JobRunsTable;
  outbox: OutboxTable;
  member_activity: MemberActivityTable;
  tier_ladders: ProgramDefinitionTable;
  tier_history: TierHistoryTable;
  grading_schemes: ProgramDefinitionTable;
  grade_history: GradeHistoryTable;
  rewards: RewardsTable;
  reward_instances: RewardInstancesTable;
  reward_issue_counts: RewardIssueCountsTable;
  partner_codes: PartnerCodesTable;
  schema_migrations: SchemaMigrationsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  console_users: ConsoleUsersTable;
  console_sessions: ConsoleSessionsTable;
  audit_log: AuditLogTable;
  referral_settings: ReferralSettingsTable;
  referral_codes: ReferralCodesTable;
  referrals: ReferralsTable;
  referral_signals: ReferralSignalsTable;
  accounting_settings: AccountingSettingsTable;
  accounting_rates: AccountingRatesTable;
  accounting_entries: AccountingEntriesTable;
  accounting_closes: AccountingClosesTable;
  membership_plans: MembershipPlansTable;
  memberships: MembershipsTable;
  membership_transitions: MembershipTransitionsTable;
  membership_fees: MembershipFeesTable;
  membership_payment_events: MembershipPaymentEventsTable;
  membership_reward_periods: MembershipRewardPeriodsTable;
  stripe_settings: StripeSettingsTable;
  program_analytics: ProgramAnalyticsTable;
  recognition_programs: RecognitionProgramsTable;
  recognition_allowances: RecognitionAllowancesTable;
  recognition_gifts: RecognitionGiftsTable;
  households: HouseholdsTable;
  household_members: HouseholdMembersTable;
  household_entries: HouseholdEntriesTable;
  achievements: AchievementsTable;
  achievement_versions: AchievementVersionsTable;
  achievement_tallies: AchievementTalliesTable;
  achievement_contributions: AchievementContributionsTable;
  achievement_unlocks: AchievementUnlocksTable;
  achievement_backfills: AchievementBackfillsTable;
}

export type Db = Kysely<Database>;
