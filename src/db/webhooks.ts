// Webhook endpoints and deliveries. The relay and the deliverer work across tenants in chunks,
// each chunk one set-based statement claimed with FOR UPDATE SKIP LOCKED, so any number of
// workers share the work without waiting for each other and without sending a message twice.
// outbox.delivered_at means "relayed": fanned out into webhook_deliveries (see 0011_webhooks.sql).
import { sql } from 'kysely';
import type { Outcome } from '../core/webhooks/delivery.js';
import type { Db } from './schema.js';

export type EndpointRow = NonNullable<Awaited<ReturnType<typeof loadEndpoint>>>;
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export async function insertEndpoint(db: Db, row: {
  tenantId: string; endpointId: string; url: string; description: string | null; secret: string; eventTypes: string[]; enabled: boolean; now: Date;
}) {
  return db.insertInto('webhook_endpoints').values({
    tenant_id: row.tenantId, endpoint_id: row.endpointId, url: row.url, description: row.description, secret: row.secret,
    event_types: row.eventTypes, enabled: row.enabled, created_at: row.now, updated_at: row.now,
  }).returningAll().executeTakeFirstOrThrow();
}

export async function loadEndpoint(db: Db, tenantId: string, endpointId: string) {
  return db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).executeTakeFirst();
}

export async function listEndpoints(db: Db, tenantId: string) {
  return db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).orderBy('endpoint_id').execute();
}

export async function updateEndpoint(db: Db, tenantId: string, endpointId: string,
  settings: { url: string; description: string | null; eventTypes: string[]; enabled: boolean }, now: Date) {
  return db.updateTable('webhook_endpoints').set({
    url: settings.url, description: settings.description, event_types: settings.eventTypes, enabled: settings.enabled, updated_at: now,
  }).where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).returningAll().executeTakeFirst();
}

/** Deletes an endpoint and its delivery log (pending deliveries are never sent); false if there was none. */
export async function deleteEndpoint(db: Db, tenantId: string, endpointId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom('webhook_deliveries').where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).execute();
    const r = await trx.deleteFrom('webhook_endpoints').where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  });
}

/** An endpoint's deliveries, newest first, with their message's type; `before`: the last delivery id of the previous page. */
export async function listDeliveries(db: Db, tenantId: string, endpointId: string, options: { limit: number; before: string | null; status?: DeliveryStatus | undefined }) {
  let q = db.selectFrom('webhook_deliveries as d')
    .innerJoin('outbox as o', (j) => j.onRef('o.tenant_id', '=', 'd.tenant_id').onRef('o.message_id', '=', 'd.message_id'))
    .selectAll('d').select('o.type')
    .where('d.tenant_id', '=', tenantId).where('d.endpoint_id', '=', endpointId);
  if (options.before) q = q.where('d.delivery_id', '<', options.before);
  if (options.status) q = q.where('d.status', '=', options.status);
  return q.orderBy('d.delivery_id', 'desc').limit(options.limit).execute();
}

/**
 * Queues a message for one endpoint only (a test message): the outbox row is written already
 * relayed, with its one delivery, so the relay never offers it to the tenant's other endpoints.
 */
export async function queueDirectMessage(db: Db, m: {
  tenantId: string; endpointId: string; messageId: string; deliveryId: string; type: string; payload: unknown; now: Date;
}): Promise<void> {
  await db.insertInto('outbox').values({
    tenant_id: m.tenantId, message_id: m.messageId, type: m.type, dedupe_key: `${m.type}:${m.messageId}`,
    payload: JSON.stringify(m.payload), created_at: m.now, delivered_at: m.now,
  }).execute();
  await db.insertInto('webhook_deliveries').values({
    tenant_id: m.tenantId, delivery_id: m.deliveryId, message_id: m.messageId, endpoint_id: m.endpointId,
    status: 'pending', next_attempt_at: m.now, created_at: m.now,
  }).execute();
}

/**
 * Relays up to `chunk` outbox messages, oldest first, in one statement: each becomes a pending
 * delivery for every enabled endpoint of its tenant that takes its type, and is marked relayed
 * (delivered_at), matched or not. An endpoint made later does not receive earlier messages.
 * Rows another worker is relaying are skipped, and re-checked once it commits.
 */
export async function relayOutbox(db: Db, now: Date, chunk: number): Promise<{ messages: number; deliveries: number }> {
  const { rows } = await sql<{ messages: number; deliveries: number }>`
    with claimed as (
      select tenant_id, message_id, type from outbox
      where delivered_at is null
      order by created_at
      limit ${chunk}
      for update skip locked
    ), fanned as (
      insert into webhook_deliveries (tenant_id, delivery_id, message_id, endpoint_id, status, attempts, next_attempt_at, created_at)
      select c.tenant_id, laurel_uuid_v7(), c.message_id, e.endpoint_id, 'pending', 0, ${now}, ${now}
      from claimed c
      join webhook_endpoints e on e.tenant_id = c.tenant_id and e.enabled
        and (cardinality(e.event_types) = 0 or c.type = any(e.event_types))
      on conflict (tenant_id, message_id, endpoint_id) do nothing
      returning 1
    ), relayed as (
      update outbox o set delivered_at = ${now}
      from claimed c where o.tenant_id = c.tenant_id and o.message_id = c.message_id
      returning 1
    )
    select (select count(*) from relayed)::int as messages, (select count(*) from fanned)::int as deliveries`.execute(db);
  return rows[0]!;
}

export interface ClaimedDelivery {
  tenantId: string;
  deliveryId: string;
  messageId: string;
  endpointId: string;
  /** this attempt's number, from 1 */
  attempt: number;
  url: string;
  secret: string;
  type: string;
  payload: unknown;
  createdAt: Date;
}

/**
 * Claims up to `chunk` due deliveries of enabled endpoints, longest due first, in one committed
 * statement: each attempt is counted and the delivery leased until `leaseUntil` (its
 * next_attempt_at), so no other worker sends it meanwhile, and it is due again if this worker
 * stops before recording the outcome. Returns what the sends need: endpoint, secret, message.
 */
export async function claimDueDeliveries(db: Db, at: Date, leaseUntil: Date, chunk: number): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<{
    tenant_id: string; delivery_id: string; message_id: string; endpoint_id: string; attempts: number;
    url: string; secret: string; type: string; payload: unknown; created_at: Date;
  }>`
    with due as (
      select d.tenant_id, d.delivery_id from webhook_deliveries d
      join webhook_endpoints e on e.tenant_id = d.tenant_id and e.endpoint_id = d.endpoint_id and e.enabled
      where d.status = 'pending' and d.next_attempt_at <= ${at}
      order by d.next_attempt_at
      limit ${chunk}
      for update of d skip locked
    )
    update webhook_deliveries d set attempts = d.attempts + 1, next_attempt_at = ${leaseUntil}, last_attempt_at = ${at}
    from due, webhook_endpoints e, outbox o
    where d.tenant_id = due.tenant_id and d.delivery_id = due.delivery_id
      and e.tenant_id = d.tenant_id and e.endpoint_id = d.endpoint_id
      and o.tenant_id = d.tenant_id and o.message_id = d.message_id
    returning d.tenant_id, d.delivery_id, d.message_id, d.endpoint_id, d.attempts, e.url, e.secret, o.type, o.payload, o.created_at`.execute(db);
  return rows.map((r) => ({
    tenantId: r.tenant_id, deliveryId: r.delivery_id, messageId: r.message_id, endpointId: r.endpoint_id, attempt: r.attempts,
    url: r.url, secret: r.secret, type: r.type, payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload, createdAt: new Date(r.created_at),
  }));
}

export interface RecordedAttempt extends Outcome {
  tenantId: string;
  deliveryId: string;
  attempt: number;
  statusCode: number | null;
  error: string | null;
}

/**
 * Writes the outcomes of a chunk of attempts in one statement. An attempt whose lease ran out
 * and whose delivery another worker claimed since (attempts moved on) is not written over.
 */
export async function recordAttempts(db: Db, attempts: readonly RecordedAttempt[]): Promise<number> {
  if (attempts.length === 0) return 0;
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  const result = await sql`
    update webhook_deliveries d
    set status = r.status, next_attempt_at = r.next_attempt_at, delivered_at = r.delivered_at,
        last_status_code = r.status_code, last_error = r.error
    from unnest(${attempts.map((a) => a.tenantId)}::uuid[], ${attempts.map((a) => a.deliveryId)}::uuid[], ${attempts.map((a) => a.attempt)}::int[],
                ${attempts.map((a) => a.status)}::text[], ${attempts.map((a) => iso(a.nextAttemptAt))}::timestamptz[],
                ${attempts.map((a) => iso(a.deliveredAt))}::timestamptz[], ${attempts.map((a) => a.statusCode)}::int[], ${attempts.map((a) => a.error)}::text[])
      as r(tenant_id, delivery_id, attempt, status, next_attempt_at, delivered_at, status_code, error)
    where d.tenant_id = r.tenant_id and d.delivery_id = r.delivery_id and d.attempts = r.attempt and d.status = 'pending'`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
