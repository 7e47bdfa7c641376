// Event ingestion (SPEC §2, §4): a purchase earns by the program's base rate on what was paid in
// money, a return takes back what its refund no longer earns, a custom action earns its fixed
// points. The external id is the event's idempotency key: sending it twice changes nothing and
// answers the first result; the same id with another body is refused.
//
// Recording an event and moving its points are two transactions (earn and reverseEntry own
// theirs). Three rules make any retry safe:
//  1. the event is recorded once, its points decided, under `event:<programId>:<externalId>`;
//  2. its earn or reversal runs under a key derived from that one, so running it again replays it;
//  3. the answer is built from those two stored results only, so every replay answers the same.
// A crash between 1 and 2 leaves the event recorded with its points pending: the retry moves them.
import { DomainError, invalid, notFound } from '../core/errors.js';
import { normaliseEvent, storableText, type EventInput, type EventRecord, type NormalisedEvent } from '../core/events/event.js';
import { orderTotal, purchasePoints, type PurchaseLine, type ReturnLine } from '../core/events/purchase.js';
import { EVENT_TYPE } from '../core/events/rate.js';
import { decideReturn, returnedSoFar } from '../core/events/returns.js';
import { uuidv7 } from '../core/ids.js';
import { decodeJson } from '../core/json.js';
import { MAX_POINTS, sumBig } from '../core/points.js';
import {
  eventOf, findEventByExternalId, findStoredResponse, insertEvent, listEventRows, loadEvent, loadEventProgram, loadReturnsOf,
  lockEvent, markApplied, reversedOrPending, type EventProgram,
} from '../db/events.js';
import { storeIdempotency, type Trx } from '../db/ledger.js';
import type { Laurel } from './context.js';
import { idempotent, requestHash } from './idempotency.js';
import { earn, reverseEntry, type LedgerResult } from './ledger.js';
import { createMember, getMember, IDENTIFIERS, normaliseIdentifier, type Identifier } from './members.js';
import { requireId } from './validate.js';

export type { EventRecord } from '../core/events/event.js';

export interface IngestInput extends EventInput {
  programId: string;
  /** the member by Laurel's id… */
  memberId?: string;
  /** …or by their identifiers; a universal program enrols an unknown member given an externalId or email */
  member?: Partial<Record<Identifier, string>>;
  /** who sent it, for the journal */
  actor?: string;
}

export interface EventResult {
  event: EventRecord;
  /** points earned (> 0), taken back (< 0), or 0 */
  points: bigint;
  /** the earn or reversal; null when the event moves no points */
  ledger: LedgerResult | null;
}

type MemberRef = { memberId: string } | { identifiers: Partial<Record<Identifier, string>> };

interface EventRequest {
  programId: string;
  event: NormalisedEvent;
  member: MemberRef | null;
}

const OPERATION = 'event';
const COLUMN = { externalId: 'external_id', email: 'email', phone: 'phone', cardCode: 'card_code' } as const;

export const eventKey = (programId: string, externalId: string): string => `event:${programId}:${externalId}`;
// Another prefix, not a suffix: whatever an external id holds, no event's key is another's ledger key.
const ledgerKeyOf = (programId: string, event: NormalisedEvent): string =>
  `event-${event.kind === 'return' ? 'reverse' : 'earn'}:${programId}:${event.externalId}`;

export async function ingestEvent(laurel: Laurel, tenantId: string, input: IngestInput): Promise<EventResult> {
  if (typeof input !== 'object' || input === null) throw invalid('type', 'an event is an object');
  const programId = requireId(input.programId, 'programId', 'program');
  const event = normaliseEvent(input);
  const request: EventRequest = { programId, event, member: memberRefOf(input, event.kind) };
  const key = eventKey(programId, event.externalId);
  const actor = input.actor ?? 'events';
  const record = (await replayed(laurel, tenantId, key, request)) ?? (await recordEvent(laurel, tenantId, key, request, actor));
  const ledger = await applyEvent(laurel, tenantId, record, actor);
  return { event: { ...record, ledgerEntryId: ledger?.entries[0]?.entryId ?? record.ledgerEntryId }, points: record.points, ledger };
}

function memberRefOf(input: IngestInput, kind: NormalisedEvent['kind']): MemberRef | null {
  if (input.memberId !== undefined && input.member !== undefined) throw invalid('member', 'give memberId or member, not both');
  if (input.memberId !== undefined) return { memberId: requireId(input.memberId, 'memberId', 'member') };
  if (input.member === undefined) {
    if (kind === 'return') return null;
    throw invalid('memberId', 'an event needs its member: memberId, or member with an externalId, email, phone or cardCode');
  }
  const given = input.member as Record<string, unknown>;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw invalid('member', 'member must be an object of identifiers');
  for (const k of Object.keys(given)) {
    if (!(IDENTIFIERS as readonly string[]).includes(k)) throw invalid(`member.${k}`, 'is not a member identifier');
  }
  const identifiers: Partial<Record<Identifier, string>> = {};
  for (const k of IDENTIFIERS) {
    if (given[k] === undefined || given[k] === null) continue;
    try {
      if (typeof given[k] === 'string') storableText(given[k], k);
      identifiers[k] = normaliseIdentifier(k, given[k]);
    } catch (e) {
      throw e instanceof DomainError ? invalid(`member.${k}`, e.message) : e;
    }
  }
  if (Object.keys(identifiers).length === 0) throw invalid('member', 'member needs an externalId, email, phone or cardCode');
  return { identifiers };
}

const eventConflict = (externalId: string) =>
  new DomainError('idempotency_conflict', `event ${externalId} was already received with different content`, 'externalId');

/** The recorded event when this external id was seen before with the same content; a conflict when with other content. */
async function replayed(laurel: Laurel, tenantId: string, key: string, request: EventRequest): Promise<EventRecord | null> {
  const stored = await findStoredResponse(laurel.db, tenantId, key);
  if (!stored) return null;
  if (stored.operation !== OPERATION || stored.requestHash !== requestHash(OPERATION, request)) throw eventConflict(request.event.externalId);
  return decodeJson<EventRecord>(stored.response);
}

async function recordEvent(laurel: Laurel, tenantId: string, key: string, request: EventRequest, actor: string): Promise<EventRecord> {
  const { event } = request;
  const program = await loadEventProgram(laurel.db, tenantId, request.programId);
  if (!program) throw notFound('program', 'programId');
  if (event.currency !== null && event.currency !== program.currency) {
    throw invalid('currency', `this tenant's events are in ${program.currency}`);
  }
  if (event.kind === 'return') return recordReturn(laurel, tenantId, key, request, program, event, actor);
  const member = await resolveMember(laurel, tenantId, program, request.member!, program.enrollmentMode === 'universal');
  if (member.status !== 'active') {
    throw new DomainError('conflict', `the member is ${member.status}`, 'memberId' in request.member! ? 'memberId' : 'member');
  }
  if (event.kind === 'purchase') {
    const rate = { points: program.earning.basePoints, perMinor: program.earning.basePerMinor };
    const total = orderTotal(event.lines, event.paidWithPoints);
    const points = purchasePoints(total, rate);
    if (points > MAX_POINTS) throw invalid('lines', `this purchase would earn more than ${MAX_POINTS} points`);
    return store(laurel, tenantId, key, request, async (_trx, now) => newRecord(request, member.memberId, now, {
      points, total, paidWithPoints: event.paidWithPoints, rate, currency: event.currency ?? program.currency,
    }));
  }
  const points = program.earning.customActionPoints[event.type] ?? 0n;
  return store(laurel, tenantId, key, request, async (_trx, now) => newRecord(request, member.memberId, now, { points }));
}

async function recordReturn(laurel: Laurel, tenantId: string, key: string, request: EventRequest, program: EventProgram,
  event: Extract<NormalisedEvent, { kind: 'return' }>, actor: string): Promise<EventRecord> {
  const row = await findEventByExternalId(laurel.db, tenantId, program.programId, event.purchaseExternalId);
  if (!row) throw notFound('purchase', 'purchaseExternalId');
  if (row.type !== 'purchase') {
    throw new DomainError('conflict', `${event.purchaseExternalId} is a ${row.type} event, not a purchase`, 'purchaseExternalId');
  }
  const purchase = eventOf(row);
  if (request.member) {
    const member = await resolveMember(laurel, tenantId, program, request.member, false);
    if (member.memberId !== purchase.memberId) {
      throw new DomainError('conflict', 'the purchase belongs to another member', 'memberId' in request.member ? 'memberId' : 'member');
    }
  }
  if (event.currency !== null && event.currency !== purchase.currency) throw invalid('currency', `the purchase was in ${purchase.currency}`);
  // Part of the purchase's points can only be taken back once they are in the journal.
  const earnEntryId = purchase.points === 0n ? null
    : purchase.ledgerEntryId ?? (await applyEvent(laurel, tenantId, purchase, actor))!.entries[0]!.entryId;
  return store(laurel, tenantId, key, request, async (trx, now) => {
    const locked = eventOf((await lockEvent(trx, tenantId, purchase.eventId))!);
    const returns = (await loadReturnsOf(trx, tenantId, purchase.eventId)).map(eventOf);
    const history = {
      returned: returnedSoFar(returns.map((r) => ({ lines: r.lines as ReturnLine[] | null }))),
      refunded: sumBig(returns.map((r) => r.refundAmount ?? 0n)),
      reversed: earnEntryId === null ? 0n : await reversedOrPending(trx, tenantId, purchase.eventId, earnEntryId),
    };
    const facts = { lines: locked.lines as PurchaseLine[], total: locked.total!, earned: locked.points, rate: locked.rate! };
    const decision = decideReturn(facts, history, event.lines ? { lines: event.lines } : { refundAmount: event.refundAmount! });
    return newRecord(request, purchase.memberId, now, {
      points: -decision.reverse, refundAmount: decision.refundAmount, currency: purchase.currency,
      purchaseEventId: purchase.eventId, purchaseExternalId: purchase.externalId,
      reversesEntryId: decision.reverse > 0n ? earnEntryId : null,
    });
  });
}

function newRecord(request: EventRequest, memberId: string, now: Date, fields: Partial<EventRecord> & { points: bigint }): EventRecord {
  const { event } = request;
  return {
    eventId: uuidv7(now.getTime()), programId: request.programId, memberId, externalId: event.externalId, type: event.type,
    kind: event.kind, occurredAt: event.occurredAt ?? now, channel: event.channel, location: event.location,
    currency: event.currency, orderId: event.orderId, lines: 'lines' in event ? event.lines : null, total: null,
    paidWithPoints: null, rate: null, purchaseEventId: null, purchaseExternalId: null, refundAmount: null,
    attributes: event.attributes, ledgerKey: fields.points === 0n ? null : ledgerKeyOf(request.programId, event),
    reversesEntryId: null, ledgerEntryId: null, createdAt: now, ...fields,
  };
}

/** Records the event once, with the idempotency record of its key, in one transaction. */
async function store(laurel: Laurel, tenantId: string, key: string, request: EventRequest,
  decide: (trx: Trx, now: Date) => Promise<EventRecord>): Promise<EventRecord> {
  try {
    return await idempotent(laurel, tenantId, key, OPERATION, request, async (trx, now, stored) => {
      const record = await decide(trx, now);
      // The key before the row: a twin sent at the same moment waits on the key, then replays.
      await storeIdempotency(trx, tenantId, stored(record), now);
      await insertEvent(trx, tenantId, record);
      return record;
    });
  } catch (e) {
    if (e instanceof DomainError && e.code === 'idempotency_conflict') throw eventConflict(request.event.externalId);
    throw e;
  }
}

/**
 * Moves the event's points (earn, or reverse part of the purchase's earn) under its ledger key:
 * the first call writes, every later one replays the same result.
 */
async function applyEvent(laurel: Laurel, tenantId: string, record: EventRecord, actor: string): Promise<LedgerResult | null> {
  if (record.points === 0n || record.ledgerKey === null) return null;
  const result = record.points > 0n
    ? await earn(laurel, { tenantId, idempotencyKey: record.ledgerKey, memberId: record.memberId, amount: record.points, ref: record.externalId, actor })
    : await reverseEntry(laurel, {
      tenantId, idempotencyKey: record.ledgerKey, entryId: record.reversesEntryId!, amount: -record.points,
      reason: `return ${record.externalId}`, actor,
    });
  if (record.ledgerEntryId === null) await markApplied(laurel.db, tenantId, record.eventId, result.entries[0]!.entryId);
  return result;
}

interface FoundMember {
  memberId: string;
  status: 'active' | 'suspended' | 'erased';
}

async function membersWith(laurel: Laurel, tenantId: string, programId: string, ids: Partial<Record<Identifier, string>>): Promise<FoundMember[]> {
  const given = IDENTIFIERS.filter((k) => ids[k] !== undefined);
  const rows = await laurel.db.selectFrom('members').select(['member_id', 'status'])
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId)
    .where((eb) => eb.or(given.map((k) => eb(COLUMN[k], '=', ids[k]!))))
    .execute();
  return rows.map((r) => ({ memberId: r.member_id, status: r.status }));
}

/** The member an event names, in its program; a universal program enrols one it does not know yet. */
async function resolveMember(laurel: Laurel, tenantId: string, program: EventProgram, ref: MemberRef, enrol: boolean): Promise<FoundMember> {
  if ('memberId' in ref) {
    const row = await laurel.db.selectFrom('members').select(['member_id', 'status'])
      .where('tenant_id', '=', tenantId).where('member_id', '=', ref.memberId).where('program_id', '=', program.programId)
      .executeTakeFirst();
    if (!row) throw notFound('member', 'memberId');
    return { memberId: row.member_id, status: row.status };
  }
  const ids = ref.identifiers;
  const found = await membersWith(laurel, tenantId, program.programId, ids);
  if (found.length > 1) throw new DomainError('conflict', 'these identifiers belong to different members', 'member');
  if (found[0]) return found[0];
  if (!enrol || (ids.externalId === undefined && ids.email === undefined)) {
    throw new DomainError('not_found', program.enrollmentMode === 'opt_in'
      ? 'member not found (this program enrols members on request only)'
      : 'member not found (a first event enrols a member only when it gives their externalId or email)', 'member');
  }
  try {
    const created = await createMember(laurel, tenantId, { programId: program.programId, ...ids });
    return { memberId: created.memberId, status: created.status };
  } catch (e) {
    // Another event enrolled them a moment ago: that member is the one.
    if (!(e instanceof DomainError && e.code === 'conflict')) throw e;
    const again = await membersWith(laurel, tenantId, program.programId, ids);
    if (again.length !== 1) throw e;
    return again[0]!;
  }
}

export async function getEvent(laurel: Laurel, tenantId: string, eventId: string): Promise<EventRecord> {
  const row = await loadEvent(laurel.db, tenantId, requireId(eventId, 'eventId', 'event'));
  if (!row) throw notFound('event', 'eventId');
  return eventOf(row);
}

export interface MemberEventFilter {
  memberId: string;
  types?: string[];
  /** events older than this one (pages go newest first) */
  before?: string | null;
  limit: number;
}

/** A member's events, newest first; limit+1 rows so the caller knows if more follow. */
export async function listMemberEvents(laurel: Laurel, tenantId: string, filter: MemberEventFilter): Promise<EventRecord[]> {
  const member = await getMember(laurel, tenantId, filter.memberId);
  for (const t of filter.types ?? []) if (!EVENT_TYPE.test(t)) throw invalid('type', `${t} is not an event type`);
  const rows = await listEventRows(laurel.db, tenantId, { memberId: member.memberId, types: filter.types, before: filter.before, limit: filter.limit });
  return rows.map(eventOf);
}
