import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api, ApiError, ok } from '../api/client';
import { useI18n } from '../i18n';
import { Chart } from './Chart';
import { canWrite, useSession } from './session';

type Check = { valid: boolean; error: { message: string; line: number | null; column: number | null } | null };

export function Rules() {
  const { t, num } = useI18n();
  const { program, session } = useSession();
  const queries = useQueryClient();
  const editable = canWrite(session.user.role, 'program');
  const programId = program?.programId ?? '';
  const rules = useQuery({
    queryKey: ['rules', programId], enabled: !!program,
    queryFn: () => ok(api.GET('/v1/programs/{programId}/rules', { params: { path: { programId } } })),
  });
  const toggle = useMutation({
    mutationFn: ({ ruleId, enable }: { ruleId: string; enable: boolean }) =>
      ok(enable ? api.POST('/v1/rules/{ruleId}/enable', { params: { path: { ruleId } } }) : api.POST('/v1/rules/{ruleId}/disable', { params: { path: { ruleId } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['rules'] }),
  });
  const [dryRunOf, setDryRunOf] = useState<string | null>(null);
  return (
    <section>
      <h1>{t('nav.rules')}</h1>
      <div className="table-wrap">
        <table>
          <thead><tr><th>{t('rules.name')}</th><th>{t('rules.trigger')}</th><th>{t('rules.condition')}</th><th>{t('rules.version')}</th><th>{t('rules.enabled')}</th><th /></tr></thead>
          <tbody>
            {rules.data?.data.map((r) => (
              <tr key={r.ruleId}>
                <td>{r.name}</td><td>{r.trigger}</td><td><code>{r.condition ?? '—'}</code></td><td className="num">{r.version}</td>
                <td>
                  <label className="switch">
                    <input type="checkbox" checked={r.enabled} disabled={!editable} onChange={() => toggle.mutate({ ruleId: r.ruleId, enable: !r.enabled })} />
                    <span className="visually-hidden">{t('rules.enabled')}: {r.name}</span>
                  </label>
                </td>
                <td>{editable && <button type="button" className="secondary" onClick={() => setDryRunOf(r.ruleId)}>{t('rules.dryRun')}</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {dryRunOf && <DryRun ruleId={dryRunOf} />}
      {editable && program && <NewRule programId={programId} onCreated={(id) => { void queries.invalidateQueries({ queryKey: ['rules'] }); setDryRunOf(id); }} />}
      {rules.data && <p className="muted">{t('rules.count', { n: num(rules.data.data.length) })}</p>}
    </section>
  );
}

function NewRule({ programId, onCreated }: { programId: string; onCreated: (ruleId: string) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [condition, setCondition] = useState('');
  const [points, setPoints] = useState('1');
  const [check, setCheck] = useState<Check | null>(null);
  useEffect(() => {
    if (!condition.trim()) {
      setCheck(null);
      return;
    }
    const timer = setTimeout(() => {
      void ok(api.POST('/v1/rules/check-condition', { body: { condition } })).then(setCheck, () => setCheck(null));
    }, 250);
    return () => clearTimeout(timer);
  }, [condition]);
  const create = useMutation({
    mutationFn: () => ok(api.POST('/v1/programs/{programId}/rules', {
      params: { path: { programId } },
      body: { name, trigger: 'purchase', ...(condition.trim() ? { condition } : {}), effect: { type: 'points_per_amount', points: Number(points), per: 100 } },
    })),
    onSuccess: (rule) => {
      setName('');
      setCondition('');
      onCreated(rule.ruleId);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const error = check && !check.valid ? check.error : null;
  return (
    <form className="card rule-editor" onSubmit={submit} aria-labelledby="new-rule">
      <h2 id="new-rule">{t('rules.new')}</h2>
      <label>{t('rules.name')}<input required value={name} onChange={(e) => setName(e.target.value)} /></label>
      <label>{t('rules.condition')}
        <textarea rows={3} spellCheck={false} value={condition} onChange={(e) => setCondition(e.target.value)} aria-invalid={!!error} aria-describedby="condition-check"
          placeholder='member.tier == "gold" && time.weekend' />
      </label>
      <div id="condition-check" aria-live="polite">
        {error && (
          <div className="cel-error" role="alert" data-testid="cel-error">
            {error.line !== null && error.column !== null && (
              <pre aria-hidden="true">{condition.split('\n')[error.line - 1]}{'\n'}{' '.repeat(error.column - 1)}^</pre>
            )}
            <p>{error.line !== null ? t('rules.errorAt', { line: error.line, column: error.column ?? 1, message: error.message }) : error.message}</p>
          </div>
        )}
        {check?.valid && <p className="ok" data-testid="cel-ok">{t('rules.valid')}</p>}
      </div>
      <label>{t('rules.pointsPerEuro')}<input type="number" min={1} step={1} required value={points} onChange={(e) => setPoints(e.target.value)} /></label>
      <button type="submit" disabled={create.isPending || !!error}>{t('rules.create')}</button>
      {create.error instanceof ApiError && <p role="alert" className="error">{create.error.message}</p>}
    </form>
  );
}

function DryRun({ ruleId }: { ruleId: string }) {
  const { t, num } = useI18n();
  const from = useMemo(() => new Date(Date.now() - 31 * 86_400_000).toISOString(), []);
  const run = useQuery({
    queryKey: ['dry-run', ruleId],
    queryFn: () => ok(api.POST('/v1/rules/{ruleId}/dry-run', { params: { path: { ruleId } }, body: { from, limit: 1000 } })),
  });
  const option = useMemo(() => {
    if (!run.data) return null;
    const perDay = new Map<string, number>();
    for (const e of run.data.events) perDay.set(e.occurredAt.slice(0, 10), (perDay.get(e.occurredAt.slice(0, 10)) ?? 0) + e.points);
    const days = [...perDay.keys()].sort();
    return {
      tooltip: { trigger: 'axis' }, grid: { left: 48, right: 16, top: 16, bottom: 28 },
      xAxis: { type: 'category', data: days }, yAxis: { type: 'value' },
      series: [{ name: t('rules.wouldPay'), type: 'bar', data: days.map((d) => perDay.get(d)), color: '#2f7d4f' }],
    };
  }, [run.data, t]);
  return (
    <figure className="card" data-testid="dry-run">
      <figcaption>{t('rules.dryRunOf', { name: run.data?.rule.name ?? '' })}</figcaption>
      {run.data && <p>{t('rules.dryRunSummary', { events: num(run.data.summary.events), fired: num(run.data.summary.fired), points: num(run.data.summary.points) })}</p>}
      {option && <Chart option={option} label={t('rules.wouldPay')} />}
      {run.error instanceof ApiError && <p role="alert" className="error">{run.error.message}</p>}
    </figure>
  );
}
