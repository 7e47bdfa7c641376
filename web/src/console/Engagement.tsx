// Engagement: recognition (giving rules, gifts waiting for a manager, the leaderboard), NPS (the
// score per month and the comments) and households (pools, their members and journal), as tabs.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, ok, randomKey } from '../api/client';
import { useI18n } from '../i18n';
import { canWrite, useSession } from './session';

type Tab = 'recognition' | 'nps' | 'households';
const TABS: Tab[] = ['recognition', 'nps', 'households'];

export function Engagement() {
  const { t } = useI18n();
  const [tab, setTab] = useState<Tab>('recognition');
  const programs = useQuery({ queryKey: ['programs'], queryFn: () => ok(api.GET('/v1/programs')) });
  const [chosen, setChosen] = useState<string | null>(null);
  const programId = chosen ?? programs.data?.data[0]?.programId ?? '';
  return (
    <section>
      <div className="page-head">
        <h1>{t('engagement.title')}</h1>
        <label className="inline">{t('engagement.program')}
          <select value={programId} onChange={(e) => setChosen(e.target.value)}>
            {programs.data?.data.map((p) => <option key={p.programId} value={p.programId}>{p.name}</option>)}
          </select>
        </label>
      </div>
      <div role="tablist" aria-label={t('engagement.title')} className="tabs">
        {TABS.map((x) => (
          <button key={x} type="button" role="tab" id={`tab-${x}`} aria-selected={tab === x} aria-controls={`panel-${x}`}
            className={tab === x ? 'tab active' : 'tab'} onClick={() => setTab(x)}>{t(`engagement.tab.${x}`)}</button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {programId && tab === 'recognition' && <Recognition programId={programId} />}
        {programId && tab === 'nps' && <Nps programId={programId} />}
        {programId && tab === 'households' && <Households programId={programId} />}
      </div>
    </section>
  );
}

function Recognition({ programId }: { programId: string }) {
  const { t, num, date } = useI18n();
  const { session } = useSession();
  const queries = useQueryClient();
  const path = { params: { path: { programId } } };
  // From the list of recognition programs: asking a loyalty program for its giving rules would be a 404.
  const settings = useQuery({
    queryKey: ['recognition-programs'],
    queryFn: () => ok(api.GET('/v1/recognition-programs')),
    select: (list) => list.data.find((p) => p.programId === programId) ?? null,
  });
  const enabled = !!settings.data;
  const pending = useQuery({
    queryKey: ['gifts', programId, 'pending'], enabled,
    queryFn: () => ok(api.GET('/v1/programs/{programId}/gifts', { params: { path: { programId }, query: { status: 'pending', limit: 50 } } })),
  });
  const board = useQuery({ queryKey: ['leaderboard', programId], enabled, queryFn: () => ok(api.GET('/v1/programs/{programId}/recognition/leaderboard', path)) });
  const decide = useMutation({
    mutationFn: ({ giftId, verb }: { giftId: string; verb: 'approve' | 'decline' }) =>
      ok(verb === 'approve'
        ? api.POST('/v1/gifts/{giftId}/approve', { params: { path: { giftId }, header: { 'idempotency-key': randomKey() } }, body: {} })
        : api.POST('/v1/gifts/{giftId}/decline', { params: { path: { giftId }, header: { 'idempotency-key': randomKey() } }, body: {} })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['gifts', programId] }).then(() => queries.invalidateQueries({ queryKey: ['leaderboard', programId] })),
  });
  if (settings.isPending) return <p className="loading">{t('loading')}</p>;
  const s = settings.data;
  if (!s) return <p>{t('engagement.notRecognition')}</p>;
  const manager = session.user.role === 'owner' && canWrite(session.user.role, 'program');
  return (
    <>
      <dl className="kpis">
        <div className="kpi card"><dt>{t('engagement.allowance')}</dt><dd>{num(s.allowance)}</dd></div>
        <div className="kpi card"><dt>{t('engagement.period')}</dt><dd>{t(`engagement.period.${s.period}`)}</dd></div>
        <div className="kpi card"><dt>{t('engagement.maxGift')}</dt><dd>{num(s.maxGift)}</dd></div>
        <div className="kpi card"><dt>{t('engagement.threshold')}</dt><dd>{s.approvalThreshold === null ? '—' : num(s.approvalThreshold)}</dd></div>
      </dl>
      <p>{s.carryOver ? t('engagement.carryOver') : t('engagement.lapses')} {t('engagement.values')}: {s.values.join(', ')}</p>
      <h2>{t('engagement.pending')}</h2>
      {decide.error instanceof ApiError && <p role="alert" className="error">{decide.error.problem.detail}</p>}
      {pending.data?.data.length === 0 ? <p>{t('engagement.nothingPending')}</p> : (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead><tr><th>{t('engagement.when')}</th><th>{t('engagement.from')}</th><th>{t('engagement.to')}</th><th className="num">{t('points')}</th><th>{t('engagement.message')}</th><th>{t('engagement.value')}</th>{manager && <th><span className="visually-hidden">{t('engagement.decision')}</span></th>}</tr></thead>
            <tbody>
              {pending.data?.data.map((g) => (
                <tr key={g.giftId}>
                  <td>{date(g.createdAt)}</td><td><code>{g.giverId.slice(-8)}</code></td><td><code>{g.receiverId.slice(-8)}</code></td>
                  <td className="num">{num(g.amount)}</td><td>{g.message}</td><td>{g.value}</td>
                  {manager && (
                    <td className="actions">
                      <button type="button" disabled={decide.isPending} onClick={() => decide.mutate({ giftId: g.giftId, verb: 'approve' })}>{t('engagement.approve')}</button>{' '}
                      <button type="button" className="secondary" disabled={decide.isPending} onClick={() => decide.mutate({ giftId: g.giftId, verb: 'decline' })}>{t('engagement.decline')}</button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{t('engagement.leaderboard')}</h2>
      {board.data && board.data.leaders.length === 0 && <p>{t('engagement.noGifts')}</p>}
      {board.data && board.data.leaders.length > 0 && (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead><tr><th className="num">#</th><th>{t('engagement.member')}</th><th className="num">{t('engagement.received')}</th><th className="num">{t('engagement.gifts')}</th></tr></thead>
            <tbody>
              {board.data.leaders.map((l) => (
                <tr key={l.memberId}><td className="num">{l.rank}</td><td>{l.externalId ?? l.memberId}</td><td className="num">{num(l.received)}</td><td className="num">{num(l.gifts)}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Nps({ programId }: { programId: string }) {
  const { t, num, date } = useI18n();
  const report = useQuery({
    queryKey: ['nps', programId],
    queryFn: () => ok(api.GET('/v1/programs/{programId}/nps', { params: { path: { programId }, query: { period: 'month' } } })),
  });
  const comments = useQuery({
    queryKey: ['nps-comments', programId],
    queryFn: () => ok(api.GET('/v1/programs/{programId}/nps/comments', { params: { path: { programId }, query: { limit: 20 } } })),
  });
  const r = report.data;
  if (!r) return <p className="loading">{t('loading')}</p>;
  const score = (n: number | null) => (n === null ? '—' : num(n));
  return (
    <>
      <dl className="kpis">
        <div className="kpi big card"><dt>{t('engagement.nps')}</dt><dd data-testid="nps">{score(r.total.nps)}</dd></div>
        <div className="kpi card"><dt>{t('engagement.responses')}</dt><dd>{num(r.total.responses)}</dd></div>
        <div className="kpi card"><dt>{t('engagement.promoters')}</dt><dd>{num(r.total.promoters)}</dd></div>
        <div className="kpi card"><dt>{t('engagement.passives')}</dt><dd>{num(r.total.passives)}</dd></div>
        <div className="kpi card"><dt>{t('engagement.detractors')}</dt><dd>{num(r.total.detractors)}</dd></div>
      </dl>
      {r.groups.length > 0 && (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead><tr><th>{t('engagement.month')}</th><th className="num">{t('engagement.responses')}</th><th className="num">{t('engagement.promoters')}</th><th className="num">{t('engagement.passives')}</th><th className="num">{t('engagement.detractors')}</th><th className="num">{t('engagement.nps')}</th></tr></thead>
            <tbody>
              {r.groups.map((g) => (
                <tr key={g.period ?? ''}><td>{g.period ? g.period.slice(0, 7) : '—'}</td><td className="num">{num(g.responses)}</td><td className="num">{num(g.promoters)}</td><td className="num">{num(g.passives)}</td><td className="num">{num(g.detractors)}</td><td className="num">{score(g.nps)}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{t('engagement.comments')}</h2>
      {comments.data?.data.length === 0 && <p>{t('engagement.noComments')}</p>}
      <ul className="comments">
        {comments.data?.data.map((c) => (
          <li key={c.eventId}><strong>{c.score}</strong> <span className={`badge ${c.category}`}>{t(`engagement.${c.category}`)}</span> {c.comment} <small>{date(c.occurredAt)}</small></li>
        ))}
      </ul>
    </>
  );
}

function Households({ programId }: { programId: string }) {
  const { t, num, date } = useI18n();
  const [open, setOpen] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ['households', programId],
    queryFn: () => ok(api.GET('/v1/programs/{programId}/households', { params: { path: { programId }, query: { limit: 50 } } })),
  });
  const journal = useQuery({
    queryKey: ['household-journal', open], enabled: !!open,
    queryFn: () => ok(api.GET('/v1/households/{householdId}/journal', { params: { path: { householdId: open! }, query: { limit: 20 } } })),
  });
  if (!list.data) return <p className="loading">{t('loading')}</p>;
  if (list.data.data.length === 0) return <p>{t('engagement.noHouseholds')}</p>;
  return (
    <>
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead><tr><th>{t('engagement.household')}</th><th className="num">{t('engagement.members')}</th><th className="num">{t('engagement.available')}</th><th className="num">{t('engagement.pendingPoints')}</th><th><span className="visually-hidden">{t('engagement.journal')}</span></th></tr></thead>
          <tbody>
            {list.data.data.map((h) => (
              <tr key={h.householdId}>
                <td>{h.name}</td><td className="num">{h.members.length}</td><td className="num">{num(h.balance.available)}</td><td className="num">{num(h.balance.pending)}</td>
                <td><button type="button" className="link" onClick={() => setOpen(h.householdId)}>{t('engagement.journal')}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {open && journal.data && (
        <>
          <h2>{t('engagement.journal')}</h2>
          <div className="table-wrap" tabIndex={0}>
            <table>
              <thead><tr><th>{t('engagement.when')}</th><th>{t('engagement.action')}</th><th>{t('engagement.member')}</th><th className="num">{t('points')}</th></tr></thead>
              <tbody>
                {journal.data.data.map((e) => (
                  <tr key={e.entryId}>
                    <td>{date(e.createdAt)}</td><td>{e.action ? t(`engagement.action.${e.action as 'brought' | 'earned' | 'spent' | 'returned'}`) : e.kind}</td>
                    <td>{e.memberId ? <code>{e.memberId.slice(-8)}</code> : '—'}</td><td className="num">{num(e.change)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
