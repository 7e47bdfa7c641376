// Analytics and ROI: the program's figures over a period (GET /v1/programs/{id}/analytics/*) as
// key figures, ECharts charts and tables, and the holdout settings that owners and marketers change.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { api, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { Chart } from './Chart';
import { canWrite, useSession } from './session';

type Bucket = 'day' | 'week' | 'month';
const DAY = 86_400_000;
const isoDate = (d: Date) => d.toISOString().slice(0, 10);

/** Money in minor units, shown in the tenant's currency. */
export function useMoney(): (minor: number) => string {
  const { lang } = useI18n();
  const tenant = useQuery({ queryKey: ['tenant'], queryFn: () => ok(api.GET('/v1/tenant')) });
  return useMemo(() => {
    const currency = tenant.data?.currency ?? 'EUR';
    const f = new Intl.NumberFormat(lang === 'tr' ? 'tr-TR' : 'en-GB', { style: 'currency', currency });
    const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
    return (minor: number) => f.format(minor / 10 ** digits);
  }, [tenant.data, lang]);
}

export const percent = (rate: number, num: (n: number) => string) => `${num(Math.round(rate * 1000) / 10)} %`;

export function Analytics() {
  const { t, num } = useI18n();
  const { program, session } = useSession();
  const money = useMoney();
  const programId = program?.programId ?? '';
  const [from, setFrom] = useState(() => isoDate(new Date(Date.now() - 365 * DAY)));
  const [to, setTo] = useState(() => isoDate(new Date(Date.now() + DAY)));
  const [bucket, setBucket] = useState<Bucket>('month');
  const period = { from: `${from}T00:00:00Z`, to: `${to}T00:00:00Z` };
  const path = { programId };
  const on = (name: string) => ({ queryKey: ['analytics', name, programId, from, to, name === 'points' ? bucket : ''], enabled: !!program && from < to });
  const overview = useQuery({ ...on('overview'), queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/overview', { params: { path, query: period } })) });
  const points = useQuery({ ...on('points'), queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/points', { params: { path, query: { ...period, bucket } } })) });
  const tiers = useQuery({ ...on('tiers'), queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/tiers', { params: { path, query: period } })) });
  const cohorts = useQuery({ ...on('cohorts'), queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/cohorts', { params: { path, query: period } })) });
  const rewards = useQuery({ ...on('rewards'), queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/rewards', { params: { path, query: period } })) });
  const roi = useQuery({ ...on('roi'), queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/roi', { params: { path, query: period } })) });

  const pointsChart = useMemo(() => points.data && {
    tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 48, right: 16, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: points.data.buckets.map((b) => b.start) }, yAxis: { type: 'value' },
    series: [
      { name: t('analytics.issued'), type: 'bar', data: points.data.buckets.map((b) => b.issued), color: '#2f7d4f' },
      { name: t('analytics.redeemed'), type: 'bar', data: points.data.buckets.map((b) => b.redeemed), color: '#c0803a' },
      { name: t('analytics.expired'), type: 'line', data: points.data.buckets.map((b) => b.expired), color: '#5b6270' },
    ],
  }, [points.data, t]);
  const pie = (rows: { code: string | null; members: number }[] | undefined) => rows && {
    tooltip: { trigger: 'item' }, legend: { bottom: 0 }, color: ['#1f5a37', '#c0803a', '#4f8cc9', '#5b6270', '#7b2cbf'],
    series: [{ type: 'pie', radius: ['40%', '70%'], label: { position: 'inside', formatter: '{c}', color: '#fff', fontWeight: 'bold' }, data: rows.map((x) => ({ name: x.code ?? t('analytics.none'), value: x.members })) }],
  };
  const tierPie = useMemo(() => pie(tiers.data?.tiers), [tiers.data, t]);
  const gradePie = useMemo(() => pie(tiers.data?.grades), [tiers.data, t]);
  const rewardChart = useMemo(() => rewards.data && rewards.data.rewards.length > 0 && {
    tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 120, right: 16, top: 36, bottom: 28 },
    yAxis: { type: 'category', data: rewards.data.rewards.map((r) => r.name).reverse() }, xAxis: { type: 'value' },
    series: [
      { name: t('analytics.issuedCount'), type: 'bar', data: rewards.data.rewards.map((r) => r.issued).reverse(), color: '#2f7d4f' },
      { name: t('analytics.consumed'), type: 'bar', data: rewards.data.rewards.map((r) => r.consumed).reverse(), color: '#c0803a' },
    ],
  }, [rewards.data, t]);
  const spendChart = useMemo(() => roi.data && {
    tooltip: { trigger: 'axis' }, grid: { left: 72, right: 16, top: 16, bottom: 28 },
    xAxis: { type: 'category', data: [t('analytics.groupMembers'), t('analytics.groupControl')] }, yAxis: { type: 'value' },
    series: [{ type: 'bar', data: [roi.data.members.meanSpend ?? 0, roi.data.control.meanSpend ?? 0].map((v) => Math.round(v) / 100), color: '#1f5a37' }],
  }, [roi.data, t]);

  if (!program) return <p>{t('dashboard.noProgram')}</p>;
  const o = overview.data;
  const maxOffset = Math.max(0, ...(cohorts.data?.cohorts.flatMap((c) => c.retention.map((r) => r.offset)) ?? [0]));
  const interval = (p: number[] | null, f: (n: number) => string) => (p ? `${f(p[0]!)} – ${f(p[1]!)}` : '—');
  return (
    <section className="analytics">
      <div className="page-head">
        <h1>{t('analytics.title')} <small>{program.name}</small></h1>
        <div className="inline" style={{ flexWrap: 'wrap' }}>
          <label>{t('analytics.from')}<input type="date" value={from} onChange={(e) => setFrom(e.target.value)} /></label>
          <label>{t('analytics.to')}<input type="date" value={to} onChange={(e) => setTo(e.target.value)} /></label>
          <label>{t('analytics.bucket')}
            <select value={bucket} onChange={(e) => setBucket(e.target.value as Bucket)}>
              {(['day', 'week', 'month'] as const).map((b) => <option key={b} value={b}>{t(`analytics.bucket.${b}` as MessageKey)}</option>)}
            </select>
          </label>
        </div>
      </div>
      {o && (
        <dl className="kpis" data-testid="analytics-kpis">
          <Kpi label={t('analytics.members')} value={num(o.members)} />
          <Kpi label={t('analytics.newMembers')} value={num(o.newMembers)} />
          <Kpi label={t('analytics.enrolmentRate')} value={percent(o.enrolmentRate, num)} />
          <Kpi label={t('analytics.activeRate')} value={percent(o.groups.members.activeRate, num)} />
          <Kpi label={t('analytics.repeatRate')} value={percent(o.groups.members.repeatPurchaseRate, num)} />
          <Kpi label={t('analytics.aov')} value={money(o.groups.members.averageOrderValue)} />
          <Kpi label={t('analytics.controlAov')} value={money(o.groups.control.averageOrderValue)} />
          <Kpi label={t('analytics.redemptionRate')} value={percent(o.points.redemptionRate, num)} />
          <Kpi label={t('analytics.cost')} value={money(o.cost.total)} testId="program-cost" />
        </dl>
      )}
      <div className="charts">
        <figure className="card"><figcaption>{t('analytics.points')}</figcaption>{pointsChart && <Chart option={pointsChart} label={t('analytics.points')} />}</figure>
        <figure className="card"><figcaption>{t('analytics.tiers')}</figcaption>{tierPie && <Chart option={tierPie} label={t('analytics.tiers')} />}</figure>
      </div>

      <h2>{t('analytics.roi')}</h2>
      {roi.data && (
        <div className="charts">
          <div className="table-wrap" tabIndex={0} role="region" aria-label={t('analytics.roi')}>
            <table data-testid="roi">
              <thead><tr><th>{t('analytics.group')}</th><th className="num">{t('analytics.customers')}</th><th className="num">{t('analytics.meanSpend')}</th><th className="num">{t('analytics.interval')}</th></tr></thead>
              <tbody>
                {([['analytics.groupMembers', roi.data.members], ['analytics.groupControl', roi.data.control]] as const).map(([label, g]) => (
                  <tr key={label}><td>{t(label)}</td><td className="num">{num(g.customers)}</td><td className="num">{g.meanSpend === null ? '—' : money(g.meanSpend)}</td><td className="num">{interval(g.interval, money)}</td></tr>
                ))}
                <tr><td>{t('analytics.difference')}</td><td /><td className="num">{roi.data.difference === null ? '—' : money(roi.data.difference)}</td><td className="num">{interval(roi.data.differenceInterval, money)}</td></tr>
                <tr><td>{t('analytics.incrementalRevenue')}</td><td /><td className="num">{roi.data.incrementalRevenue === null ? '—' : money(roi.data.incrementalRevenue)}</td><td className="num">{interval(roi.data.incrementalRevenueInterval, money)}</td></tr>
                <tr><td>{t('analytics.incrementalMargin')}</td><td /><td className="num">{roi.data.incrementalGrossMargin === null ? '—' : money(roi.data.incrementalGrossMargin)}</td><td /></tr>
                <tr><td>{t('analytics.cost')}</td><td /><td className="num">{money(roi.data.cost.total)}</td><td /></tr>
                <tr><td><strong>{t('analytics.roiValue')}</strong></td><td /><td className="num" data-testid="roi-value"><strong>{roi.data.roi === null ? '—' : percent(roi.data.roi, num)}</strong></td><td className="num">{interval(roi.data.roiInterval, (x) => percent(x, num))}</td></tr>
              </tbody>
            </table>
            {roi.data.roi === null && <p className="muted">{t('analytics.roiUnknown')}</p>}
            <p className="muted">{t('analytics.method')}</p>
          </div>
          <figure className="card"><figcaption>{t('analytics.spendChart')}</figcaption>{spendChart && <Chart option={spendChart} label={t('analytics.spendChart')} />}</figure>
        </div>
      )}
      {canWrite(session.user.role, 'program') && <HoldoutSettings programId={programId} />}

      <h2>{t('analytics.cohorts')}</h2>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('analytics.cohorts')}>
        <table data-testid="cohorts">
          <thead><tr><th>{t('analytics.cohort')}</th><th className="num">{t('analytics.cohortSize')}</th>
            {Array.from({ length: maxOffset + 1 }, (_, i) => <th key={i} className="num">{t('analytics.month', { n: i })}</th>)}</tr></thead>
          <tbody>
            {cohorts.data?.cohorts.map((c) => (
              <tr key={c.month}><td>{c.month}</td><td className="num">{num(c.members)}</td>
                {Array.from({ length: maxOffset + 1 }, (_, i) => {
                  const cell = c.retention.find((r) => r.offset === i);
                  return <td key={i} className="num" style={cell ? { background: `rgba(47, 125, 79, ${0.1 + cell.rate * 0.5})` } : undefined}>{cell ? percent(cell.rate, num) : ''}</td>;
                })}
              </tr>
            ))}
          </tbody>
        </table>
        {cohorts.data?.cohorts.length === 0 && <p className="muted">{t('analytics.noData')}</p>}
      </div>

      <div className="charts">
        <figure className="card"><figcaption>{t('analytics.rewards')}</figcaption>
          {rewardChart ? <Chart option={rewardChart} label={t('analytics.rewards')} /> : <p className="muted">{t('analytics.noData')}</p>}
        </figure>
        <figure className="card"><figcaption>{t('analytics.grades')}</figcaption>{gradePie && <Chart option={gradePie} label={t('analytics.grades')} />}</figure>
      </div>
      {rewards.data?.rewards.length ? (
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('analytics.rewards')}>
        <table data-testid="rewards">
          <thead><tr><th>{t('analytics.reward')}</th><th className="num">{t('analytics.issuedCount')}</th><th className="num">{t('analytics.consumed')}</th><th className="num">{t('analytics.rewardMembers')}</th><th className="num">{t('analytics.rewardCost')}</th></tr></thead>
          <tbody>
            {rewards.data?.rewards.map((r) => (
              <tr key={r.rewardId}><td>{r.name}</td><td className="num">{num(r.issued)}</td><td className="num">{num(r.consumed)}</td><td className="num">{num(r.members)}</td><td className="num">{money(r.cost)}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
      ) : null}

      <h2>{t('analytics.tierMoves')}</h2>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('analytics.tierMoves')}>
        <table>
          <thead><tr><th>{t('analytics.moveFrom')}</th><th>{t('analytics.moveTo')}</th><th>{t('analytics.change')}</th><th className="num">{t('analytics.members')}</th><th className="num">{t('analytics.moves')}</th></tr></thead>
          <tbody>
            {tiers.data?.tierMoves.map((m) => (
              <tr key={`${m.from}-${m.to}-${m.change}`}><td>{m.from ?? '—'}</td><td>{m.to ?? '—'}</td><td>{m.change}</td><td className="num">{num(m.members)}</td><td className="num">{num(m.moves)}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
      {o && <h2>{t('analytics.cost')}</h2>}
      {o && (
        <dl className="kpis cost">
          <Kpi label={t('analytics.costPoints')} value={money(o.cost.points)} />
          <Kpi label={t('analytics.costRewards')} value={money(o.cost.rewards)} />
          <Kpi label={t('analytics.costFees')} value={`− ${money(o.cost.membershipFees)}`} />
        </dl>
      )}
      {o && (
        <>
          <h2>{t('analytics.referrals')}</h2>
          <dl className="kpis" data-testid="referral-funnel">
            <Kpi label={t('analytics.codesShared')} value={num(o.referrals.codesShared)} />
            <Kpi label={t('analytics.joined')} value={num(o.referrals.joined)} />
            <Kpi label={t('analytics.qualified')} value={num(o.referrals.qualified)} />
            <Kpi label={t('analytics.rewarded')} value={num(o.referrals.rewarded)} />
            <Kpi label={t('analytics.conversionRate')} value={percent(o.referrals.conversionRate, num)} />
            <Kpi label={t('analytics.referralPoints')} value={num(o.referrals.pointsPaid)} />
          </dl>
          <h2>{t('analytics.nps')}</h2>
          <dl className="kpis" data-testid="nps">
            <Kpi label={t('analytics.npsScore')} value={o.nps.score === null ? '—' : num(o.nps.score)} />
            <Kpi label={t('analytics.promoters')} value={num(o.nps.promoters)} />
            <Kpi label={t('analytics.passives')} value={num(o.nps.passives)} />
            <Kpi label={t('analytics.detractors')} value={num(o.nps.detractors)} />
          </dl>
          <h2>{t('analytics.fees')}</h2>
          <dl className="kpis" data-testid="membership-fees">
            <Kpi label={t('analytics.feesPaid')} value={money(o.membershipFees.paid)} />
            <Kpi label={t('analytics.feesRefunded')} value={money(o.membershipFees.refunded)} />
            <Kpi label={t('analytics.feesNet')} value={money(o.membershipFees.net)} />
          </dl>
        </>
      )}
    </section>
  );
}

function HoldoutSettings({ programId }: { programId: string }) {
  const { t } = useI18n();
  const queries = useQueryClient();
  const settings = useQuery({
    queryKey: ['analytics-settings', programId],
    queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/settings', { params: { path: { programId } } })),
  });
  const [share, setShare] = useState<string | null>(null);
  const [margin, setMargin] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: () => ok(api.PUT('/v1/programs/{programId}/analytics/settings', {
      params: { path: { programId } },
      body: { controlShareBp: Math.round(Number(share ?? shown.share) * 100), grossMarginBp: Math.round(Number(margin ?? shown.margin) * 100) },
    })),
    onSuccess: async () => {
      setShare(null);
      setMargin(null);
      await queries.invalidateQueries({ queryKey: ['analytics-settings', programId] });
      await queries.invalidateQueries({ queryKey: ['analytics'] });
    },
  });
  const shown = { share: String((settings.data?.controlShareBp ?? 0) / 100), margin: String((settings.data?.grossMarginBp ?? 10_000) / 100) };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="inline-form card" onSubmit={submit} aria-label={t('analytics.settings')}>
      <h2>{t('analytics.settings')}</h2>
      <label>{t('analytics.controlShare')}<input type="number" min={0} max={50} step={0.01} value={share ?? shown.share} onChange={(e) => setShare(e.target.value)} /></label>
      <label>{t('analytics.grossMargin')}<input type="number" min={0} max={100} step={0.01} value={margin ?? shown.margin} onChange={(e) => setMargin(e.target.value)} /></label>
      <button type="submit" disabled={save.isPending}>{t('analytics.save')}</button>
      {save.isSuccess && <p role="status">{t('analytics.saved')}</p>}
    </form>
  );
}

function Kpi({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return <div className="kpi card" data-testid={testId}><dt>{label}</dt><dd>{value}</dd></div>;
}
