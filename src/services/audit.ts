// The audit log (SPEC §12): every write a console user or an admin key makes, who made it, what
// it was, the resource before (for a PUT or PATCH) and the answer after. Append-only.
import { uuidv7 } from '../core/ids.js';
import type { Laurel } from './context.js';

export interface AuditRecord {
  auditId: string;
  actor: string;
  actorName: string;
  method: string;
  route: string;
  path: string;
  status: number;
  request: unknown;
  before: unknown;
  after: unknown;
  createdAt: Date;
}

export type AuditInput = Omit<AuditRecord, 'auditId' | 'createdAt'>;

// Fields never written to the log, wherever they appear in a body.
const SECRET_FIELDS = new Set(['password', 'secret', 'key', 'token', 'webhookSecret']);

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? '[redacted]' : redact(v)]));
}

const json = (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(redact(value)));

export async function recordAudit(laurel: Laurel, tenantId: string, input: AuditInput): Promise<void> {
  await laurel.db.insertInto('audit_log').values({
    tenant_id: tenantId, audit_id: uuidv7(), actor: input.actor, actor_name: input.actorName, method: input.method, route: input.route,
    path: input.path, status: input.status, request: json(input.request), before: json(input.before), after: json(input.after), created_at: laurel.clock.now(),
  }).execute();
}

export interface AuditFilter {
  actor?: string;
  /** part of the path: a member id, a rule id, `adjustments` */
  path?: string;
  method?: string;
  from?: Date;
  to?: Date;
  before?: string | null;
  limit: number;
}

/** Newest first; asks for limit+1 rows so the caller knows if more follow. */
export async function listAudit(laurel: Laurel, tenantId: string, filter: AuditFilter): Promise<AuditRecord[]> {
  let q = laurel.db.selectFrom('audit_log').selectAll().where('tenant_id', '=', tenantId);
  if (filter.actor) q = q.where((eb) => eb.or([eb('actor', '=', filter.actor!), eb('actor_name', '=', filter.actor!)]));
  if (filter.path) q = q.where('path', 'like', `%${filter.path.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (filter.method) q = q.where('method', '=', filter.method);
  if (filter.from) q = q.where('created_at', '>=', filter.from);
  if (filter.to) q = q.where('created_at', '<', filter.to);
  if (filter.before) q = q.where('audit_id', '<', filter.before);
  const rows = await q.orderBy('audit_id', 'desc').limit(filter.limit + 1).execute();
  return rows.map((r) => ({
    auditId: r.audit_id, actor: r.actor, actorName: r.actor_name, method: r.method, route: r.route, path: r.path, status: r.status,
    request: r.request, before: r.before, after: r.after, createdAt: r.created_at,
  }));
}
