// Grades: the grading scheme (RFM scores or CEL conditions over a member's stats), grading now,
// the members per grade, and the program's grade movements, filterable by grade.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { api, ApiError, ok } from '../api/client';
import { useI18n } from '../i18n';
import { Chart } from './Chart';
import { canWrite, useSession } from './session';
import { TableWrap } from './TableWrap';

type Grading = NonNullable<Awaited<ReturnType<typeof getGrading>>>;
const getGrading = async (programId: string) => (await api.GET('/v1/programs/{programId}/grading', { params: { path: { programId } } })).data ?? null;

interface GradeDraft { code: string; minScore: string; condition: string }

export function Grades() {
  const { t, num } = useI18n();
  const { program, session } = useSession();
  const programId = program?.programId ?? '';
  const editable = canWrite(session.user.role, 'program');
  const [notice, setNotice] = useState<string | null>(null);
  const report = useQuery({ queryKey: ['grade-report', programId], enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/grades', { params: { path: { programId } } })) });
  // Asked for only when there is one: a 404 would be logged in the browser's console.
  const graded = report.data?.graded;
  const grading = useQuery({ queryKey: ['grading', programId, graded], enabled: graded !== undefined, queryFn: () => (graded ? getGrading(programId) : null) });
  const option = useMemo(() => report.data && ({
    tooltip: { trigger: 'axis' }, grid: { left: 48, right: 16, top: 16, bottom: 28 },
    xAxis: { type: 'category', data: report.data.grades.map((g) => g.grade ?? t('grades.none')) }, yAxis: { type: 'value', minInterval: 1 },
    series: [{ name: t('nav.members'), type: 'bar', data: report.data.grades.map((g) => g.members), color: '#2f7d4f' }],
  }), [report.data, t]);
  if (grading.isPending) return <p className="loading">{t('loading')}</p>;
  return (
    <section>
      <h1>{t('nav.grades')}</h1>
      <h2>{t('grades.report')}</h2>
      {report.data && (
        <div className="charts">
          <figure className="card">
            <figcaption>{t('grades.perGrade')}</figcaption>
            {option && <Chart option={option} label={t('grades.perGrade')} />}
          </figure>
          <TableWrap label={t('grades.perGrade')}>
            <table>
              <thead><tr><th>{t('grades.grade')}</th><th className="num">{t('nav.members')}</th></tr></thead>
              <tbody>{report.data.grades.map((g) => <tr key={g.grade ?? '-'} data-testid="grade-count"><td>{g.grade ?? t('grades.none')}</td><td className="num">{num(g.members)}</td></tr>)}</tbody>
            </table>
          </TableWrap>
        </div>
      )}
      <SchemeEditor key={grading.data?.updatedAt ?? 'none'} programId={programId} grading={grading.data ?? null} editable={editable} onNotice={setNotice} />
      {notice && <p role="status" className="ok">{notice}</p>}
      <Movements programId={programId} grades={grading.data?.grades.map((g) => g.code) ?? []} />
    </section>
  );
}

// Keyed by the scheme's updatedAt: a save remounts it with the scheme as saved, so what it has to
// say after a save or a run goes up to the page (onNotice).
function SchemeEditor({ programId, grading, editable, onNotice }: { programId: string; grading: Grading | null; editable: boolean; onNotice(text: string): void }) {
  const { t, num, date } = useI18n();
  const queries = useQueryClient();
  const [kind, setKind] = useState<'rfm' | 'expression'>((grading?.kind as 'rfm') ?? 'expression');
  const [windowMonths, setWindowMonths] = useState(String(grading?.windowMonths ?? 12));
  const [quantiles, setQuantiles] = useState(String(grading?.quantiles ?? 5));
  const [weights, setWeights] = useState(grading?.weights ?? { recency: 1, frequency: 1, monetary: 1 });
  const [grades, setGrades] = useState<GradeDraft[]>(() => grading?.grades.map((g) => ({ code: g.code, minScore: g.minScore ?? '', condition: g.condition ?? '' }))
    ?? [{ code: 'buyer', minScore: '', condition: 'stats.purchases > 0' }, { code: 'none', minScore: '0', condition: 'true' }]);
  const set = (i: number, field: keyof GradeDraft, value: string) => setGrades((gs) => gs.map((g, j) => (j === i ? { ...g, [field]: value } : g)));
  const refresh = () => {
    for (const key of ['grading', 'grade-report', 'grade-movements']) void queries.invalidateQueries({ queryKey: [key] });
  };
  const save = useMutation({
    mutationFn: () => ok(api.PUT('/v1/programs/{programId}/grading', {
      params: { path: { programId } },
      body: kind === 'rfm'
        ? { kind, windowMonths: Number(windowMonths), quantiles: Number(quantiles), weights, grades: grades.map((g) => ({ code: g.code, minScore: g.minScore })) }
        : { kind, grades: grades.map((g) => ({ code: g.code, condition: g.condition })) },
    })),
    onSuccess: () => {
      onNotice(t('grades.saved'));
      refresh();
    },
  });
  const recompute = useMutation({
    mutationFn: () => ok(api.POST('/v1/programs/{programId}/grading/recompute', { params: { path: { programId } } })),
    onSuccess: (run) => {
      onNotice(t('grades.recomputed', { members: num(run.members), changed: num(run.changed) }));
      refresh();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const problem = [save.error, recompute.error].find((e) => e instanceof ApiError)?.problem;
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="grading-title">
      <h2 id="grading-title">{t('grades.scheme')}</h2>
      {grading ? <p className="muted wide">{t('grades.savedBy', { who: grading.updatedBy, when: date(grading.updatedAt) })}</p> : <p className="wide">{t('grades.noScheme')}</p>}
      <fieldset disabled={!editable} className="wide inline-form plain-fieldset">
        <legend className="visually-hidden">{t('grades.scheme')}</legend>
        <label>{t('grades.kind')}
          <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
            <option value="expression">{t('grades.kind.expression')}</option>
            <option value="rfm">{t('grades.kind.rfm')}</option>
          </select>
        </label>
        {kind === 'rfm' && (
          <>
            <label>{t('grades.windowMonths')}<input type="number" min={1} max={120} value={windowMonths} onChange={(e) => setWindowMonths(e.target.value)} /></label>
            <label>{t('grades.quantiles')}<input type="number" min={2} max={10} value={quantiles} onChange={(e) => setQuantiles(e.target.value)} /></label>
            {(['recency', 'frequency', 'monetary'] as const).map((w) => (
              <label key={w}>{t(`grades.weight.${w}`)}<input type="number" min={0} value={weights[w]} onChange={(e) => setWeights({ ...weights, [w]: Number(e.target.value) })} /></label>
            ))}
          </>
        )}
        <div className="tier-rows">
          {grades.map((g, i) => (
            <fieldset key={i} className="tier-row" data-testid="grade-row">
              <legend>{t('grades.rank', { n: i + 1 })}</legend>
              <label>{t('grades.grade')}<input required value={g.code} onChange={(e) => set(i, 'code', e.target.value)} /></label>
              {kind === 'rfm'
                ? <label>{t('grades.minScore')}<input required inputMode="decimal" value={g.minScore} onChange={(e) => set(i, 'minScore', e.target.value)} /></label>
                : <label className="wide">{t('grades.condition')}<input required spellCheck={false} value={g.condition} onChange={(e) => set(i, 'condition', e.target.value)} /></label>}
              {editable && grades.length > 1 && <button type="button" className="secondary" onClick={() => setGrades((gs) => gs.filter((_, j) => j !== i))}>{t('tiers.remove')}</button>}
            </fieldset>
          ))}
        </div>
      </fieldset>
      {editable && (
        <div className="inline wide">
          <button type="button" className="secondary" onClick={() => setGrades((gs) => [...gs, { code: '', minScore: '', condition: '' }])}>{t('grades.add')}</button>
          <button type="submit" disabled={save.isPending}>{t('grades.save')}</button>
          {grading && <button type="button" className="secondary" disabled={recompute.isPending} onClick={() => recompute.mutate()}>{t('grades.recompute')}</button>}
        </div>
      )}
      {problem && <p role="alert" className="error wide">{problem.detail}{problem.errors?.map((e) => ` (${e.field}: ${e.message})`).join('')}</p>}
    </form>
  );
}

function Movements({ programId, grades }: { programId: string; grades: string[] }) {
  const { t, date } = useI18n();
  const [grade, setGrade] = useState('');
  const moves = useInfiniteQuery({
    queryKey: ['grade-movements', programId, grade],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => ok(api.GET('/v1/programs/{programId}/grade-movements', {
      params: { path: { programId }, query: { limit: 25, ...(grade ? { grade } : {}), ...(pageParam ? { cursor: pageParam } : {}) } },
    })),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const rows = moves.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <>
      <h2 id="grade-movements">{t('grades.movements')}</h2>
      <div className="filters">
        <label>{t('grades.filter')}
          <select value={grade} onChange={(e) => setGrade(e.target.value)}>
            <option value="">{t('tiers.any')}</option>
            {grades.map((g) => <option key={g} value={g}>{g}</option>)}
          </select>
        </label>
      </div>
      <TableWrap label={t('grades.movements')}>
        <table aria-labelledby="grade-movements">
          <thead><tr><th>{t('journal.when')}</th><th>{t('tiers.member')}</th><th>{t('tiers.fromTo')}</th><th>{t('journal.reason')}</th></tr></thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.historyId} data-testid="grade-movement">
                <td>{date(m.at)}</td>
                <td><Link to={`/members/${m.memberId}`}>{m.cardCode ?? m.externalId ?? m.memberId.slice(0, 8)}</Link></td>
                <td>{m.fromGrade ?? '—'} → {m.toGrade ?? '—'}</td>
                <td>{m.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      {rows.length === 0 && moves.isSuccess && <p className="muted">{t('grades.noMovements')}</p>}
      {moves.hasNextPage && <button type="button" className="secondary" onClick={() => void moves.fetchNextPage()}>{t('tiers.more')}</button>}
    </>
  );
}
