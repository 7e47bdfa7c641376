// The books of the program (IFRS 15): its accounting settings and rates, the liability roll-forward of
// a period in points and money, its CSV and journal export, and closing it. Finance and owners
// change them; viewers read.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { canWrite, useSession } from './session';

const LINES = ['opening', 'issued', 'returned', 'redeemed', 'breakage', 'expired', 'estimateChange', 'adjusted', 'closing'] as const;

const thisMonth = () => new Date().toISOString().slice(0, 7);

export function Accounting() {
  const { t, num } = useI18n();
  const { program, session } = useSession();
  const programId = program?.programId ?? '';
  const writer = canWrite(session.user.role, 'books');
  const queries = useQueryClient();
  const [period, setPeriod] = useState(thisMonth());
  const [shown, setShown] = useState(thisMonth());
  const settings = useQuery({
    queryKey: ['accounting', programId], enabled: !!program, retry: false,
    queryFn: () => ok(api.GET('/v1/programs/{programId}/accounting', { params: { path: { programId } } })),
  });
  const report = useQuery({
    queryKey: ['accounting-report', programId, shown], enabled: !!settings.data, retry: false,
    queryFn: () => ok(api.GET('/v1/programs/{programId}/accounting/reports/{period}', { params: { path: { programId, period: shown } } })),
  });
  const refresh = () => queries.invalidateQueries({ queryKey: ['accounting'] }).then(() => queries.invalidateQueries({ queryKey: ['accounting-report'] }));
  const close = useMutation({
    mutationFn: () => ok(api.POST('/v1/programs/{programId}/accounting/closes', { params: { path: { programId } }, body: { period: shown } })),
    onSuccess: refresh,
  });
  const show = (e: FormEvent) => {
    e.preventDefault();
    setShown(period);
  };
  if (!program) return <p>{t('dashboard.noProgram')}</p>;
  if (settings.isLoading) return <p className="loading">{t('loading')}</p>;
  const r = report.data;
  const base = `/v1/programs/${programId}/accounting`;
  return (
    <section>
      <h1>{t('accounting.title')}</h1>
      {!settings.data ? (writer ? <SetUp programId={programId} onDone={refresh} /> : <p>{t('accounting.none')}</p>) : (
        <>
          <dl className="facts card">
            <div><dt>{t('accounting.currency')}</dt><dd>{settings.data.currency}</dd></div>
            <div><dt>{t('accounting.pointValue')}</dt><dd>{`${num(settings.data.pointValue.points)} = ${num(settings.data.pointValue.minor)}`}</dd></div>
            <div><dt>{t('accounting.rates')}</dt><dd>{settings.data.rates.map((x) => `${x.period}: ${x.expectedRedemptionRate} (${x.method})`).join(' · ')}</dd></div>
            <div><dt>{t('accounting.closedThrough')}</dt><dd>{settings.data.closedThrough ?? '—'}</dd></div>
          </dl>
          <form className="filters" onSubmit={show}>
            <label>{t('accounting.period')}<input value={period} onChange={(e) => setPeriod(e.target.value)} pattern="\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?" placeholder="2027-Q1" /></label>
            <button type="submit">{t('accounting.show')}</button>
          </form>
          {report.error instanceof ApiError && <p role="alert" className="error">{report.error.message}</p>}
          {r && (
            <>
              <h2>{t('accounting.rollForward', { period: r.period })} <span className="role-badge" data-testid="period-status">{t(`accounting.status.${r.status}` as MessageKey)}</span></h2>
              <div className="table-wrap">
                <table data-testid="roll-forward">
                  <thead><tr><th>{t('accounting.line')}</th><th className="num">{t('points')}</th><th className="num">{t('accounting.liability', { currency: r.currency })}</th></tr></thead>
                  <tbody>
                    {LINES.map((line) => {
                      const pts = line in r.points ? r.points[line as keyof typeof r.points] : null;
                      const money = line in r.liability ? r.liability[line as keyof typeof r.liability] : null;
                      return (
                        <tr key={line}>
                          <td>{t(`accounting.line.${line}` as MessageKey)}</td>
                          <td className="num">{pts === null ? '' : num(pts)}</td>
                          <td className="num">{money === null ? '' : num(money)}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
              <dl className="facts card">
                <div><dt>{t('accounting.revenue')}</dt><dd data-testid="revenue">{num(r.revenue.points)}</dd></div>
                <div><dt>{t('accounting.redemptionRate')}</dt><dd>{r.rates.redemptionRate}</dd></div>
                <div><dt>{t('accounting.breakageRate')}</dt><dd>{r.rates.breakageRate}</dd></div>
                <div><dt>{t('accounting.costPerPoint')}</dt><dd>{r.rates.costPerPoint}</dd></div>
              </dl>
              <p className="actions">
                <a href={`${base}/reports/${r.period}/csv`} download>{t('accounting.csv')}</a>
                {' · '}
                <a href={`${base}/journal/${r.period}/csv`} download>{t('accounting.journal')}</a>
              </p>
              {writer && r.status === 'open' && (
                <p>
                  <button type="button" onClick={() => close.mutate()} disabled={close.isPending}>{t('accounting.close', { period: r.period })}</button>
                  {close.error instanceof ApiError && <span role="alert" className="error"> {close.error.message}</span>}
                </p>
              )}
            </>
          )}
          {writer && <RateForm programId={programId} onDone={refresh} />}
        </>
      )}
    </section>
  );
}

function SetUp({ programId, onDone }: { programId: string; onDone: () => void }) {
  const { t } = useI18n();
  const [points, setPoints] = useState('100');
  const [minor, setMinor] = useState('100');
  const [rate, setRate] = useState('0.8');
  const save = useMutation({
    mutationFn: () => ok(api.PUT('/v1/programs/{programId}/accounting', {
      params: { path: { programId } }, body: { pointValue: { points: Number(points), minor: Number(minor) }, expectedRedemptionRate: rate },
    })),
    onSuccess: onDone,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="books-setup">
      <h2 id="books-setup">{t('accounting.setUp')}</h2>
      <label>{t('accounting.valuePoints')}<input inputMode="numeric" required value={points} onChange={(e) => setPoints(e.target.value)} /></label>
      <label>{t('accounting.valueMinor')}<input inputMode="numeric" required value={minor} onChange={(e) => setMinor(e.target.value)} /></label>
      <label>{t('accounting.expectedRate')}<input required value={rate} onChange={(e) => setRate(e.target.value)} /></label>
      <button type="submit" disabled={save.isPending}>{t('accounting.save')}</button>
      {save.error instanceof ApiError && <p role="alert" className="error">{save.error.message}</p>}
    </form>
  );
}

function RateForm({ programId, onDone }: { programId: string; onDone: () => void }) {
  const { t } = useI18n();
  const [period, setPeriod] = useState(thisMonth());
  const [rate, setRate] = useState('');
  const save = useMutation({
    mutationFn: () => ok(api.PUT('/v1/programs/{programId}/accounting/rates/{period}', {
      params: { path: { programId, period } }, body: rate === '' ? { method: 'estimated' } : { expectedRedemptionRate: rate },
    })),
    onSuccess: onDone,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="books-rate">
      <h2 id="books-rate">{t('accounting.newRate')}</h2>
      <label>{t('accounting.from')}<input required value={period} onChange={(e) => setPeriod(e.target.value)} /></label>
      <label>{t('accounting.expectedRate')}<input value={rate} onChange={(e) => setRate(e.target.value)} placeholder={t('accounting.estimatedHint')} /></label>
      <button type="submit" disabled={save.isPending}>{t('accounting.save')}</button>
      {save.isSuccess && <p role="status" className="ok">{t('accounting.saved')}</p>}
      {save.error instanceof ApiError && <p role="alert" className="error">{save.error.message}</p>}
    </form>
  );
}
