import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { api, ApiError, ok, randomKey } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { useCatalog } from './Rewards';
import { MemberBadges } from './Achievements';
import { canWrite, useSession } from './session';

export function Members() {
  const { t } = useI18n();
  const { program } = useSession();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const [text, setText] = useState(q);
  const navigate = useNavigate();
  const found = useQuery({
    queryKey: ['search', q], enabled: q !== '',
    queryFn: () => ok(api.GET('/v1/members/search', { params: { query: { q, ...(program ? { programId: program.programId } : {}) } } })),
  });
  const list = useQuery({
    queryKey: ['members', program?.programId], enabled: q === '',
    queryFn: () => ok(api.GET('/v1/members', { params: { query: { limit: 50, ...(program ? { programId: program.programId } : {}) } } })),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setParams(text.trim() ? { q: text.trim() } : {});
  };
  const rows = q ? found.data?.data : list.data?.data;
  const only = q && found.data?.data.length === 1 ? found.data.data[0]!.memberId : null;
  useEffect(() => {
    if (only) navigate(`/members/${only}`);
  }, [only, navigate]);
  return (
    <section>
      <h1>{t('nav.members')}</h1>
      <form role="search" onSubmit={submit} className="search">
        <label htmlFor="member-search" className="visually-hidden">{t('members.search')}</label>
        <input id="member-search" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder={t('members.searchPlaceholder')} />
        <button type="submit">{t('members.find')}</button>
      </form>
      {q && found.data?.data.length === 0 && <p role="status">{t('members.none', { q })}</p>}
      {rows && rows.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead><tr><th>{t('members.externalId')}</th><th>{t('members.email')}</th><th>{t('members.card')}</th><th>{t('members.tier')}</th><th>{t('members.status')}</th></tr></thead>
            <tbody>
              {rows.map((m) => (
                <tr key={m.memberId}>
                  <td><Link to={`/members/${m.memberId}`}>{m.externalId ?? m.memberId.slice(0, 8)}</Link></td>
                  <td>{m.email}</td><td>{m.cardCode}</td><td>{m.tier}</td><td>{t(`status.${m.status}` as MessageKey)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function MemberProfile() {
  const { memberId = '' } = useParams();
  const { t, num, date, lang } = useI18n();
  const { session } = useSession();
  const queries = useQueryClient();
  const path = { params: { path: { memberId } } };
  const member = useQuery({ queryKey: ['member', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}', path)) });
  const balances = useQuery({ queryKey: ['balances', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/balances', path)) });
  const journal = useQuery({ queryKey: ['journal', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/journal', { params: { path: { memberId }, query: { limit: 20 } } })) });
  const tier = useQuery({ queryKey: ['tier', memberId], queryFn: async () => (await api.GET('/v1/members/{memberId}/tier', path)).data ?? null });
  const lots = useQuery({ queryKey: ['lots', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/lots', path)) });
  const rewards = useQuery({ queryKey: ['instances', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/reward-instances', path)) });
  const events = useQuery({ queryKey: ['events', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/events', { params: { path: { memberId }, query: { limit: 20 } } })) });
  const grades = useQuery({ queryKey: ['grades', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/grade-history', path)) });
  const catalog = useCatalog();
  const money = (minor: number, currency: string) => new Intl.NumberFormat(lang === 'tr' ? 'tr-TR' : 'en-GB', { style: 'currency', currency }).format(minor / 100);
  const names = new Map(catalog.data?.data.map((r) => [r.rewardId, r.name]));
  const refresh = () => queries.invalidateQueries({ predicate: (q) => q.queryKey[1] === memberId });
  const status = useMutation({
    mutationFn: (action: 'suspend' | 'reactivate') => ok(action === 'suspend'
      ? api.POST('/v1/members/{memberId}/suspend', path) : api.POST('/v1/members/{memberId}/reactivate', path)),
    onSuccess: refresh,
  });
  const m = member.data;
  if (member.error) return <p role="alert">{t('members.notFound')}</p>;
  if (!m) return <p className="loading">{t('loading')}</p>;
  const support = canWrite(session.user.role, 'members');
  const points = balances.data?.data.find((b) => b.wallet === 'points') ?? balances.data?.data[0];
  const title = m.externalId ?? m.email ?? (m.status === 'erased' ? t('profile.erasedMember', { id: m.memberId.slice(0, 8) }) : m.memberId);
  return (
    <section>
      <div className="page-head">
        <h1>{title} <span className={`pill ${m.status}`} data-testid="member-status">{t(`status.${m.status}` as MessageKey)}</span></h1>
        {support && m.status !== 'erased' && (
          <div className="actions">
            <button type="button" className="secondary" onClick={() => status.mutate(m.status === 'suspended' ? 'reactivate' : 'suspend')}>
              {m.status === 'suspended' ? t('members.reactivate') : t('members.suspend')}
            </button>
            <Erase memberId={memberId} onDone={refresh} />
          </div>
        )}
      </div>
      <dl className="facts">
        <div><dt>{t('members.email')}</dt><dd>{m.email ?? '—'}</dd></div>
        <div><dt>{t('members.phone')}</dt><dd>{m.phone ?? '—'}</dd></div>
        <div><dt>{t('members.card')}</dt><dd>{m.cardCode ?? '—'}</dd></div>
        <div><dt>{t('members.enrolled')}</dt><dd>{date(m.enrolledAt)}</dd></div>
        <div><dt>{t('profile.grade')}</dt><dd>{m.grade ?? '—'}</dd></div>
      </dl>
      {points && (
        <dl className="kpis" aria-label={t('members.balances')}>
          <div className="kpi card"><dt>{t('balance.available')}</dt><dd data-testid="available">{num(points.available)}</dd></div>
          <div className="kpi card"><dt>{t('balance.pending')}</dt><dd>{num(points.pending)}</dd></div>
          <div className="kpi card"><dt>{t('balance.held')}</dt><dd>{num(points.held)}</dd></div>
          <div className="kpi card"><dt>{t('balance.lifetime')}</dt><dd>{num(points.lifetimeEarned)}</dd></div>
          {tier.data && <div className="kpi card"><dt>{t('members.tier')}</dt><dd>{tier.data.tier.name}</dd></div>}
        </dl>
      )}
      {tier.data?.nextTier && (
        <div className="tier-progress">
          <progress max={tier.data.metric + tier.data.missing} value={Math.max(0, tier.data.metric)} aria-label={t('portal.progress')} />
          <p>{t('tier.progress', { missing: num(tier.data.missing), next: tier.data.nextTier })}</p>
        </div>
      )}
      <MemberBadges memberId={memberId} />
      {support && m.status === 'active' && <Adjust memberId={memberId} onDone={refresh} />}
      {support && m.status === 'active' && <IssueReward memberId={memberId} onDone={refresh} />}
      <h2>{t('members.journal')}</h2>
      {/* Focusable: on a phone the table scrolls sideways, and a keyboard must reach it. */}
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('members.journal')}>
        <table>
          <thead><tr><th>{t('journal.when')}</th><th>{t('journal.kind')}</th><th className="num">{t('journal.amount')}</th><th>{t('journal.reason')}</th><th>{t('journal.postings')}</th></tr></thead>
          <tbody>
            {journal.data?.data.map((e) => (
              <tr key={e.entryId}>
                <td>{date(e.createdAt)}</td><td>{t(`kind.${e.kind}` as MessageKey)}</td><td className="num">{num(e.amount)}</td>
                <td>{e.reason ?? e.ref ?? ''}</td>
                <td className="postings">{e.postings.map((p) => `${p.account} ${p.amount > 0 ? '+' : ''}${num(p.amount)}`).join(' · ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>{t('profile.events')}</h2>
      {events.data?.data.length === 0 && <p>{t('profile.noEvents')}</p>}
      {!!events.data?.data.length && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label={t('profile.events')}>
          <table data-testid="events">
            <thead><tr><th>{t('journal.when')}</th><th>{t('profile.event')}</th><th className="num">{t('journal.amount')}</th><th>{t('profile.explanation')}</th></tr></thead>
            <tbody>
              {events.data.data.map((e) => (
                <tr key={e.eventId}>
                  <td>{date(e.occurredAt)}</td>
                  <td>{e.type} <code className="muted">{e.externalId}</code>{e.total != null && e.currency ? ` · ${money(e.total, e.currency)}` : ''}</td>
                  <td className="num">{num(e.points)}</td>
                  <td>
                    {e.explanation.length === 0 ? <span className="muted">{t('profile.noRule')}</span> : (
                      <ul className="explained">
                        {e.explanation.map((x) => (
                          <li key={`${x.ruleId}-${x.wallet}`}>
                            {t('profile.rulePaid', { rule: x.name, points: num(x.points), wallet: x.wallet })}
                            {x.limitedBy.length > 0 && <span className="muted"> ({t('profile.limitedBy', { limits: x.limitedBy.join(', '), uncapped: num(x.uncapped) })})</span>}
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{t('members.lots')}</h2>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('members.lots')}>
        <table>
          <thead><tr><th>{t('lots.earned')}</th><th>{t('lots.wallet')}</th><th className="num">{t('lots.amount')}</th><th className="num">{t('lots.remaining')}</th><th>{t('lots.expires')}</th></tr></thead>
          <tbody>
            {lots.data?.data.map((l) => (
              <tr key={l.lotId}>
                <td>{date(l.earnedAt)}{l.pending ? ` (${t('balance.pending').toLowerCase()})` : ''}</td><td>{l.wallet}</td>
                <td className="num">{num(l.amount)}</td><td className="num">{num(l.remaining)}</td><td>{l.expiresAt ? date(l.expiresAt) : t('lots.never')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>{t('members.rewards')}</h2>
      {rewards.data?.data.length === 0 && <p>{t('members.noRewards')}</p>}
      <ul className="plain" data-testid="member-rewards">
        {rewards.data?.data.map((r) => (
          <li key={r.instanceId}>
            <strong>{names.get(r.rewardId) ?? ''}</strong> · <code>{r.code}</code>{r.partnerCode ? <> · <code>{r.partnerCode}</code></> : null} · {t(`instance.${r.status}` as MessageKey)} · {num(r.cost)} {t('points')}
            {r.expiresAt && r.status === 'issued' ? ` · ${t('profile.until', { date: date(r.expiresAt) })}` : ''}
          </li>
        ))}
      </ul>
      <h2>{t('profile.grades')}</h2>
      {grades.data?.data.length === 0 && <p>{t('profile.noGrades')}</p>}
      <ul className="plain" data-testid="grade-history">
        {grades.data?.data.map((g) => (
          <li key={g.historyId}>{date(g.at)}: {g.fromGrade ?? '—'} → <strong>{g.toGrade ?? '—'}</strong> <span className="muted">({g.reason})</span></li>
        ))}
      </ul>
    </section>
  );
}

/** GDPR erase, after a dialog that says what it does and cannot be undone. */
function Erase({ memberId, onDone }: { memberId: string; onDone: () => void }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const erase = useMutation({
    mutationFn: () => ok(api.POST('/v1/members/{memberId}/erase', { params: { path: { memberId } } })),
    onSuccess: () => {
      setOpen(false);
      onDone();
    },
  });
  return (
    <>
      <button type="button" className="danger" onClick={() => setOpen(true)}>{t('profile.erase')}</button>
      {open && (
        <div className="modal-backdrop">
          <div role="alertdialog" aria-modal="true" aria-labelledby="erase-title" aria-describedby="erase-text" className="card modal">
            <h2 id="erase-title">{t('profile.eraseTitle')}</h2>
            <p id="erase-text">{t('profile.eraseText')}</p>
            {erase.error instanceof ApiError && <p role="alert" className="error">{erase.error.message}</p>}
            <div className="actions">
              <button type="button" className="secondary" autoFocus onClick={() => setOpen(false)}>{t('profile.cancel')}</button>
              <button type="button" className="danger" disabled={erase.isPending} onClick={() => erase.mutate()}>{t('profile.eraseConfirm')}</button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}

/** Support gives the member a reward of the catalog: redeemed for them, paid with their points. */
function IssueReward({ memberId, onDone }: { memberId: string; onDone: () => void }) {
  const { t, num } = useI18n();
  const options = useQuery({ queryKey: ['member-rewards', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/rewards', { params: { path: { memberId } } })) });
  const [rewardId, setRewardId] = useState('');
  const redeemable = options.data?.data.filter((x) => x.redeemable) ?? [];
  const chosen = rewardId || redeemable[0]?.reward.rewardId || '';
  const issue = useMutation({
    mutationFn: () => ok(api.POST('/v1/members/{memberId}/rewards/{rewardId}/redeem', {
      params: { path: { memberId, rewardId: chosen }, header: { 'idempotency-key': randomKey() } }, body: { channel: 'console' },
    })),
    onSuccess: () => {
      void options.refetch();
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    issue.mutate();
  };
  return (
    <form className="card adjust" onSubmit={submit} aria-labelledby="issue-title">
      <h2 id="issue-title">{t('profile.issueTitle')}</h2>
      <p className="muted wide">{t('profile.issueHelp')}</p>
      <label>{t('rewardsPage.reward')}
        <select aria-label={t('rewardsPage.reward')} value={chosen} onChange={(e) => setRewardId(e.target.value)} required>
          {redeemable.length === 0 && <option value="">{t('profile.nothingRedeemable')}</option>}
          {redeemable.map((x) => <option key={x.reward.rewardId} value={x.reward.rewardId}>{x.reward.name} · {num(x.reward.cost)} {t('points')}</option>)}
        </select>
      </label>
      <button type="submit" disabled={issue.isPending || !chosen}>{t('profile.issue')}</button>
      {issue.error instanceof ApiError && <p role="alert" className="error">{issue.error.message}</p>}
      {issue.isSuccess && <p role="status" className="ok" data-testid="issued-code">{t('profile.issued', { code: issue.data.instance.code })}{issue.data.instance.partnerCode ? ` · ${issue.data.instance.partnerCode}` : ''}</p>}
    </form>
  );
}

function Adjust({ memberId, onDone }: { memberId: string; onDone: () => void }) {
  const { t } = useI18n();
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const adjust = useMutation({
    mutationFn: () => ok(api.POST('/v1/members/{memberId}/adjustments', { params: { path: { memberId }, header: { 'idempotency-key': randomKey() } }, body: { amount: Number(amount), reason } })),
    onSuccess: () => {
      setAmount('');
      setReason('');
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    adjust.mutate();
  };
  return (
    <form className="card adjust" onSubmit={submit} aria-labelledby="adjust-title">
      <h2 id="adjust-title">{t('adjust.title')}</h2>
      <label>{t('adjust.amount')}<input type="number" step="1" required value={amount} onChange={(e) => setAmount(e.target.value)} /></label>
      <label>{t('adjust.reason')}<input type="text" required maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} /></label>
      <button type="submit" disabled={adjust.isPending}>{t('adjust.submit')}</button>
      {adjust.error instanceof ApiError && <p role="alert" className="error">{adjust.error.message}</p>}
      {adjust.isSuccess && <p role="status" className="ok">{t('adjust.done')}</p>}
    </form>
  );
}
