// Webhooks out: a tenant's endpoints and their delivery log (admin), and the two halves of the
// `webhooks` job. The relay turns outbox messages into deliveries; the deliverer sends the due
// ones, signed (Standard Webhooks), and records each attempt. No transaction stays open across
// an HTTP call: a chunk is claimed (leased) in one statement, sent, then recorded in another.
import { DomainError, notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { outcomeOf } from '../core/webhooks/delivery.js';
import { applyChange, validateNewEndpoint, type EndpointSettings } from '../core/webhooks/endpoint.js';
import { newSecret } from '../core/webhooks/signature.js';
import {
  claimDueDeliveries, deleteEndpoint as deleteEndpointRows, insertEndpoint, listDeliveries as listDeliveryRows, listEndpoints as listEndpointRows,
  loadEndpoint, queueDirectMessage, recordAttempts, relayOutbox as relayChunk, updateEndpoint as updateEndpointRow,
  type DeliveryStatus, type EndpointRow,
} from '../db/webhooks.js';
import type { Laurel } from './context.js';
import { writeOnce } from './idempotency.js';
import { sendAll, type SendOptions } from './webhook-sender.js';
import { requireId } from './validate.js';

export interface WebhookEndpoint extends EndpointSettings {
  tenantId: string;
  endpointId: string;
  createdAt: Date;
  updatedAt: Date;
}

const endpointOf = (r: EndpointRow): WebhookEndpoint => ({
  tenantId: r.tenant_id, endpointId: r.endpoint_id, url: r.url, description: r.description, eventTypes: r.event_types,
  enabled: r.enabled, createdAt: r.created_at, updatedAt: r.updated_at,
});

/** Creates an endpoint with a new signing secret; the returned `secret` is the only time it is shown. */
export async function createEndpoint(laurel: Laurel, tenantId: string, input: Record<string, unknown>, idempotencyKey?: string): Promise<WebhookEndpoint & { secret: string }> {
  const settings = validateNewEndpoint(input, { allowPrivate: laurel.settings.allowPrivateWebhooks });
  return writeOnce(laurel, tenantId, idempotencyKey, 'create_webhook_endpoint', settings, async (trx, now) => {
    const secret = newSecret();
    const row = await insertEndpoint(trx, { tenantId, endpointId: uuidv7(now.getTime()), ...settings, secret, now });
    return { ...endpointOf(row), secret };
  });
}

export async function getEndpoint(laurel: Laurel, tenantId: string, endpointId: string): Promise<WebhookEndpoint> {
  const row = await loadEndpoint(laurel.db, tenantId, requireId(endpointId, 'endpointId', 'webhook endpoint'));
  if (!row) throw notFound('webhook endpoint', 'endpointId');
  return endpointOf(row);
}

export async function listEndpoints(laurel: Laurel, tenantId: string): Promise<WebhookEndpoint[]> {
  return (await listEndpointRows(laurel.db, tenantId)).map(endpointOf);
}

/** Changes the given fields. Disabling pauses its pending deliveries; enabling again resumes them. */
export async function updateEndpoint(laurel: Laurel, tenantId: string, endpointId: string, change: Record<string, unknown>): Promise<WebhookEndpoint> {
  const current = await getEndpoint(laurel, tenantId, endpointId);
  const row = await updateEndpointRow(laurel.db, tenantId, current.endpointId, applyChange(current, change, { allowPrivate: laurel.settings.allowPrivateWebhooks }), laurel.clock.now());
  if (!row) throw notFound('webhook endpoint', 'endpointId');
  return endpointOf(row);
}

/** Deletes an endpoint with its delivery log; what it had pending is never sent. */
export async function deleteEndpoint(laurel: Laurel, tenantId: string, endpointId: string): Promise<void> {
  const id = requireId(endpointId, 'endpointId', 'webhook endpoint');
  if (!(await deleteEndpointRows(laurel.db, tenantId, id))) throw notFound('webhook endpoint', 'endpointId');
}

export interface WebhookDelivery {
  deliveryId: string;
  messageId: string;
  endpointId: string;
  type: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** An endpoint's delivery log, newest first: limit+1 rows, so the caller knows whether more follow. */
export async function listDeliveries(laurel: Laurel, tenantId: string, endpointId: string,
  options: { limit: number; before: string | null; status?: DeliveryStatus | undefined }): Promise<WebhookDelivery[]> {
  const endpoint = await getEndpoint(laurel, tenantId, endpointId);
  const rows = await listDeliveryRows(laurel.db, tenantId, endpoint.endpointId, { ...options, limit: options.limit + 1 });
  return rows.map((r) => ({
    deliveryId: r.delivery_id, messageId: r.message_id, endpointId: r.endpoint_id, type: r.type, status: r.status, attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at, lastAttemptAt: r.last_attempt_at, lastStatusCode: r.last_status_code, lastError: r.last_error,
    deliveredAt: r.delivered_at, createdAt: r.created_at,
  }));
}

export const TEST_MESSAGE_TYPE = 'webhook.test';

/** Queues a `webhook.test` message through the outbox to this endpoint alone; the next `webhooks` run sends it. */
export async function sendTestMessage(laurel: Laurel, tenantId: string, endpointId: string, idempotencyKey?: string): Promise<{ messageId: string; deliveryId: string; type: string }> {
  const endpoint = await getEndpoint(laurel, tenantId, endpointId);
  if (!endpoint.enabled) throw new DomainError('conflict', 'the endpoint is disabled: enable it to test it', 'endpointId');
  return writeOnce(laurel, tenantId, idempotencyKey, 'test_webhook_endpoint', { endpointId: endpoint.endpointId }, async (trx, now) => {
    const messageId = uuidv7(now.getTime());
    const deliveryId = uuidv7(now.getTime());
    await queueDirectMessage(trx, {
      tenantId, endpointId: endpoint.endpointId, messageId, deliveryId, type: TEST_MESSAGE_TYPE, now,
      payload: { endpointId: endpoint.endpointId, message: 'a test message from Laurel' },
    });
    return { messageId, deliveryId, type: TEST_MESSAGE_TYPE };
  });
}

// ---- the webhooks job ----------------------------------------------------------------------

const RELAY_CHUNK = 1000;
/**
 * Deliveries claimed at once. The lease must outlast the slowest chunk: 48 sends, 8 at a time,
 * each at most 10 s, take at most a minute; the lease is two.
 */
const DELIVERY_CHUNK = 48;
const LEASE_MS = 2 * 60_000;

/** Relays every unrelayed outbox message to the endpoints that take it, a chunk per statement. */
export async function relayOutbox(laurel: Laurel, now: Date, progress: (messages: number) => void = () => {}): Promise<{ messages: number; deliveries: number }> {
  const total = { messages: 0, deliveries: 0 };
  for (;;) {
    const r = await relayChunk(laurel.db, now, RELAY_CHUNK);
    total.messages += r.messages;
    total.deliveries += r.deliveries;
    progress(total.messages);
    if (r.messages < RELAY_CHUNK) return total;
  }
}

export interface DeliveryStats {
  /** attempts made */
  sent: number;
  delivered: number;
  /** given up after the last attempt */
  failed: number;
  /** failed this time, to be retried after the backoff */
  retrying: number;
}

/**
 * Sends every due delivery, a chunk at a time, and records the outcomes. Each chunk reads the
 * clock again (never earlier than `now`, the run's start): its sends are signed with the time they
 * leave, and receivers refuse a timestamp minutes old. Whether endpoints may be inside the
 * deployment is the Laurel's setting (allowPrivateWebhooks), checked again at each send.
 */
export async function deliverWebhooks(laurel: Laurel, now: Date, progress: (sent: number) => void = () => {},
  options: Omit<SendOptions, 'allowPrivate'> = {}): Promise<DeliveryStats> {
  const stats: DeliveryStats = { sent: 0, delivered: 0, failed: 0, retrying: 0 };
  for (;;) {
    const at = new Date(Math.max(now.getTime(), laurel.clock.now().getTime()));
    const claimed = await claimDueDeliveries(laurel.db, at, new Date(at.getTime() + LEASE_MS), DELIVERY_CHUNK);
    if (claimed.length === 0) return stats;
    const results = await sendAll(claimed, at, { ...options, allowPrivate: laurel.settings.allowPrivateWebhooks });
    const attempts = claimed.map((d, i) => ({
      tenantId: d.tenantId, deliveryId: d.deliveryId, attempt: d.attempt, ...results[i]!, ...outcomeOf(d.attempt, results[i]!, at),
    }));
    await recordAttempts(laurel.db, attempts);
    for (const a of attempts) stats[a.status === 'delivered' ? 'delivered' : a.status === 'failed' ? 'failed' : 'retrying']++;
    stats.sent += attempts.length;
    progress(stats.sent);
    if (claimed.length < DELIVERY_CHUNK) return stats;
  }
}
