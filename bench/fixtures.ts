// A fresh tenant, program and members for each run, made through the services.
import type { ProgramInput } from '../src/core/program.js';
import type { Laurel } from '../src/services/context.js';
import { createMember, type MemberInput } from '../src/services/members.js';
import { createRule } from '../src/services/rules.js';
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

/**
 * A program earns only through its rules (a program with none earns nothing): this one gives
 * purchases the rate programs had before rules, a point per 1.00 paid (1 per 100 minor units).
 * `earn` does not read rules; the HTTP purchases (POST /v1/events) earn through it.
 */
export const BASE_RULE = { name: 'Base', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 } };

export interface Fixture {
  tenantId: string;
  program: Program;
  runId: string;
}

export async function newFixture(laurel: Laurel, runId: string, label: string,
  program: ProgramInput = benchProgram, rules: readonly unknown[] = [BASE_RULE]): Promise<Fixture> {
  const tenant = await createTenant(laurel, { name: `bench ${runId} ${label}`, timeZone: 'Europe/Paris', currency: 'EUR' });
  const created = await createProgram(laurel, tenant.tenantId, program);
  for (const rule of rules) await createRule(laurel, tenant.tenantId, created.programId, rule, { actor: 'bench' });
  return { tenantId: tenant.tenantId, program: created, runId };
}

let serial = 0;

/** `profile`: what rule conditions read of a member (tier, attributes…), the same for all of them. */
export async function newMembers(laurel: Laurel, fx: Fixture, count: number, label: string,
  profile: Omit<MemberInput, 'programId' | 'externalId'> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const m = await createMember(laurel, fx.tenantId, { ...profile, programId: fx.program.programId, externalId: `bench-${fx.runId}-${label}-${++serial}` });
    ids.push(m.memberId);
  }
  return ids;
}
