// A fresh tenant, program and members for each run, made through the services.
import type { ProgramInput } from '../src/core/program.js';
import type { Laurel } from '../src/services/context.js';
import { createMember } from '../src/services/members.js';
import { createProgram, createTenant, type Program } from '../src/services/tenants.js';

/** No return window and no expiry: an earn credits available points at once, and no lot is ever due. */
export const benchProgram: ProgramInput = {
  name: 'Bench rewards',
  enrollmentMode: 'opt_in',
  wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'status', kind: 'qualifying' }],
  returnWindowDays: 0,
  expiry: { kind: 'none' },
  negativeBalance: 'debt',
};

export interface Fixture {
  tenantId: string;
  program: Program;
  runId: string;
}

export async function newFixture(laurel: Laurel, runId: string, label: string): Promise<Fixture> {
  const tenant = await createTenant(laurel, { name: `bench ${runId} ${label}`, timeZone: 'Europe/Paris', currency: 'EUR' });
  const program = await createProgram(laurel, tenant.tenantId, benchProgram);
  return { tenantId: tenant.tenantId, program, runId };
}

let serial = 0;

export async function newMembers(laurel: Laurel, fx: Fixture, count: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const m = await createMember(laurel, fx.tenantId, { programId: fx.program.programId, externalId: `bench-${fx.runId}-${label}-${++serial}` });
    ids.push(m.memberId);
  }
  return ids;
}
