// One Laurel per test file, on PGlite in memory or, when DATABASE_URL is set, on PostgreSQL.
// Each test makes its own tenant, so files never see each other's data.
import { expect } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import type { ProgramInput } from '../../src/core/program.js';
import { verifyLedger, formatReport } from '../../src/db/verify.js';
import { openLaurel, type Laurel } from '../../src/services/context.js';
import { createMember } from '../../src/services/members.js';
import { createProgram, createTenant, type Program } from '../../src/services/tenants.js';

export const onPostgres = Boolean(process.env.DATABASE_URL);

export async function openTestLaurel(start = '2026-01-15T10:00:00Z'): Promise<Laurel & { clock: ManualClock }> {
  const clock = new ManualClock(start);
  const laurel = await openLaurel({ databaseUrl: process.env.DATABASE_URL, dataDir: 'memory://', poolSize: 60 }, clock);
  return { ...laurel, clock };
}

export const basicProgram: ProgramInput = {
  name: 'Test rewards',
  enrollmentMode: 'opt_in',
  wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'status', kind: 'qualifying' }],
  returnWindowDays: 0,
  expiry: { kind: 'none' },
  negativeBalance: 'debt',
};

export async function newProgram(laurel: Laurel, overrides: Partial<ProgramInput> = {}, timeZone = 'Europe/Paris'): Promise<Program> {
  const tenant = await createTenant(laurel, { name: 'Tenant', timeZone, currency: 'EUR' });
  return createProgram(laurel, tenant.tenantId, { ...basicProgram, ...overrides });
}

let serial = 0;
export async function newMember(laurel: Laurel, program: Program): Promise<string> {
  const m = await createMember(laurel, program.tenantId, { programId: program.programId, externalId: `m-${Date.now()}-${++serial}` });
  return m.memberId;
}

let keys = 0;
export const key = (): string => `k-${process.pid}-${Date.now()}-${++keys}`;

export async function expectVerified(laurel: Laurel, tenantId?: string): Promise<void> {
  const report = await verifyLedger(laurel.db, laurel.clock.now(), tenantId ?? null);
  expect(report.ok, formatReport(report)).toBe(true);
}

export interface LotView {
  amount: bigint;
  remaining: bigint;
  pending: boolean;
  expiresAt: string | null;
}

/** A member's lots, oldest first, as plain values a test can compare. */
export async function lotsOf(laurel: Laurel, tenantId: string, memberId: string): Promise<LotView[]> {
  const rows = await laurel.db.selectFrom('lots').select(['amount', 'remaining', 'pending', 'expires_at', 'earned_at', 'lot_id'])
    .where('tenant_id', '=', tenantId).where('member_id', '=', memberId).orderBy('earned_at').orderBy('lot_id').execute();
  return rows.map((r) => ({ amount: r.amount, remaining: r.remaining, pending: r.pending, expiresAt: r.expires_at?.toISOString() ?? null }));
}
