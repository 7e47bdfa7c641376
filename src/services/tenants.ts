// Tenants (brands) and their programs.
import { randomBytes } from 'node:crypto';
import { DateTime } from 'luxon';
import { DomainError, invalid, notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { isValidTimeZone, validateEarnOnPaidWithPoints, validateEnrollByEmail, validateExpiredRewards, validatePointValue, validateProgram, type ExpiryPolicy, type ProgramInput, type WalletSpec } from '../core/program.js';
import { expiryPolicyOf } from '../db/ledger.js';
import type { Trx } from '../db/ledger.js';
import { insertApiKey, newSecret, withoutSecret, type NewApiKey } from './api-keys.js';
import type { Laurel } from './context.js';
import { writeOnce } from './idempotency.js';
import { requireId, requireText } from './validate.js';

export interface Tenant {
  tenantId: string;
  name: string;
  timeZone: string;
  currency: string;
  createdAt: Date;
}

export interface Program extends Omit<ProgramInput, 'wallets'> {
  tenantId: string;
  programId: string;
  wallets: (WalletSpec & { walletId: string })[];
  createdAt: Date;
}

const CURRENCY = /^[A-Z]{3}$/;

/**
 * Operator requests (creating a tenant) keep their idempotency records under the nil uuid, a
 * tenant id no tenant has (tenant ids are UUIDv7): there is one operator per deployment.
 */
export const OPERATOR_SCOPE = '00000000-0000-0000-0000-000000000000';

type TenantInput = { name: string; timeZone: string; currency: string };

function validTenant(input: TenantInput): TenantInput {
  const name = requireText(input.name, 'name', 200);
  if (!isValidTimeZone(input.timeZone)) throw invalid('timeZone', 'timeZone must be an IANA time zone such as Europe/Paris');
  if (typeof input.currency !== 'string' || !CURRENCY.test(input.currency)) throw invalid('currency', 'currency must be an ISO 4217 code such as EUR');
  return { name, timeZone: DateTime.local().setZone(input.timeZone).zoneName!, currency: input.currency };
}

async function insertTenant(trx: Trx, input: TenantInput, now: Date): Promise<Tenant> {
  const tenant: Tenant = { tenantId: uuidv7(now.getTime()), ...input, createdAt: now };
  await trx.insertInto('tenants').values({
    tenant_id: tenant.tenantId, name: tenant.name, time_zone: tenant.timeZone, currency: tenant.currency, created_at: now,
    member_token_secret: randomBytes(32).toString('hex'),
  }).execute();
  return tenant;
}

export async function createTenant(laurel: Laurel, input: TenantInput): Promise<Tenant> {
  const valid = validTenant(input);
  return laurel.db.transaction().execute((trx) => insertTenant(trx, valid, laurel.clock.now()));
}

/**
 * A new tenant and its first admin key, in one transaction. With an idempotency key, a retry
 * creates nothing and answers the first tenant and key, the key's secret withheld (only its hash
 * is kept).
 */
export async function openTenant(laurel: Laurel, input: TenantInput, idempotencyKey?: string): Promise<{ tenant: Tenant; apiKey: NewApiKey }> {
  const valid = validTenant(input);
  const secret = newSecret(undefined);
  return writeOnce(laurel, OPERATOR_SCOPE, idempotencyKey, 'create_tenant', valid, async (trx, now) => {
    const tenant = await insertTenant(trx, valid, now);
    return { tenant, apiKey: await insertApiKey(trx, tenant.tenantId, { name: 'first admin key', scopes: ['admin'], secret }, now) };
  }, { replayed: (r) => ({ ...r, apiKey: withoutSecret(r.apiKey) }) });
}

export async function getTenant(laurel: Laurel, tenantId: string): Promise<Tenant> {
  const row = await laurel.db.selectFrom('tenants').selectAll().where('tenant_id', '=', requireId(tenantId, 'tenantId', 'tenant')).executeTakeFirst();
  if (!row) throw notFound('tenant', 'tenantId');
  return tenantOf(row);
}

const tenantOf = (row: { tenant_id: string; name: string; time_zone: string; currency: string; created_at: Date }): Tenant =>
  ({ tenantId: row.tenant_id, name: row.name, timeZone: row.time_zone, currency: row.currency, createdAt: row.created_at });

/** Every tenant, oldest first: what an operator looks through (`laurel tenants list`). */
export async function listTenants(laurel: Laurel): Promise<Tenant[]> {
  const rows = await laurel.db.selectFrom('tenants').select(['tenant_id', 'name', 'time_zone', 'currency', 'created_at']).orderBy('tenant_id').execute();
  return rows.map(tenantOf);
}

function expiryColumns(expiry: ExpiryPolicy) {
  return {
    expiry_kind: expiry.kind,
    expiry_months: expiry.kind === 'rolling' || expiry.kind === 'inactivity' ? expiry.months : null,
    expiry_month: expiry.kind === 'fixed_date' ? expiry.month : null,
    expiry_day: expiry.kind === 'fixed_date' ? expiry.day : null,
    expiry_years_after: expiry.kind === 'fixed_date' ? expiry.yearsAfter : null,
  };
}

/**
 * Creates a program (what it earns is its rules'); with an idempotency key, a retry returns the
 * program the first call made.
 */
export async function createProgram(laurel: Laurel, tenantId: string, input: ProgramInput, idempotencyKey?: string): Promise<Program> {
  await getTenant(laurel, tenantId);
  const valid = validateProgram(input);
  return writeOnce(laurel, tenantId, idempotencyKey, 'create_program', valid, async (trx, now) => {
    const program: Program = {
      ...valid, tenantId, programId: uuidv7(now.getTime()), createdAt: now,
      wallets: valid.wallets.map((w) => ({ ...w, walletId: uuidv7(now.getTime()) })),
    };
    await trx.insertInto('programs').values({
      tenant_id: tenantId, program_id: program.programId, name: program.name, enrollment_mode: program.enrollmentMode,
      return_window_days: program.returnWindowDays, negative_balance_policy: program.negativeBalance,
      expiry_reminder_days: program.expiryReminderDays ?? null,
      point_value_points: program.pointValue?.points ?? null, point_value_minor: program.pointValue?.minor ?? null,
      expired_rewards: program.expiredRewards ?? 'forfeit', enroll_by_email: program.enrollByEmail ?? true,
      earn_on_paid_with_points: program.earnOnPaidWithPoints ?? false,
      created_at: program.createdAt, ...expiryColumns(program.expiry),
    }).execute();
    await trx.insertInto('wallets').values(program.wallets.map((w) => ({
      tenant_id: tenantId, wallet_id: w.walletId, program_id: program.programId, code: w.code, kind: w.kind,
    }))).execute();
    return program;
  });
}

export async function getProgram(laurel: Laurel, tenantId: string, programId: string): Promise<Program> {
  const id = requireId(programId, 'programId', 'program');
  const row = await laurel.db.selectFrom('programs').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', id).executeTakeFirst();
  if (!row) throw notFound('program', 'programId');
  const wallets = await laurel.db.selectFrom('wallets').selectAll().where('tenant_id', '=', tenantId).where('program_id', '=', id).orderBy('code').execute();
  return {
    tenantId, programId: row.program_id, name: row.name, enrollmentMode: row.enrollment_mode, enrollByEmail: row.enroll_by_email,
    returnWindowDays: row.return_window_days, negativeBalance: row.negative_balance_policy, expiryReminderDays: row.expiry_reminder_days,
    expiry: expiryPolicyOf(row), createdAt: row.created_at,
    pointValue: row.point_value_points === null ? null : { points: BigInt(row.point_value_points), minor: BigInt(row.point_value_minor!) },
    expiredRewards: row.expired_rewards, earnOnPaidWithPoints: row.earn_on_paid_with_points,
    wallets: wallets.map((w) => ({ walletId: w.wallet_id, code: w.code, kind: w.kind })),
  };
}

export type ProgramSettings = Partial<Pick<ProgramInput, 'pointValue' | 'expiredRewards' | 'expiryReminderDays' | 'enrollByEmail' | 'earnOnPaidWithPoints'>>;

/** Changes the settings a program may change after it started (its wallets and earning policies stay). */
export async function updateProgramSettings(laurel: Laurel, tenantId: string, programId: string, patch: ProgramSettings): Promise<Program> {
  const program = await getProgram(laurel, tenantId, programId);
  const set: Record<string, unknown> = {};
  if (patch.pointValue !== undefined) {
    const value = validatePointValue(patch.pointValue);
    set.point_value_points = value?.points ?? null;
    set.point_value_minor = value?.minor ?? null;
  }
  if (patch.expiredRewards !== undefined) set.expired_rewards = validateExpiredRewards(patch.expiredRewards);
  if (patch.enrollByEmail !== undefined) set.enroll_by_email = validateEnrollByEmail(patch.enrollByEmail);
  if (patch.earnOnPaidWithPoints !== undefined) set.earn_on_paid_with_points = validateEarnOnPaidWithPoints(patch.earnOnPaidWithPoints);
  if (patch.expiryReminderDays !== undefined) {
    const days = patch.expiryReminderDays;
    if (days !== null && (!Number.isInteger(days) || days < 1 || days > 365)) throw invalid('expiryReminderDays', 'expiryReminderDays must be an integer from 1 to 365, or null');
    set.expiry_reminder_days = days;
  }
  if (Object.keys(set).length > 0) {
    await laurel.db.updateTable('programs').set(set).where('tenant_id', '=', tenantId).where('program_id', '=', program.programId).execute();
  }
  return getProgram(laurel, tenantId, program.programId);
}

export { DomainError };

export async function listPrograms(laurel: Laurel, tenantId: string): Promise<Program[]> {
  const rows = await laurel.db.selectFrom('programs').select('program_id').where('tenant_id', '=', tenantId).orderBy('program_id').execute();
  return Promise.all(rows.map((r) => getProgram(laurel, tenantId, r.program_id)));
}
