// Replaying a webhook delivery: the same message (same webhook-id, so a receiver that has it
// dedupes) goes to the endpoint again, with a fresh round of attempts.
import type { Db } from './schema.js';

/**
 * Puts a delivered or given-up delivery back in the queue, due now, with its attempts from 0
 * (the backoff and the give-up count restart). A pending one is left as it is: it is queued
 * already, and its attempt in flight (if any) must not be counted over. Answers the delivery,
 * with whether it was requeued; undefined when the endpoint has no such delivery.
 */
export async function requeueDelivery(db: Db, tenantId: string, endpointId: string, deliveryId: string, now: Date) {
  const updated = await db.updateTable('webhook_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now, delivered_at: null })
    .where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).where('delivery_id', '=', deliveryId)
    .where('status', '<>', 'pending')
    .executeTakeFirst();
  const row = await db.selectFrom('webhook_deliveries as d')
    .innerJoin('outbox as o', (j) => j.onRef('o.tenant_id', '=', 'd.tenant_id').onRef('o.message_id', '=', 'd.message_id'))
    .selectAll('d').select('o.type')
    .where('d.tenant_id', '=', tenantId).where('d.endpoint_id', '=', endpointId).where('d.delivery_id', '=', deliveryId)
    .executeTakeFirst();
  return row && { ...row, requeued: Number(updated.numUpdatedRows) === 1 };
}
