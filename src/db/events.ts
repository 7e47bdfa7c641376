// Event queries: programs' earning settings, event rows and their domain shape, the returns of a
// purchase under its lock, and how much of the purchase's earn is already taken back.
import { sql, type Insertable, type Selectable } from 'kysely';
import type { EventRecord } from '../core/events/event.js';
import type { PurchaseLine, ReturnLine } from '../core/events/purchase.js';
import type { EarningSettings } from '../core/events/rate.js';
import type { StoredResponse } from './ledger.js';
import type { Db, EventsTable } from './schema.js';

export type EventRow = Selectable<EventsTable>;

/** Custom action points as stored: JSON numbers (they are at most 10^9, exact in a double). */
export const customActionPointsJson = (points: Record<string, bigint>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(points).map(([k, v]) => [k, Number(v)])));

export function earningOf(row: { base_points: bigint; base_per_minor: bigint; custom_action_points: Record<string, number> }): EarningSettings {
  return {
    basePoints: BigInt(row.base_points),
    basePerMinor: BigInt(row.base_per_minor),
    customActionPoints: Object.fromEntries(Object.entries(row.custom_action_points ?? {}).map(([k, v]) => [k, BigInt(v)])),
  };
}

export interface EventProgram {
  programId: string;
  enrollmentMode: 'universal' | 'opt_in';
  /** the tenant's currency: the one money of its events */
  currency: string;
  earning: EarningSettings;
}

export async function loadEventProgram(db: Db, tenantId: string, programId: string): Promise<EventProgram | null> {
  const row = await db.selectFrom('programs as p')
    .innerJoin('tenants as t', 't.tenant_id', 'p.tenant_id')
    .select(['p.program_id', 'p.enrollment_mode', 'p.base_points', 'p.base_per_minor', 'p.custom_action_points', 't.currency'])
    .where('p.tenant_id', '=', tenantId).where('p.program_id', '=', programId)
    .executeTakeFirst();
  if (!row) return null;
  return { programId: row.program_id, enrollmentMode: row.enrollment_mode, currency: row.currency, earning: earningOf(row) };
}

/** Money and quantities go into JSON as numbers: every one is at most 10^12, exact in a double. */
const linesJson = (lines: EventRecord['lines']) => lines?.map((l) => ('unitPrice' in l
  ? { sku: l.sku, category: l.category, quantity: Number(l.quantity), unitPrice: Number(l.unitPrice), discount: Number(l.discount) }
  : { sku: l.sku, quantity: Number(l.quantity) })) ?? null;

type JsonLine = { sku: string; category?: string | null; quantity: number; unitPrice?: number; discount?: number };

function linesOf(json: unknown, purchased: boolean): PurchaseLine[] | ReturnLine[] | null {
  if (!Array.isArray(json)) return null;
  const lines = json as JsonLine[];
  return purchased
    ? lines.map((l) => ({ sku: l.sku, category: l.category ?? null, quantity: BigInt(l.quantity), unitPrice: BigInt(l.unitPrice!), discount: BigInt(l.discount ?? 0) }))
    : lines.map((l) => ({ sku: l.sku, quantity: BigInt(l.quantity) }));
}

export function eventRowOf(tenantId: string, e: EventRecord): Insertable<EventsTable> {
  return {
    tenant_id: tenantId, event_id: e.eventId, program_id: e.programId, member_id: e.memberId, external_id: e.externalId,
    type: e.type, occurred_at: e.occurredAt, channel: e.channel, location: e.location, currency: e.currency,
    total: e.total, paid_with_points: e.paidWithPoints, refund_amount: e.refundAmount, order_ref: e.orderId,
    purchase_event_id: e.purchaseEventId, base_points: e.rate?.points ?? null, base_per_minor: e.rate?.perMinor ?? null,
    payload: JSON.stringify({
      lines: linesJson(e.lines), attributes: e.attributes, purchaseExternalId: e.purchaseExternalId, reversesEntryId: e.reversesEntryId,
    }),
    points: e.points, ledger_key: e.ledgerKey, entry_id: e.ledgerEntryId, created_at: e.createdAt,
  };
}

export function eventOf(row: EventRow): EventRecord {
  const payload = row.payload as { lines?: unknown; attributes?: Record<string, unknown>; purchaseExternalId?: string | null; reversesEntryId?: string | null };
  const kind = row.type === 'purchase' ? 'purchase' : row.type === 'return' ? 'return' : 'action';
  return {
    eventId: row.event_id, programId: row.program_id, memberId: row.member_id, externalId: row.external_id, type: row.type, kind,
    occurredAt: row.occurred_at, channel: row.channel, location: row.location, currency: row.currency, orderId: row.order_ref,
    lines: linesOf(payload.lines, kind === 'purchase'), total: row.total, paidWithPoints: row.paid_with_points,
    rate: row.base_points === null || row.base_per_minor === null ? null : { points: row.base_points, perMinor: row.base_per_minor },
    purchaseEventId: row.purchase_event_id, purchaseExternalId: payload.purchaseExternalId ?? null, refundAmount: row.refund_amount,
    attributes: payload.attributes ?? {}, points: row.points, ledgerKey: row.ledger_key, reversesEntryId: payload.reversesEntryId ?? null,
    ledgerEntryId: row.entry_id, createdAt: row.created_at,
  };
}

export async function insertEvent(db: Db, tenantId: string, e: EventRecord): Promise<void> {
  await db.insertInto('events').values(eventRowOf(tenantId, e)).execute();
}

export async function findEventByExternalId(db: Db, tenantId: string, programId: string, externalId: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll()
    .where('tenant_id', '=', tenantId).where('program_id', '=', programId).where('external_id', '=', externalId)
    .executeTakeFirst();
}

/** Locks a purchase: its returns are decided one at a time, each seeing the ones before. */
export async function lockEvent(db: Db, tenantId: string, eventId: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId).where('event_id', '=', eventId).forUpdate().executeTakeFirst();
}

export async function loadReturnsOf(db: Db, tenantId: string, purchaseEventId: string): Promise<EventRow[]> {
  return db.selectFrom('events').selectAll()
    .where('tenant_id', '=', tenantId).where('purchase_event_id', '=', purchaseEventId).orderBy('event_id').execute();
}

/**
 * Points of an earn already taken back, or about to be: its reversals in the journal (by returns
 * or by hand) plus the returns recorded whose reversal is not written yet. One statement, so a
 * reversal committing meanwhile is counted once, on one side or the other.
 */
export async function reversedOrPending(db: Db, tenantId: string, purchaseEventId: string, earnEntryId: string): Promise<bigint> {
  const { rows } = await sql<{ reversed: bigint }>`
    select (select coalesce(sum(j.amount), 0) from journal_entries j
             where j.tenant_id = ${tenantId} and j.reverses_entry_id = ${earnEntryId})
         + (select coalesce(sum(-r.points), 0) from events r
             where r.tenant_id = ${tenantId} and r.purchase_event_id = ${purchaseEventId} and r.points <> 0
               and not exists (select 1 from idempotency_keys k where k.tenant_id = r.tenant_id and k.key = r.ledger_key))
         as reversed`.execute(db);
  return BigInt(rows[0]!.reversed);
}

/** Records which journal entry carried out the event; the first writer wins, later ones change nothing. */
export async function markApplied(db: Db, tenantId: string, eventId: string, entryId: string): Promise<void> {
  await db.updateTable('events').set({ entry_id: entryId })
    .where('tenant_id', '=', tenantId).where('event_id', '=', eventId).where('entry_id', 'is', null).execute();
}

export async function loadEvent(db: Db, tenantId: string, eventId: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId).where('event_id', '=', eventId).executeTakeFirst();
}

export interface EventFilter {
  memberId: string;
  types?: string[];
  /** events older than this one (pages go newest first) */
  before?: string | null;
  limit: number;
}

/** A member's events, newest first; limit+1 rows so the caller knows if more follow. */
export async function listEventRows(db: Db, tenantId: string, filter: EventFilter): Promise<EventRow[]> {
  let q = db.selectFrom('events').selectAll().where('tenant_id', '=', tenantId).where('member_id', '=', filter.memberId);
  if (filter.types?.length) q = q.where('type', 'in', filter.types);
  if (filter.before) q = q.where('event_id', '<', filter.before);
  return q.orderBy('event_id', 'desc').limit(filter.limit + 1).execute();
}

/** The stored result of an idempotency key, read outside any transaction. */
export async function findStoredResponse(db: Db, tenantId: string, key: string): Promise<StoredResponse | null> {
  const row = await db.selectFrom('idempotency_keys').select(['key', 'operation', 'request_hash', 'response'])
    .where('tenant_id', '=', tenantId).where('key', '=', key).executeTakeFirst();
  return row ? { key: row.key, operation: row.operation, requestHash: row.request_hash, response: JSON.stringify(row.response) } : null;
}
