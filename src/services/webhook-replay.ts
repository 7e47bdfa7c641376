// Replaying a webhook delivery from the console or the API (the receiver was down, or lost it).
import { notFound } from '../core/errors.js';
import { requeueDelivery } from '../db/webhook-replay.js';
import type { Laurel } from './context.js';
import { writeOnce } from './idempotency.js';
import { requireId } from './validate.js';
import { getEndpoint, type WebhookDelivery } from './webhooks.js';

/**
 * Queues the delivery again; the next `webhooks` run sends it. Replaying twice queues it once:
 * a delivery still pending is answered as it is (`requeued: false`).
 */
export async function replayDelivery(laurel: Laurel, tenantId: string, endpointId: string, deliveryId: string,
  idempotencyKey?: string): Promise<WebhookDelivery & { requeued: boolean }> {
  const endpoint = await getEndpoint(laurel, tenantId, endpointId);
  const id = requireId(deliveryId, 'deliveryId', 'delivery');
  return writeOnce(laurel, tenantId, idempotencyKey, 'replay_webhook_delivery', { endpointId: endpoint.endpointId, deliveryId: id }, async (trx, now) => {
    const r = await requeueDelivery(trx, tenantId, endpoint.endpointId, id, now);
    if (!r) throw notFound('webhook delivery', 'deliveryId');
    return {
      deliveryId: r.delivery_id, messageId: r.message_id, endpointId: r.endpoint_id, type: r.type, status: r.status, attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at, lastAttemptAt: r.last_attempt_at, lastStatusCode: r.last_status_code, lastError: r.last_error,
      deliveredAt: r.delivered_at, createdAt: r.created_at, requeued: r.requeued,
    };
  });
}
