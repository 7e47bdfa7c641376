// Referrals: the program's settings (a form over PUT …/referral-settings), the funnel, and the
// referrals with their states and refusal reasons, filtered by state.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { api, ApiError, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { canWrite, useSession } from './session';

const STATES = ['pending', 'qualified', 'rewarded', 'rejected', 'reversed'] as const;
type State = (typeof STATES)[number];

interface Form {
  enabled: boolean;
  linkBaseUrl: string;
  condition: string;
  withinDays: string;
  referrerPoints: string;
  refereePoints: string;
  capCount: string;
  capPeriod: 'day' | 'week' | 'month' | 'year';
  lifetime: string;
}

const EMPTY: Form = {
  enabled: true, linkBaseUrl: 'https://', condition: 'event.type == "purchase"', withinDays: '30', referrerPoints: '500', refereePoints: '500',
  capCount: '', capPeriod: 'month', lifetime: '',
};

const orNull = (s: string) => (s.trim() === '' ? null : Number(s));

export function Referrals() {
  const { t, num, date } = useI18n();
  const { program, session } = useSession();
  const programId = program?.programId ?? '';
  const queries = useQueryClient();
  const writable = canWrite(session.user.role, 'program');
  const [state, setState] = useState<State | ''>('');
  const [form, setForm] = useState<Form | null>(null);
  const settings = useQuery({
    queryKey: ['referral-settings', programId], enabled: !!program,
    queryFn: async () => (await api.GET('/v1/programs/{programId}/referral-settings', { params: { path: { programId } } })).data ?? null,
  });
  const funnel = useQuery({
    queryKey: ['referral-funnel', programId], enabled: !!program,
    queryFn: () => ok(api.GET('/v1/programs/{programId}/referral-funnel', { params: { path: { programId } } })),
  });
  const list = useQuery({
    queryKey: ['referrals', programId, state], enabled: !!program,
    queryFn: () => ok(api.GET('/v1/referrals', { params: { query: { programId, limit: 50, ...(state ? { state } : {}) } } })),
  });
  const s = settings.data;
  const shown: Form = form ?? (s && s.updatedAt !== null ? {
    enabled: s.enabled, linkBaseUrl: s.linkBaseUrl ?? '', condition: s.condition, withinDays: s.withinDays === null ? '' : String(s.withinDays),
    referrerPoints: String(s.referrer.points), refereePoints: String(s.referee.points), capCount: s.caps.perPeriod ? String(s.caps.perPeriod.count) : '',
    capPeriod: (s.caps.perPeriod?.period ?? 'month') as Form['capPeriod'], lifetime: s.caps.lifetime === null ? '' : String(s.caps.lifetime),
  } : EMPTY);
  const save = useMutation({
    mutationFn: (f: Form) => ok(api.PUT('/v1/programs/{programId}/referral-settings', {
      params: { path: { programId } },
      body: {
        enabled: f.enabled, linkBaseUrl: f.linkBaseUrl, condition: f.condition, withinDays: orNull(f.withinDays),
        referrer: { points: Number(f.referrerPoints || 0), rewardId: s?.referrer.rewardId ?? null },
        referee: { points: Number(f.refereePoints || 0), rewardId: s?.referee.rewardId ?? null },
        caps: { perPeriod: f.capCount.trim() === '' ? null : { count: Number(f.capCount), period: f.capPeriod }, lifetime: orNull(f.lifetime) },
      },
    })),
    onSuccess: () => {
      setForm(null);
      void queries.invalidateQueries({ queryKey: ['referral-settings', programId] });
    },
  });
  const set = (patch: Partial<Form>) => setForm({ ...shown, ...patch });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate(shown);
  };
  const f = funnel.data;
  return (
    <section>
      <h1>{t('nav.referrals')}</h1>
      {f && (
        <dl className="kpis" aria-label={t('referrals.funnel')}>
          {([['referrals.codesShared', f.codesShared], ['referrals.joined', f.joined], ['referrals.qualified', f.qualified],
            ['referrals.rewarded', f.rewarded], ['referrals.reversed', f.reversed], ['referrals.pointsPaid', f.pointsPaid]] as [MessageKey, number][]).map(([k, v]) => (
            <div className="kpi card" key={k}><dt>{t(k)}</dt><dd data-testid={k}>{num(v)}</dd></div>
          ))}
        </dl>
      )}
      {f && Object.keys(f.rejected).length > 0 && (
        <p>{t('referrals.rejectedBy')}: {Object.entries(f.rejected).map(([r, n]) => `${t(`referrals.reason.${r}` as MessageKey)} ${num(n)}`).join(' · ')}</p>
      )}
      <form className="card inline-form" onSubmit={submit} aria-labelledby="referral-settings">
        <h2 id="referral-settings">{t('referrals.settings')}</h2>
        {s?.updatedAt === null && <p>{t('referrals.notSet')}</p>}
        <fieldset disabled={!writable || save.isPending} style={{ border: 0, padding: 0, margin: 0, display: 'contents' }}>
          <label className="check"><input type="checkbox" checked={shown.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> {t('referrals.enabled')}</label>
          <label>{t('referrals.linkBaseUrl')}<input type="url" required value={shown.linkBaseUrl} onChange={(e) => set({ linkBaseUrl: e.target.value })} /></label>
          <label>{t('referrals.condition')}<input required value={shown.condition} onChange={(e) => set({ condition: e.target.value })} /></label>
          <label>{t('referrals.withinDays')}<input type="number" min={1} value={shown.withinDays} onChange={(e) => set({ withinDays: e.target.value })} /></label>
          <label>{t('referrals.referrerPoints')}<input type="number" min={0} value={shown.referrerPoints} onChange={(e) => set({ referrerPoints: e.target.value })} /></label>
          <label>{t('referrals.refereePoints')}<input type="number" min={0} value={shown.refereePoints} onChange={(e) => set({ refereePoints: e.target.value })} /></label>
          <label>{t('referrals.capCount')}<input type="number" min={1} value={shown.capCount} onChange={(e) => set({ capCount: e.target.value })} /></label>
          <label>{t('referrals.capPeriod')}
            <select value={shown.capPeriod} onChange={(e) => set({ capPeriod: e.target.value as Form['capPeriod'] })}>
              {(['day', 'week', 'month', 'year'] as const).map((p) => <option key={p} value={p}>{t(`referrals.period.${p}` as MessageKey)}</option>)}
            </select>
          </label>
          <label>{t('referrals.lifetime')}<input type="number" min={1} value={shown.lifetime} onChange={(e) => set({ lifetime: e.target.value })} /></label>
          <button type="submit">{t('referrals.save')}</button>
        </fieldset>
        {save.isSuccess && <p role="status" className="ok">{t('referrals.saved')}</p>}
        {save.error instanceof ApiError && (
          <p role="alert" className="error">{save.error.problem.errors?.map((e) => `${e.field}: ${e.message}`).join('; ') || save.error.message}</p>
        )}
      </form>
      <h2>{t('referrals.list')}</h2>
      <label>{t('referrals.state')}
        <select value={state} onChange={(e) => setState(e.target.value as State | '')}>
          <option value="">{t('referrals.all')}</option>
          {STATES.map((x) => <option key={x} value={x}>{t(`referrals.state.${x}` as MessageKey)}</option>)}
        </select>
      </label>
      <div className="table-wrap">
        <table>
          <thead><tr><th>{t('referrals.joinedAt')}</th><th>{t('referrals.referrer')}</th><th>{t('referrals.referee')}</th><th>{t('referrals.state')}</th><th>{t('referrals.reason')}</th><th className="num">{t('referrals.points')}</th></tr></thead>
          <tbody>
            {list.data?.data.map((r) => (
              <tr key={r.referralId} data-testid="referral-row">
                <td>{date(r.joinedAt)}</td>
                <td><Link to={`/members/${r.referrerId}`}>{r.referrerId.slice(-8)}</Link></td>
                <td><Link to={`/members/${r.refereeId}`}>{r.refereeId.slice(-8)}</Link></td>
                <td>{t(`referrals.state.${r.state}` as MessageKey)}</td>
                <td>{r.reason ? <span title={r.detail ?? ''}>{t(`referrals.reason.${r.reason}` as MessageKey)}</span> : '—'}</td>
                <td className="num">{num(r.referrerPoints + r.refereePoints)}</td>
              </tr>
            ))}
            {list.data?.data.length === 0 && <tr><td colSpan={6}>{t('referrals.none')}</td></tr>}
          </tbody>
        </table>
      </div>
    </section>
  );
}
