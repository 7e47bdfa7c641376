import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { api, ApiError, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { canWrite, useSession } from './session';

type Period = 'monthly' | 'annual' | 'lifetime';
const PERIODS: Period[] = ['monthly', 'annual', 'lifetime'];

/** Paid membership plans and the members' memberships, each with its state, history and fees. */
export function Memberships() {
  const { t, num, date } = useI18n();
  const { program, session } = useSession();
  const programId = program?.programId ?? '';
  const queries = useQueryClient();
  const role = session.user.role;
  const plans = useQuery({
    queryKey: ['membership-plans', programId], enabled: !!program,
    queryFn: () => ok(api.GET('/v1/membership-plans', { params: { query: { programId } } })),
  });
  const memberships = useQuery({
    queryKey: ['memberships', programId], enabled: !!program,
    queryFn: () => ok(api.GET('/v1/memberships', { params: { query: { programId, limit: 50 } } })),
  });
  const [selected, setSelected] = useState<string | null>(null);
  const planCode = (planId: string) => plans.data?.data.find((p) => p.planId === planId)?.code ?? planId.slice(0, 8);
  const empty = { code: '', name: '', fee: '', currency: 'EUR', period: 'monthly' as Period, trialDays: '0', earnMultiplier: '', percentBack: '', flags: '' };
  const [form, setForm] = useState(empty);
  const create = useMutation({
    mutationFn: () => ok(api.POST('/v1/membership-plans', { body: {
      programId, code: form.code, name: form.name, fee: Number(form.fee), currency: form.currency, period: form.period,
      ...(form.period === 'lifetime' ? {} : { trialDays: Number(form.trialDays) }),
      benefits: {
        ...(form.earnMultiplier ? { earnMultiplier: form.earnMultiplier } : {}), ...(form.percentBack ? { percentBack: form.percentBack } : {}),
        flags: form.flags.split(',').map((f) => f.trim()).filter((f) => f !== ''),
      },
    } })),
    onSuccess: () => {
      setForm(empty);
      void queries.invalidateQueries({ queryKey: ['membership-plans'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const canPlan = role === 'owner' || role === 'marketer';
  return (
    <section>
      <h1>{t('nav.memberships')}</h1>
      <h2>{t('memberships.plans')}</h2>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('memberships.plans')}>
        <table>
          <thead><tr>
            <th>{t('memberships.code')}</th><th>{t('rules.name')}</th><th className="num">{t('memberships.fee')}</th><th>{t('memberships.period')}</th>
            <th className="num">{t('memberships.trialDays')}</th><th>{t('memberships.benefits')}</th>
          </tr></thead>
          <tbody>
            {plans.data?.data.map((p) => (
              <tr key={p.planId}>
                <td>{p.code}</td><td>{p.name}</td><td className="num">{num(p.fee / 100)} {p.currency}</td>
                <td>{t(`memberships.period.${p.period}` as MessageKey)}</td><td className="num">{num(p.trialDays)}</td>
                <td>{[
                  p.benefits.earnMultiplier ? `×${p.benefits.earnMultiplier}` : null,
                  p.benefits.percentBack ? t('memberships.percentBackShort', { percent: p.benefits.percentBack }) : null,
                  p.benefits.tier ? t(`memberships.tier.${p.benefits.tierMode}` as MessageKey, { tier: p.benefits.tier }) : null,
                  p.benefits.includedRewards.length > 0
                    ? t('memberships.includedRewards', { n: num(p.benefits.includedRewards.reduce((s, r) => s + r.quantity, 0)) }) : null,
                  ...p.benefits.flags,
                ].filter(Boolean).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {plans.data?.data.length === 0 && <p role="status">{t('memberships.noPlans')}</p>}
      {canPlan && (
        <form className="card inline-form" onSubmit={submit} aria-labelledby="new-plan">
          <h3 id="new-plan">{t('memberships.newPlan')}</h3>
          <label>{t('memberships.code')}<input required pattern="[a-z0-9][a-z0-9_\-]{0,63}" value={form.code} onChange={(e) => setForm({ ...form, code: e.target.value })} /></label>
          <label>{t('rules.name')}<input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
          <label>{t('memberships.feeMinor')}<input required type="number" min={0} step={1} value={form.fee} onChange={(e) => setForm({ ...form, fee: e.target.value })} /></label>
          <label>{t('memberships.currency')}<input required pattern="[A-Z]{3}" value={form.currency} onChange={(e) => setForm({ ...form, currency: e.target.value })} /></label>
          <label>{t('memberships.period')}
            <select value={form.period} onChange={(e) => setForm({ ...form, period: e.target.value as Period })}>
              {PERIODS.map((p) => <option key={p} value={p}>{t(`memberships.period.${p}` as MessageKey)}</option>)}
            </select>
          </label>
          {form.period !== 'lifetime' && <label>{t('memberships.trialDays')}<input type="number" min={0} max={365} value={form.trialDays} onChange={(e) => setForm({ ...form, trialDays: e.target.value })} /></label>}
          <label>{t('memberships.multiplier')}<input inputMode="decimal" placeholder="2" value={form.earnMultiplier} onChange={(e) => setForm({ ...form, earnMultiplier: e.target.value })} /></label>
          <label>{t('memberships.percentBack')}<input inputMode="decimal" placeholder="10" value={form.percentBack} onChange={(e) => setForm({ ...form, percentBack: e.target.value })} /></label>
          <label>{t('memberships.flags')}<input placeholder="free_shipping" value={form.flags} onChange={(e) => setForm({ ...form, flags: e.target.value })} /></label>
          <button type="submit" disabled={create.isPending}>{t('memberships.createPlan')}</button>
          {create.error instanceof ApiError && <p role="alert" className="error">{create.error.message}</p>}
        </form>
      )}

      <h2>{t('memberships.members')}</h2>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('memberships.members')}>
        <table>
          <thead><tr>
            <th>{t('memberships.member')}</th><th>{t('memberships.plan')}</th><th>{t('members.status')}</th><th>{t('memberships.since')}</th>
            <th>{t('memberships.benefitsUntil')}</th><th>{t('memberships.provider')}</th><th><span className="visually-hidden">{t('memberships.history')}</span></th>
          </tr></thead>
          <tbody>
            {memberships.data?.data.map((m) => (
              <tr key={m.membershipId} aria-selected={selected === m.membershipId}>
                <td><Link to={`/members/${m.memberId}`}>{m.memberId.slice(0, 8)}</Link></td>
                <td>{planCode(m.planId)}</td>
                <td>{t(`memberships.status.${m.status}` as MessageKey)}{m.entitled ? ' ✓' : ''}</td>
                <td>{date(m.since)}</td>
                <td>{m.status === 'expired' ? '—' : m.expiresAt ? date(m.expiresAt) : t('memberships.forLife')}</td>
                <td>{m.provider}</td>
                <td><button type="button" onClick={() => setSelected(m.membershipId)} aria-label={t('memberships.showHistory', { status: t(`memberships.status.${m.status}` as MessageKey) })}>
                  {t('memberships.history')}
                </button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {memberships.data?.data.length === 0 && <p role="status">{t('memberships.none')}</p>}
      {selected && <MembershipDetail membershipId={selected} canCancel={canWrite(role, 'members')} />}
    </section>
  );
}

function MembershipDetail({ membershipId, canCancel }: { membershipId: string; canCancel: boolean }) {
  const { t, num, date } = useI18n();
  const queries = useQueryClient();
  const detail = useQuery({
    queryKey: ['membership', membershipId],
    queryFn: () => ok(api.GET('/v1/memberships/{membershipId}', { params: { path: { membershipId } } })),
  });
  const cancel = useMutation({
    mutationFn: (atPeriodEnd: boolean) => ok(api.POST('/v1/memberships/{membershipId}/cancel', { params: { path: { membershipId } }, body: { atPeriodEnd } })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ['membership', membershipId] });
      void queries.invalidateQueries({ queryKey: ['memberships'] });
    },
  });
  const m = detail.data;
  if (!m) return <p className="loading">{t('loading')}</p>;
  const open = m.status !== 'expired' && !(m.status === 'cancelled' && !m.entitled);
  return (
    <div className="card" aria-labelledby="membership-detail">
      <h2 id="membership-detail">{t('memberships.history')}: {m.externalId}</h2>
      <p data-testid="membership-status">{t(`memberships.status.${m.status}` as MessageKey)} — {m.entitled ? t('memberships.entitled') : t('memberships.notEntitled')}</p>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('memberships.history')}>
        <table>
          <thead><tr><th>{t('memberships.at')}</th><th>{t('memberships.change')}</th><th>{t('memberships.cause')}</th></tr></thead>
          <tbody>
            {m.history.map((h) => (
              <tr key={h.transitionId}>
                <td>{date(h.at)}</td>
                <td>{h.from ? t(`memberships.status.${h.from}` as MessageKey) : '—'} → {t(`memberships.status.${h.to}` as MessageKey)}</td>
                <td>{h.cause}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>{t('memberships.fees')}</h3>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('memberships.fees')}>
        <table>
          <thead><tr><th>{t('memberships.at')}</th><th className="num">{t('memberships.amount')}</th><th>{t('memberships.paysFor')}</th></tr></thead>
          <tbody>
            {m.fees.map((f) => (
              <tr key={f.feeId}>
                <td>{date(f.occurredAt)}</td><td className="num">{num(f.amount / 100)} {f.currency}</td>
                <td>{f.periodStart ? date(f.periodStart) : '—'} → {f.periodEnd ? date(f.periodEnd) : t('memberships.forLife')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {canCancel && open && (
        <p className="actions">
          {m.status !== 'cancelled' && m.periodEnd !== null && <button type="button" onClick={() => cancel.mutate(true)} disabled={cancel.isPending}>{t('memberships.cancelAtEnd')}</button>}{' '}
          <button type="button" className="danger" onClick={() => cancel.mutate(false)} disabled={cancel.isPending}>{t('memberships.cancelNow')}</button>
        </p>
      )}
      {cancel.error instanceof ApiError && <p role="alert" className="error">{cancel.error.message}</p>}
    </div>
  );
}
