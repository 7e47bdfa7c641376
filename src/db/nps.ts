// NPS queries over a program's survey_response events: counts per group, and the comments.
import { sql, type RawBuilder } from 'kysely';
import type { NpsCounts, NpsDimension, NpsPeriod } from '../core/engagement/nps.js';
import type { Db } from './schema.js';

export interface NpsQuery {
  tenantId: string;
  programId: string;
  timeZone: string;
  from: Date;
  to: Date;
  period: NpsPeriod;
  /** a member attribute: the segment dimension */
  segment: string | null;
  groupBy: NpsDimension[];
  channel: string | null;
}

export interface NpsRow extends NpsCounts {
  period: Date | null;
  channel: string | null;
  segment: string | null;
}

const score = sql`(ev.payload -> 'attributes' ->> 'score')::int`;

function where(q: Pick<NpsQuery, 'tenantId' | 'programId' | 'from' | 'to' | 'channel'>): RawBuilder<unknown> {
  return sql`ev.tenant_id = ${q.tenantId} and ev.program_id = ${q.programId} and ev.type = 'survey_response'
    and ev.occurred_at >= ${q.from} and ev.occurred_at < ${q.to} ${q.channel === null ? sql`` : sql`and ev.channel = ${q.channel}`}`;
}

/** Responses, promoters, passives and detractors per group (the dimensions asked for), or in all. */
export async function npsCounts(db: Db, q: NpsQuery): Promise<NpsRow[]> {
  const dims = {
    period: sql`(date_trunc(${q.period}, ev.occurred_at at time zone ${q.timeZone}) at time zone ${q.timeZone})`,
    channel: sql`ev.channel`,
    segment: q.segment === null ? sql`null::text` : sql`(m.attributes ->> ${q.segment})`,
  };
  const pick = (d: NpsDimension) => (q.groupBy.includes(d) ? dims[d] : sql`null`);
  // Grouped by position: the same expression written twice would carry other parameters, which PostgreSQL cannot match.
  const { rows } = await sql<{ period: Date | null; channel: string | null; segment: string | null; responses: number; promoters: number; passives: number; detractors: number }>`
    select ${pick('period')} as period, ${pick('channel')}::text as channel, ${pick('segment')}::text as segment,
      count(*)::int as responses,
      count(*) filter (where ${score} >= 9)::int as promoters,
      count(*) filter (where ${score} between 7 and 8)::int as passives,
      count(*) filter (where ${score} <= 6)::int as detractors
    from events ev join members m on m.tenant_id = ev.tenant_id and m.member_id = ev.member_id
    where ${where(q)}
    ${q.groupBy.length ? sql`group by 1, 2, 3 order by 1 nulls last, 2 nulls last, 3 nulls last` : sql``}`.execute(db);
  return rows.map((r) => ({ ...r, period: r.period === null ? null : new Date(r.period) }));
}

export interface CommentRow {
  event_id: string; member_id: string; score: number; comment: string; channel: string | null; occurred_at: Date;
}

/** Responses with a comment, lowest score first (detractors' reasons first), newest first within a score. */
export async function npsComments(db: Db, q: Omit<NpsQuery, 'period' | 'segment' | 'groupBy'> & { minScore: number; maxScore: number; limit: number }): Promise<CommentRow[]> {
  const { rows } = await sql<CommentRow>`
    select ev.event_id, ev.member_id, ${score} as score, ev.payload -> 'attributes' ->> 'comment' as comment, ev.channel, ev.occurred_at
    from events ev join members m on m.tenant_id = ev.tenant_id and m.member_id = ev.member_id
    where ${where(q)} and ${score} between ${q.minScore} and ${q.maxScore}
      and coalesce(ev.payload -> 'attributes' ->> 'comment', '') <> ''
    order by score, ev.occurred_at desc, ev.event_id desc
    limit ${q.limit}`.execute(db);
  return rows;
}
