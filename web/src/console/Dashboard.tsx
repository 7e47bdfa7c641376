import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api, ok } from '../api/client';
import { useI18n } from '../i18n';
import { Chart } from './Chart';
import { useSession } from './session';

export function Dashboard() {
  const { t, num } = useI18n();
  const { program } = useSession();
  const [days, setDays] = useState(90);
  const dash = useQuery({
    queryKey: ['dashboard', program?.programId, days], enabled: !!program,
    queryFn: () => ok(api.GET('/v1/programs/{programId}/dashboard', { params: { path: { programId: program!.programId }, query: { days } } })),
  });
  const d = dash.data;
  const series = useMemo(() => {
    if (!d) return null;
    // every day of the period, quiet ones at zero, so the axis is time
    const byDate = new Map(d.days.map((x) => [x.date, x]));
    const dates: string[] = [];
    for (let at = new Date(d.since); at <= new Date(); at = new Date(at.getTime() + 86_400_000)) dates.push(at.toISOString().slice(0, 10));
    for (const x of d.days) if (!dates.includes(x.date)) dates.push(x.date);
    dates.sort();
    const of = (k: 'issued' | 'redeemed' | 'expired') => dates.map((date) => byDate.get(date)?.[k] ?? 0);
    return {
      tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 48, right: 16, top: 36, bottom: 28 },
      xAxis: { type: 'category', data: dates }, yAxis: { type: 'value' },
      series: [
        { name: t('kpi.issued'), type: 'bar', stack: 'points', data: of('issued'), color: '#2f7d4f' },
        { name: t('kpi.redeemed'), type: 'bar', stack: 'points', data: of('redeemed'), color: '#c0803a' },
        { name: t('kpi.expired'), type: 'bar', stack: 'points', data: of('expired'), color: '#8a8f98' },
      ],
    };
  }, [d, t]);
  const tiers = useMemo(() => d && {
    tooltip: { trigger: 'item' }, legend: { bottom: 0 }, color: ['#1f5a37', '#c0803a', '#4f8cc9', '#8a8f98', '#7b2cbf'],
    series: [{ type: 'pie', radius: ['40%', '70%'], label: { position: 'inside', formatter: '{c}', color: '#fff', fontWeight: 'bold' }, data: d.tiers.map((x) => ({ name: x.tier ?? t('tier.none'), value: x.members })) }],
  }, [d, t]);
  if (!program) return <p>{t('dashboard.noProgram')}</p>;
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
      {d && (
        <>
          <dl className="kpis">
            <Kpi label={t('kpi.members')} value={num(d.members)} />
            <Kpi label={t('kpi.active')} value={num(d.activeMembers)} />
            <Kpi label={t('kpi.issued')} value={num(d.issued)} />
            <Kpi label={t('kpi.redeemed')} value={num(d.redeemed)} />
            <Kpi label={t('kpi.expired')} value={num(d.expired)} />
            <Kpi label={t('kpi.liability')} value={num(d.liability)} />
            <Kpi label={t('kpi.redemptionRate')} value={`${num(Math.round(d.redemptionRate * 1000) / 10)} %`} />
          </dl>
          <div className="charts">
            <figure className="card"><figcaption>{t('dashboard.pointsPerDay')}</figcaption><Chart option={series!} label={t('dashboard.pointsPerDay')} /></figure>
            <figure className="card"><figcaption>{t('dashboard.tiers')}</figcaption><Chart option={tiers!} label={t('dashboard.tiers')} /></figure>
          </div>
        </>
      )}
    </section>
  );
}

function Kpi({ label, value }: { label: string; value: string }) {
  return <div className="kpi card"><dt>{label}</dt><dd>{value}</dd></div>;
}
