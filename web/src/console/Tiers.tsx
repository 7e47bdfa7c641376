// Tiers: the ladder editor (metric, window, grace, and each tier's threshold and benefits), the
// members on each tier, and the movements of the program's members between tiers, filterable.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { api, ApiError, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { Chart } from './Chart';
import { canWrite, useSession } from './session';
import { TableWrap } from './TableWrap';

type Ladder = NonNullable<Awaited<ReturnType<typeof getLadder>>>;
const getLadder = async (programId: string) => (await api.GET('/v1/programs/{programId}/tier-ladder', { params: { path: { programId } } })).data ?? null;

interface TierDraft { code: string; name: string; threshold: string; earnMultiplier: string; upgradeBonus: string; flags: string }
const draftOf = (ladder: Ladder | null): TierDraft[] => ladder?.tiers.map((tier) => ({
  code: tier.code, name: tier.name, threshold: String(tier.threshold), earnMultiplier: tier.benefits.earnMultiplier ?? '',
  upgradeBonus: String(tier.benefits.upgradeBonus), flags: tier.benefits.flags.join(', '),
})) ?? [{ code: 'member', name: 'Member', threshold: '0', earnMultiplier: '', upgradeBonus: '0', flags: '' }];

export function Tiers() {
  const { t, num } = useI18n();
  const { program, session } = useSession();
  const programId = program?.programId ?? '';
  const editable = canWrite(session.user.role, 'program');
  const [saved, setSaved] = useState(false);
  const dash = useQuery({ queryKey: ['dashboard', programId, 30], enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/dashboard', { params: { path: { programId }, query: { days: 30 } } })) });
  // Asked for only when there is one: a 404 would be logged in the browser's console.
  const hasLadder = dash.data?.tierLadder;
  const ladder = useQuery({ queryKey: ['ladder', programId, hasLadder], enabled: hasLadder !== undefined, queryFn: () => (hasLadder ? getLadder(programId) : null) });
  const perTier = useMemo(() => {
    if (!dash.data) return null;
    const order = ladder.data?.tiers.map((x) => x.code) ?? [];
    return [...dash.data.tiers].sort((a, b) => (a.tier === null ? 1 : b.tier === null ? -1 : order.indexOf(a.tier) - order.indexOf(b.tier)));
  }, [dash.data, ladder.data]);
  const nameOf = (code: string | null) => (code === null ? t('tier.none') : ladder.data?.tiers.find((x) => x.code === code)?.name ?? code);
  const option = useMemo(() => perTier && ({
    tooltip: { trigger: 'axis' }, grid: { left: 48, right: 16, top: 16, bottom: 28 },
    xAxis: { type: 'category', data: perTier.map((x) => nameOf(x.tier)) }, yAxis: { type: 'value', minInterval: 1 },
    series: [{ name: t('nav.members'), type: 'bar', data: perTier.map((x) => x.members), color: '#2f7d4f' }],
  }), [perTier, t]);
  if (ladder.isPending) return <p className="loading">{t('loading')}</p>;
  return (
    <section>
      <h1>{t('nav.tiers')}</h1>
      <h2>{t('tiers.perTier')}</h2>
      {perTier && (
        <div className="charts">
          <figure className="card">
            <figcaption>{t('dashboard.tiers')}</figcaption>
            {option && <Chart option={option} label={t('dashboard.tiers')} />}
          </figure>
          <TableWrap label={t('tiers.perTier')}>
            <table>
              <thead><tr><th>{t('members.tier')}</th><th className="num">{t('nav.members')}</th></tr></thead>
              <tbody>{perTier.map((x) => <tr key={x.tier ?? '-'}><td>{nameOf(x.tier)}</td><td className="num">{num(x.members)}</td></tr>)}</tbody>
            </table>
          </TableWrap>
        </div>
      )}
      <LadderEditor key={ladder.data?.updatedAt ?? 'none'} programId={programId} ladder={ladder.data ?? null} editable={editable} onSaved={() => setSaved(true)} />
      {saved && <p role="status" className="ok">{t('tiers.saved')}</p>}
      <Movements programId={programId} tiers={ladder.data?.tiers.map((x) => ({ code: x.code, name: x.name })) ?? []} />
    </section>
  );
}

// Keyed by the ladder's updatedAt: a save remounts it with the ladder as saved (the parent says so).
function LadderEditor({ programId, ladder, editable, onSaved }: { programId: string; ladder: Ladder | null; editable: boolean; onSaved(): void }) {
  const { t } = useI18n();
  const queries = useQueryClient();
  const [metric, setMetric] = useState(ladder?.metric ?? 'points');
  const [windowKind, setWindowKind] = useState(ladder?.window.kind ?? 'calendar_year');
  const [months, setMonths] = useState(String(ladder?.window.months ?? 12));
  const [grace, setGrace] = useState(String(ladder?.graceDays ?? 0));
  const [tiers, setTiers] = useState<TierDraft[]>(() => draftOf(ladder));
  const set = (i: number, field: keyof TierDraft, value: string) => setTiers((ts) => ts.map((x, j) => (j === i ? { ...x, [field]: value } : x)));
  const save = useMutation({
    mutationFn: () => ok(api.PUT('/v1/programs/{programId}/tier-ladder', {
      params: { path: { programId } },
      body: {
        metric: metric as 'points', window: { kind: windowKind as 'calendar_year', ...(windowKind === 'rolling_months' ? { months: Number(months) } : {}) },
        ...(ladder ? { review: ladder.review, upgradeRate: ladder.upgradeRate } : {}),
        graceDays: Number(grace),
        tiers: tiers.map((x) => ({
          code: x.code, name: x.name, threshold: Number(x.threshold),
          benefits: {
            earnMultiplier: x.earnMultiplier.trim() || null, upgradeBonus: Number(x.upgradeBonus || 0),
            flags: x.flags.split(',').map((f) => f.trim()).filter(Boolean),
            rewardAccess: ladder?.tiers.find((old) => old.code === x.code)?.benefits.rewardAccess ?? [],
          },
        })),
      },
    })),
    onSuccess: () => {
      onSaved();
      void queries.invalidateQueries({ queryKey: ['ladder'] });
      void queries.invalidateQueries({ queryKey: ['dashboard'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const problem = save.error instanceof ApiError ? save.error.problem : null;
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="ladder-title">
      <h2 id="ladder-title">{t('program.tiers')}</h2>
      {!ladder && <p className="wide">{t('program.noLadder')}</p>}
      <fieldset disabled={!editable} className="wide inline-form plain-fieldset">
        <legend className="visually-hidden">{t('program.tiers')}</legend>
        <label>{t('tiers.metric')}
          <select value={metric} onChange={(e) => setMetric(e.target.value as typeof metric)}>
            {(['points', 'spend', 'visits'] as const).map((m) => <option key={m} value={m}>{t(`tiers.metric.${m}` as MessageKey)}</option>)}
          </select>
        </label>
        <label>{t('tiers.window')}
          <select value={windowKind} onChange={(e) => setWindowKind(e.target.value as typeof windowKind)}>
            {(['calendar_year', 'rolling_months', 'lifetime'] as const).map((w) => <option key={w} value={w}>{t(`tiers.window.${w}` as MessageKey)}</option>)}
          </select>
        </label>
        {windowKind === 'rolling_months' && <label>{t('tiers.months')}<input type="number" min={1} max={120} value={months} onChange={(e) => setMonths(e.target.value)} /></label>}
        <label>{t('tiers.grace')}<input type="number" min={0} max={3650} value={grace} onChange={(e) => setGrace(e.target.value)} /></label>
        <div className="tier-rows">
          {tiers.map((x, i) => (
            <fieldset key={i} className="tier-row" data-testid="tier-row">
              <legend>{t('tiers.level', { n: i + 1 })}</legend>
              <label>{t('tiers.code')}<input required pattern="[a-z][a-z0-9_]{0,31}" value={x.code} onChange={(e) => set(i, 'code', e.target.value)} /></label>
              <label>{t('rules.name')}<input required value={x.name} onChange={(e) => set(i, 'name', e.target.value)} /></label>
              <label>{t('tiers.threshold')}<input type="number" min={0} required value={x.threshold} onChange={(e) => set(i, 'threshold', e.target.value)} /></label>
              <label>{t('tiers.multiplier')}<input inputMode="decimal" value={x.earnMultiplier} onChange={(e) => set(i, 'earnMultiplier', e.target.value)} /></label>
              <label>{t('tiers.bonus')}<input type="number" min={0} value={x.upgradeBonus} onChange={(e) => set(i, 'upgradeBonus', e.target.value)} /></label>
              <label>{t('tiers.flags')}<input value={x.flags} onChange={(e) => set(i, 'flags', e.target.value)} /></label>
              {editable && tiers.length > 1 && (
                <button type="button" className="secondary" onClick={() => setTiers((ts) => ts.filter((_, j) => j !== i))}>{t('tiers.remove')}</button>
              )}
            </fieldset>
          ))}
        </div>
      </fieldset>
      {editable && (
        <div className="inline wide">
          <button type="button" className="secondary" onClick={() => setTiers((ts) => [...ts, { code: '', name: '', threshold: '', earnMultiplier: '', upgradeBonus: '0', flags: '' }])}>{t('tiers.add')}</button>
          <button type="submit" disabled={save.isPending}>{t('tiers.save')}</button>
        </div>
      )}
      {problem && <p role="alert" className="error wide">{problem.detail}{problem.errors?.map((e) => ` (${e.field}: ${e.message})`).join('')}</p>}
    </form>
  );
}

const CHANGES = ['up', 'down', 'grace', 'placed', 'set', 'kept'] as const;

function Movements({ programId, tiers }: { programId: string; tiers: { code: string; name: string }[] }) {
  const { t, date } = useI18n();
  const [change, setChange] = useState('');
  const [tier, setTier] = useState('');
  const moves = useInfiniteQuery({
    queryKey: ['tier-movements', programId, change, tier],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => ok(api.GET('/v1/programs/{programId}/tier-movements', {
      params: { path: { programId }, query: { limit: 25, ...(change ? { change: change as 'up' } : {}), ...(tier ? { tier } : {}), ...(pageParam ? { cursor: pageParam } : {}) } },
    })),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const rows = moves.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <>
      <h2 id="tier-movements">{t('tiers.movements')}</h2>
      <div className="filters">
        <label>{t('tiers.change')}
          <select value={change} onChange={(e) => setChange(e.target.value)}>
            <option value="">{t('tiers.any')}</option>
            {CHANGES.map((c) => <option key={c} value={c}>{t(`tiers.change.${c}` as MessageKey)}</option>)}
          </select>
        </label>
        <label>{t('members.tier')}
          <select value={tier} onChange={(e) => setTier(e.target.value)}>
            <option value="">{t('tiers.any')}</option>
            {tiers.map((x) => <option key={x.code} value={x.code}>{x.name}</option>)}
          </select>
        </label>
      </div>
      <TableWrap label={t('tiers.movements')}>
        <table aria-labelledby="tier-movements">
          <thead><tr><th>{t('journal.when')}</th><th>{t('tiers.member')}</th><th>{t('tiers.change')}</th><th>{t('tiers.fromTo')}</th><th>{t('journal.reason')}</th></tr></thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.historyId} data-testid="tier-movement">
                <td>{date(m.at)}</td>
                <td><Link to={`/members/${m.memberId}`}>{m.cardCode ?? m.externalId ?? m.memberId.slice(0, 8)}</Link></td>
                <td>{t(`tiers.change.${m.change}` as MessageKey)}</td>
                <td>{m.from ?? '—'} → {m.to}</td>
                <td>{m.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      {rows.length === 0 && moves.isSuccess && <p className="muted">{t('tiers.noMovements')}</p>}
      {moves.hasNextPage && <button type="button" className="secondary" onClick={() => void moves.fetchNextPage()}>{t('tiers.more')}</button>}
    </>
  );
}
