// Members of a program: their identifiers (unique per program), attributes and status.
import { notHouseholdAccount } from '../db/households.js';
import { DomainError, invalid, notFound } from '../core/errors.js';
import { isUuid, uuidv7 } from '../core/ids.js';
import type { Laurel } from './context.js';
import { isUniqueViolation, writeOnce } from './idempotency.js';
import { attributeOnEnrolment } from './referrals.js';
import { placeNewMember, setTierByAdmin } from './tiers.js';
import { optionalText, requireId } from './validate.js';

export type MemberStatus = 'active' | 'suspended' | 'erased';
export const IDENTIFIERS = ['externalId', 'email', 'phone', 'cardCode'] as const;
export type Identifier = (typeof IDENTIFIERS)[number];

export interface Member {
  tenantId: string;
  memberId: string;
  programId: string;
  externalId: string | null;
  email: string | null;
  phone: string | null;
  cardCode: string | null;
  attributes: Record<string, unknown>;
  birthday: string | null;
  /** the tier and grade assigned to the member; rule conditions read them */
  tier: string | null;
  grade: string | null;
  status: MemberStatus;
  enrolledAt: Date;
  /** the externalId of the event that enrolled the member (a universal program's first event); null: enrolled by a request */
  enrolledByEvent: string | null;
}

export interface MemberInput {
  programId: string;
  externalId?: string | null;
  email?: string | null;
  phone?: string | null;
  cardCode?: string | null;
  attributes?: Record<string, unknown>;
  birthday?: string | null;
  tier?: string | null;
  grade?: string | null;
  /** the code of the member who referred them (referrals): attributed once, at enrolment */
  referralCode?: string | null;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+[1-9]\d{6,14}$/;
// year 0000 passes as an ISO date but PostgreSQL has no year 0
const BIRTHDAY = /^(?!0000)\d{4}-\d{2}-\d{2}$/;

function validBirthday(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || !BIRTHDAY.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalid('birthday', 'birthday must be a date such as 1990-04-30');
  }
  return value;
}

const LEVEL_CODE = /^[a-z][a-z0-9_]{0,31}$/;

function validLevel(value: unknown, field: 'tier' | 'grade'): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || !LEVEL_CODE.test(value)) throw invalid(field, `${field} must be a code such as gold (lower-case letters, digits and _)`);
  return value;
}

function validAttributes(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('attributes', 'attributes must be an object');
  return value as Record<string, unknown>;
}

/** Identifiers as stored: emails lower-cased, phones in E.164, so a lookup finds one member. */
export function normaliseIdentifier(kind: Identifier, value: unknown): string {
  const text = optionalText(value, kind, 200)?.trim();
  if (!text) throw invalid(kind, `${kind} must not be empty`);
  if (kind === 'email') {
    if (!EMAIL.test(text)) throw invalid('email', 'email must be an e-mail address');
    return text.toLowerCase();
  }
  if (kind === 'phone') {
    const phone = text.replace(/[\s().-]/g, '');
    if (!PHONE.test(phone)) throw invalid('phone', 'phone must be in international form, such as +33612345678');
    return phone;
  }
  return text;
}

const COLUMN = { externalId: 'external_id', email: 'email', phone: 'phone', cardCode: 'card_code' } as const;

/** A taken identifier (a unique index of members) as the conflict it is; any other error as it is. */
function identifierConflict(e: unknown): unknown {
  const taken = IDENTIFIERS.find((k) => isUniqueViolation(e, `members_${COLUMN[k]}`));
  return taken ? new DomainError('conflict', `another member of this program has this ${taken}`, taken) : e;
}

function memberOf(r: {
  tenant_id: string; member_id: string; program_id: string; external_id: string | null; email: string | null;
  phone: string | null; card_code: string | null; attributes: Record<string, unknown>; birthday: string | null;
  tier: string | null; grade: string | null; status: MemberStatus; enrolled_at: Date; enrolled_by_event: string | null;
}): Member {
  return {
    tenantId: r.tenant_id, memberId: r.member_id, programId: r.program_id, externalId: r.external_id, email: r.email,
    phone: r.phone, cardCode: r.card_code, attributes: r.attributes, birthday: r.birthday, tier: r.tier, grade: r.grade,
    status: r.status, enrolledAt: r.enrolled_at, enrolledByEvent: r.enrolled_by_event,
  };
}

export interface Enrolment {
  /** the externalId of the event enrolling the member */
  byEvent?: string;
  /** their welcome (signup event) is to follow: due, and retried by the welcomes job, until it is recorded */
  welcome?: boolean;
}

/** A welcome not recorded this long after its member was created is sent again by the welcomes job. */
export const WELCOME_RETRY_MS = 60_000;

/** Enrols a member; with an idempotency key, a retry returns the member the first call made. */
export async function createMember(laurel: Laurel, tenantId: string, input: MemberInput, idempotencyKey?: string, enrolment: Enrolment = {}): Promise<Member> {
  const programId = requireId(input.programId, 'programId', 'program');
  const ids = Object.fromEntries(IDENTIFIERS.map((k) =>
    [k, input[k] === undefined || input[k] === null ? null : normaliseIdentifier(k, input[k])])) as Record<Identifier, string | null>;
  if (IDENTIFIERS.every((k) => ids[k] === null)) throw invalid('externalId', 'a member needs at least one identifier');
  const attributes = validAttributes(input.attributes ?? {});
  const birthday = validBirthday(input.birthday ?? null);
  const tier = validLevel(input.tier ?? null, 'tier');
  const grade = validLevel(input.grade ?? null, 'grade');
  const referralCode = input.referralCode ?? null;
  const request = { programId, ...ids, attributes, birthday, tier, grade, enrolledByEvent: enrolment.byEvent, ...(referralCode === null ? {} : { referralCode }) };
  try {
    return await writeOnce(laurel, tenantId, idempotencyKey, 'create_member', request, async (trx, now) => {
      const wallets = await trx.selectFrom('wallets').select('wallet_id')
        .where('tenant_id', '=', tenantId).where('program_id', '=', programId).execute();
      if (wallets.length === 0) throw notFound('program', 'programId');
      const memberId = uuidv7(now.getTime());
      const row = await trx.insertInto('members').values({
        tenant_id: tenantId, member_id: memberId, program_id: programId, external_id: ids.externalId, email: ids.email,
        phone: ids.phone, card_code: ids.cardCode, attributes: JSON.stringify(attributes), birthday, tier, grade, status: 'active',
        enrolled_at: now, updated_at: now, enrolled_by_event: enrolment.byEvent ?? null,
        welcome_due_at: enrolment.welcome ? new Date(now.getTime() + WELCOME_RETRY_MS) : null,
      }).returningAll().executeTakeFirstOrThrow();
      const placed = await placeNewMember(trx, tenantId, programId, memberId, now, tier);
      // Every wallet gets its balance row now: it is the row each ledger operation locks.
      await trx.insertInto('balances').values(wallets.map((w) => ({
        tenant_id: tenantId, member_id: memberId, wallet_id: w.wallet_id, program_id: programId,
      }))).execute();
      if (referralCode !== null) {
        await attributeOnEnrolment(trx, now, { tenantId, programId, memberId, email: ids.email, phone: ids.phone, code: referralCode });
      }
      return { ...memberOf(row), tier: placed };
    });
  } catch (e) {
    throw identifierConflict(e);
  }
}

export async function getMember(laurel: Laurel, tenantId: string, memberId: string): Promise<Member> {
  const row = await laurel.db.selectFrom('members').selectAll()
    .where('tenant_id', '=', tenantId).where('member_id', '=', requireId(memberId, 'memberId', 'member')).executeTakeFirst();
  if (!row) throw notFound('member', 'memberId');
  return memberOf(row);
}

export async function findMember(laurel: Laurel, tenantId: string, programId: string, kind: Identifier, value: string): Promise<Member> {
  const row = await laurel.db.selectFrom('members').selectAll()
    .where('tenant_id', '=', tenantId).where('program_id', '=', requireId(programId, 'programId', 'program'))
    .where(COLUMN[kind], '=', normaliseIdentifier(kind, value)).executeTakeFirst();
  if (!row) throw notFound('member', kind);
  return memberOf(row);
}

export async function setMemberStatus(laurel: Laurel, tenantId: string, memberId: string, status: 'active' | 'suspended'): Promise<Member> {
  if (status !== 'active' && status !== 'suspended') throw invalid('status', 'status must be active or suspended');
  const member = await getMember(laurel, tenantId, memberId);
  if (member.status === 'erased') throw new DomainError('conflict', 'an erased member cannot be reactivated', 'status');
  await laurel.db.updateTable('members').set({ status, updated_at: laurel.clock.now() })
    .where('tenant_id', '=', tenantId).where('member_id', '=', member.memberId).execute();
  return { ...member, status };
}

export interface MemberFilter {
  programId?: string;
  status?: MemberStatus;
  after?: string | null;
  limit: number;
}

/** A page of members in id (enrolment) order; asks for limit+1 rows so the caller knows if more follow. */
export async function listMembers(laurel: Laurel, tenantId: string, filter: MemberFilter): Promise<Member[]> {
  let q = laurel.db.selectFrom('members').selectAll().where('tenant_id', '=', tenantId).where(notHouseholdAccount('members'));
  if (filter.programId) q = q.where('program_id', '=', requireId(filter.programId, 'programId', 'program'));
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.after) q = q.where('member_id', '>', filter.after);
  return (await q.orderBy('member_id').limit(filter.limit + 1).execute()).map(memberOf);
}

export type MemberPatch = Omit<MemberInput, 'programId'>;

export async function updateMember(laurel: Laurel, tenantId: string, memberId: string, patch: MemberPatch): Promise<Member> {
  const member = await getMember(laurel, tenantId, memberId);
  if (member.status === 'erased') throw new DomainError('conflict', 'an erased member cannot be changed', 'memberId');
  const set: Record<string, unknown> = { updated_at: laurel.clock.now() };
  for (const k of IDENTIFIERS) {
    if (patch[k] !== undefined) set[COLUMN[k]] = patch[k] === null ? null : normaliseIdentifier(k, patch[k]);
  }
  if (patch.attributes !== undefined) set.attributes = JSON.stringify(validAttributes(patch.attributes));
  if (patch.birthday !== undefined) set.birthday = validBirthday(patch.birthday);
  const tier = patch.tier === undefined ? undefined : validLevel(patch.tier, 'tier');
  if (patch.grade !== undefined) set.grade = validLevel(patch.grade, 'grade');
  const after = (k: Identifier) => (COLUMN[k] in set ? set[COLUMN[k]] : member[k]);
  if (IDENTIFIERS.every((k) => after(k) === null)) {
    throw invalid('externalId', 'a member needs at least one identifier');
  }
  try {
    await laurel.db.transaction().execute(async (trx) => {
      const now = set.updated_at as Date;
      const laddered = tier !== undefined && await setTierByAdmin(trx, tenantId, member.programId, member.memberId, tier, now);
      if (tier !== undefined && !laddered) set.tier = tier;
      await trx.updateTable('members').set(set).where('tenant_id', '=', tenantId).where('member_id', '=', member.memberId).execute();
    });
  } catch (e) {
    throw identifierConflict(e);
  }
  return getMember(laurel, tenantId, member.memberId);
}

/**
 * GDPR erasure: identifiers, attributes and birthday are deleted; the member row, its id and
 * its ledger stay, so balances, the journal and the program's accounts still add up.
 */
export async function eraseMember(laurel: Laurel, tenantId: string, memberId: string): Promise<Member> {
  const member = await getMember(laurel, tenantId, memberId);
  await laurel.db.updateTable('members').set({
    external_id: null, email: null, phone: null, card_code: null, attributes: '{}', birthday: null,
    status: 'erased', tier_review_at: null, updated_at: laurel.clock.now(),
  }).where('tenant_id', '=', tenantId).where('member_id', '=', member.memberId).execute();
  return getMember(laurel, tenantId, member.memberId);
}

/**
 * Members whose member id, external id, e-mail, phone or card code is exactly what support typed
 * (e-mail in any case, phone with spaces or dashes): the one search box of the console.
 */
export async function searchMembers(laurel: Laurel, tenantId: string, query: string, programId?: string): Promise<Member[]> {
  const q = query.trim();
  if (!q) throw invalid('q', 'q must not be empty');
  const phone = q.replace(/[\s().-]/g, '');
  let select = laurel.db.selectFrom('members').selectAll().where('tenant_id', '=', tenantId).where((eb) => eb.or([
    eb('external_id', '=', q), eb('card_code', '=', q), eb('email', '=', q.toLowerCase()), eb('phone', '=', phone),
    ...(isUuid(q) ? [eb('member_id', '=', q.toLowerCase())] : []),
  ])).where(notHouseholdAccount('members'));
  if (programId !== undefined) select = select.where('program_id', '=', requireId(programId, 'programId', 'program'));
  return (await select.orderBy('member_id').limit(20).execute()).map(memberOf);
}
