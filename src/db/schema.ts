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
  created_at: Timestamp;
  base_points: ColumnType<bigint, bigint | undefined, bigint>;
  base_per_minor: ColumnType<bigint, bigint | undefined, bigint>;
  /** action name → points, as JSON numbers */
  custom_action_points: ColumnType<Record<string, number>, string | undefined, string>;
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
  response: ColumnType<unknown, string, string>;
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
  base_points: bigint | null;
  base_per_minor: bigint | null;
  payload: ColumnType<Record<string, unknown>, string, string>;
  points: bigint;
  ledger_key: string | null;
  entry_id: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: Timestamp;
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
  holds: HoldsTable;
  idempotency_keys: IdempotencyKeysTable;
  api_keys: ApiKeysTable;
  events: EventsTable;
  schema_migrations: SchemaMigrationsTable;
}

export type Db = Kysely<Database>;
