import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { Link } from 'react-router';
import { api, ok } from '../api/client';
import { useI18n } from '../i18n';
import { percent, useMoney } from './Analytics';
import { Chart } from './Chart';
import { useSession } from './session';

const DAY = 86_400_000;

/** The program at a glance over the last days: the analytics reports (and the liability, which is now, not a period). */
export function Dashboard() {
  const { t, num } = useI18n();
  const { program } = useSession();
  const money = useMoney();
  const [days, setDays] = useState(90);
  const programId = program?.programId ?? '';
  // the period ends at the next whole minute, so the queries' keys hold still while the page is open
  const period = useMemo(() => {
    const to = new Date(Math.ceil((Date.now() + 1) / 60_000) * 60_000);
    return { from: new Date(to.getTime() - days * DAY).toISOString(), to: to.toISOString() };
  }, [days]);
  const bucket = days > 120 ? 'week' as const : 'day' as const;
  const path = { programId };
  const key = (name: string) => ['dashboard', name, programId, period.from, period.to];
  const overview = useQuery({ queryKey: key('overview'), enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/overview', { params: { path, query: period } })) });
  const points = useQuery({ queryKey: key('points'), enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/points', { params: { path, query: { ...period, bucket } } })) });
  const tiers = useQuery({ queryKey: key('tiers'), enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/analytics/tiers', { params: { path, query: period } })) });
  const liability = useQuery({ queryKey: key('liability'), enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/dashboard', { params: { path, query: { days } } })) });
  const series = useMemo(() => {
    const p = points.data;
    if (!p) return null;
    // every bucket of the period, quiet ones at zero, so the axis is time
    const byStart = new Map(p.buckets.map((x) => [x.start, x]));
    const starts: string[] = [];
    if (bucket === 'day') for (let at = new Date(p.from); at < new Date(p.to); at = new Date(at.getTime() + DAY)) starts.push(at.toISOString().slice(0, 10));
    for (const x of p.buckets) if (!starts.includes(x.start)) starts.push(x.start);
    starts.sort();
    const of = (k: 'issued' | 'redeemed' | 'expired') => starts.map((s) => byStart.get(s)?.[k] ?? 0);
    return {
      tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 48, right: 16, top: 36, bottom: 28 },
      xAxis: { type: 'category', data: starts }, yAxis: { type: 'value' },
      series: [
        { name: t('kpi.issued'), type: 'bar', stack: 'points', data: of('issued'), color: '#2f7d4f' },
        { name: t('kpi.redeemed'), type: 'bar', stack: 'points', data: of('redeemed'), color: '#c0803a' },
        { name: t('kpi.expired'), type: 'bar', stack: 'points', data: of('expired'), color: '#8a8f98' },
      ],
    };
  }, [points.data, bucket, t]);
  const tierPie = useMemo(() => tiers.data && {
    tooltip: { trigger: 'item' }, legend: { bottom: 0 }, color: ['#1f5a37', '#c0803a', '#4f8cc9', '#8a8f98', '#7b2cbf'],
    series: [{ type: 'pie', radius: ['40%', '70%'], label: { position: 'inside', formatter: '{c}', color: '#fff', fontWeight: 'bold' }, data: tiers.data.tiers.map((x) => ({ name: x.code ?? t('tier.none'), value: x.members })) }],
  }, [tiers.data, t]);
  const groups = useMemo(() => overview.data && {
    tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 56, right: 16, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: [t('analytics.activeRate'), t('analytics.repeatRate')] }, yAxis: { type: 'value', max: 100 },
    series: [
      { name: t('analytics.groupMembers'), type: 'bar', data: [overview.data.groups.members.activeRate, overview.data.groups.members.repeatPurchaseRate].map((r) => Math.round(r * 1000) / 10), color: '#1f5a37' },
      { name: t('analytics.groupControl'), type: 'bar', data: [overview.data.groups.control.activeRate, overview.data.groups.control.repeatPurchaseRate].map((r) => Math.round(r * 1000) / 10), color: '#8a8f98' },
    ],
  }, [overview.data, t]);
  if (!program) return <p>{t('dashboard.noProgram')}</p>;
  const o = overview.data;
  return (
    <section>
      <div className="page-head">
        <h1>{t('nav.dashboard')} <small>{program.name}</small></h1>
        <label className="inline">{t('dashboard.period')}
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {[7, 30, 90, 365].map((n) => <option key={n} value={n}>{t('dashboard.days', { n })}</option>)}
          </select>
        </label>
      </div>
      {o && (
        <>
          <dl className="kpis">
            <Kpi label={t('kpi.members')} value={num(o.members)} />
            <Kpi label={t('kpi.active')} value={num(o.groups.members.active + o.groups.control.active)} />
            <Kpi label={t('kpi.issued')} value={num(o.points.issued)} />
            <Kpi label={t('kpi.redeemed')} value={num(o.points.redeemed)} />
            <Kpi label={t('kpi.expired')} value={num(o.points.expired)} />
            <Kpi label={t('kpi.liability')} value={liability.data ? num(liability.data.liability) : '…'} />
            <Kpi label={t('kpi.redemptionRate')} value={percent(o.points.redemptionRate, num)} />
            <Kpi label={t('analytics.aov')} value={money(o.groups.members.averageOrderValue)} />
            <Kpi label={t('analytics.cost')} value={money(o.cost.total)} />
          </dl>
          <div className="charts">
            <figure className="card"><figcaption>{t('dashboard.pointsPerDay')}</figcaption>{series && <Chart option={series} label={t('dashboard.pointsPerDay')} />}</figure>
            <figure className="card"><figcaption>{t('dashboard.tiers')}</figcaption>{tierPie && <Chart option={tierPie} label={t('dashboard.tiers')} />}</figure>
          </div>
          <div className="charts">
            <figure className="card"><figcaption>{t('analytics.groupsChart')}</figcaption>{groups && <Chart option={groups} label={t('analytics.groupsChart')} />}</figure>
            <p className="card"><Link to="/analytics">{t('analytics.title')} →</Link></p>
          </div>
        </>
      )}
    </section>
  );
}

function Kpi({ label, value }: { label: string; value: string }) {
  return <div className="kpi card"><dt>{label}</dt><dd>{value}</dd></div>;
}
