// Earning rules: the list with enable/disable, a new rule, the editor of an existing one (each save
// is a new immutable version), its versions with a readable diff between any two, and the dry-run
// chart ("what would this rule have paid last month?"). Conditions are checked as they are typed.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import type { operations } from '../../../clients/typescript/schema';
import { api, ApiError, ok } from '../api/client';
import { useI18n } from '../i18n';
import { Chart } from './Chart';
import { changes } from './diff';
import { canRead, canWrite, useSession } from './session';
import { TableWrap } from './TableWrap';

type Rule = Awaited<ReturnType<typeof getRules>>['data'][number];
type Check = { valid: boolean; error: { message: string; line: number | null; column: number | null } | null };
type Panel = { ruleId: string; view: 'edit' | 'versions' | 'dry-run' };
type Definition = operations['updateRule']['requestBody']['content']['application/json'];

const getRules = (programId: string) => ok(api.GET('/v1/programs/{programId}/rules', { params: { path: { programId } } }));

export function Rules() {
  const { t, num } = useI18n();
  const { program, session } = useSession();
  const queries = useQueryClient();
  const editable = canWrite(session.user.role, 'program');
  const programId = program?.programId ?? '';
  const rules = useQuery({ queryKey: ['rules', programId], enabled: !!program, queryFn: () => getRules(programId) });
  const toggle = useMutation({
    mutationFn: ({ ruleId, enable }: { ruleId: string; enable: boolean }) =>
      ok(enable ? api.POST('/v1/rules/{ruleId}/enable', { params: { path: { ruleId } } }) : api.POST('/v1/rules/{ruleId}/disable', { params: { path: { ruleId } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['rules'] }),
  });
  const [panel, setPanel] = useState<Panel | null>(null);
  const open = panel && rules.data?.data.find((r) => r.ruleId === panel.ruleId);
  return (
    <section>
      <h1>{t('nav.rules')}</h1>
      <TableWrap label={t('nav.rules')}>
        <table>
          <thead><tr><th>{t('rules.name')}</th><th>{t('rules.trigger')}</th><th>{t('rules.condition')}</th><th>{t('rules.version')}</th><th>{t('rules.enabled')}</th><th><span className="visually-hidden">{t('ruleEdit.actions')}</span></th></tr></thead>
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
                <td className="actions">
                  {editable && <button type="button" className="secondary" aria-label={`${t('ruleEdit.edit')}: ${r.name}`} onClick={() => setPanel({ ruleId: r.ruleId, view: 'edit' })}>{t('ruleEdit.edit')}</button>}
                  <button type="button" className="secondary" aria-label={`${t('ruleEdit.versions')}: ${r.name}`} onClick={() => setPanel({ ruleId: r.ruleId, view: 'versions' })}>{t('ruleEdit.versions')}</button>
                  {editable && <button type="button" className="secondary" aria-label={`${t('rules.dryRun')}: ${r.name}`} onClick={() => setPanel({ ruleId: r.ruleId, view: 'dry-run' })}>{t('rules.dryRun')}</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      {open && panel.view === 'edit' && (
        <RuleEditor key={`${open.ruleId}-${open.version}`} rule={open} programId={programId}
          onSaved={() => { void queries.invalidateQueries({ queryKey: ['rules'] }); void queries.invalidateQueries({ queryKey: ['rule-versions', open.ruleId] }); setPanel({ ruleId: open.ruleId, view: 'versions' }); }}
          onCancel={() => setPanel(null)} />
      )}
      {open && panel.view === 'versions' && <Versions rule={open} />}
      {open && panel.view === 'dry-run' && <DryRun ruleId={open.ruleId} />}
      {editable && program && <NewRule programId={programId} onCreated={(id) => { void queries.invalidateQueries({ queryKey: ['rules'] }); setPanel({ ruleId: id, view: 'dry-run' }); }} />}
      {rules.data && <p className="muted">{t('rules.count', { n: num(rules.data.data.length) })}</p>}
    </section>
  );
}

/** The verdict on a condition as it is typed: asked of the API a quarter second after the last key. */
function useConditionCheck(condition: string): Check | null {
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
  return check;
}

function ConditionField({ id, condition, setCondition, check }: { id: string; condition: string; setCondition(c: string): void; check: Check | null }) {
  const { t } = useI18n();
  const error = check && !check.valid ? check.error : null;
  return (
    <>
      <label className="wide">{t('rules.condition')}
        <textarea rows={3} spellCheck={false} value={condition} onChange={(e) => setCondition(e.target.value)} aria-invalid={!!error} aria-describedby={id}
          placeholder='member.tier == "gold" && time.weekend' />
      </label>
      <div id={id} className="wide" aria-live="polite">
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
    </>
  );
}

function NewRule({ programId, onCreated }: { programId: string; onCreated: (ruleId: string) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [condition, setCondition] = useState('');
  const [points, setPoints] = useState('1');
  const check = useConditionCheck(condition);
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
  return (
    <form className="card rule-editor" onSubmit={submit} aria-labelledby="new-rule">
      <h2 id="new-rule">{t('rules.new')}</h2>
      <label>{t('rules.name')}<input required value={name} onChange={(e) => setName(e.target.value)} /></label>
      <ConditionField id="condition-check" condition={condition} setCondition={setCondition} check={check} />
      <label>{t('rules.pointsPerEuro')}<input type="number" min={1} step={1} required value={points} onChange={(e) => setPoints(e.target.value)} /></label>
      <button type="submit" disabled={create.isPending || (check !== null && !check.valid)}>{t('rules.create')}</button>
      {create.error instanceof ApiError && <p role="alert" className="error">{create.error.message}</p>}
    </form>
  );
}

/** Edits a rule: saving writes version n+1; the versions before stay as they were. */
function RuleEditor({ rule, programId, onSaved, onCancel }: { rule: Rule; programId: string; onSaved(): void; onCancel(): void }) {
  const { t } = useI18n();
  const campaigns = useQuery({ queryKey: ['campaigns', programId], queryFn: () => ok(api.GET('/v1/programs/{programId}/campaigns', { params: { path: { programId } } })) });
  const [name, setName] = useState(rule.name);
  const [condition, setCondition] = useState(rule.condition ?? '');
  const [effect, setEffect] = useState(JSON.stringify(rule.effect, null, 2));
  const [priority, setPriority] = useState(String(rule.priority));
  const [campaignId, setCampaignId] = useState(rule.campaignId ?? '');
  const check = useConditionCheck(condition);
  const parsedEffect = useMemo(() => {
    try {
      const v: unknown = JSON.parse(effect);
      return v && typeof v === 'object' && !Array.isArray(v) ? v as { type: string } : null;
    } catch {
      return null;
    }
  }, [effect]);
  const definition = (): Definition => ({
    name, description: rule.description, trigger: rule.trigger, condition: condition.trim() ? condition : null, effect: parsedEffect!,
    limits: rule.limits, stacking: rule.stacking as 'cumulative', priority: Number(priority), campaignId: campaignId || null,
  });
  const [draft, setDraft] = useState<Definition | null>(null);
  const save = useMutation({
    mutationFn: () => ok(api.PUT('/v1/rules/{ruleId}', { params: { path: { ruleId: rule.ruleId } }, body: definition() })),
    onSuccess: onSaved,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="card rule-editor" onSubmit={submit} aria-labelledby="edit-rule" data-testid="rule-editor">
      <h2 id="edit-rule">{t('ruleEdit.title', { name: rule.name, version: rule.version })}</h2>
      <label>{t('rules.name')}<input required value={name} onChange={(e) => setName(e.target.value)} /></label>
      <label>{t('ruleEdit.priority')}<input type="number" step={1} required value={priority} onChange={(e) => setPriority(e.target.value)} /></label>
      <label>{t('ruleEdit.campaign')}
        <select value={campaignId} onChange={(e) => setCampaignId(e.target.value)}>
          <option value="">{t('ruleEdit.noCampaign')}</option>
          {campaigns.data?.data.map((c) => <option key={c.campaignId} value={c.campaignId}>{c.name}</option>)}
        </select>
      </label>
      <ConditionField id="edit-condition-check" condition={condition} setCondition={setCondition} check={check} />
      <label className="wide">{t('ruleEdit.effect')}
        <textarea rows={5} spellCheck={false} value={effect} onChange={(e) => setEffect(e.target.value)} aria-invalid={!parsedEffect} />
      </label>
      {!parsedEffect && <p role="alert" className="error wide">{t('ruleEdit.badJson')}</p>}
      <div className="inline wide">
        <button type="submit" disabled={save.isPending || !parsedEffect || (check !== null && !check.valid)}>{t('ruleEdit.save')}</button>
        <button type="button" className="secondary" disabled={!parsedEffect || (check !== null && !check.valid)} onClick={() => setDraft(definition())}>{t('ruleEdit.tryDraft')}</button>
        <button type="button" className="secondary" onClick={onCancel}>{t('ruleEdit.cancel')}</button>
      </div>
      {draft && <div className="wide"><DryRun ruleId={rule.ruleId} definition={draft} /></div>}
      {save.error instanceof ApiError && (
        <p role="alert" className="error wide">{save.error.message}{save.error.problem.errors?.map((e) => ` (${e.field}: ${e.message})`).join('')}</p>
      )}
    </form>
  );
}

const FIELDS = ['name', 'description', 'trigger', 'condition', 'effect', 'limits', 'stacking', 'priority', 'campaignId'] as const;

/** A rule's versions, and what changed between two of them (by default the last two). */
function Versions({ rule }: { rule: Rule }) {
  const { t, date } = useI18n();
  const versions = useQuery({
    queryKey: ['rule-versions', rule.ruleId, rule.version],
    queryFn: () => ok(api.GET('/v1/rules/{ruleId}/versions', { params: { path: { ruleId: rule.ruleId } } })),
  });
  const list = versions.data?.data ?? [];
  // who saved a version, by e-mail where the role may list users (owners); else the actor as stored
  const { session } = useSession();
  const users = useQuery({ queryKey: ['users'], enabled: canRead(session.user.role, 'users'), queryFn: () => ok(api.GET('/v1/users')) });
  const who = (actor: string | undefined) => users.data?.data.find((u) => `user:${u.userId}` === actor)?.email ?? actor ?? '—';
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const b = to ?? list.at(-1)?.version ?? 1;
  const a = from ?? Math.max(1, b - 1);
  const before = list.find((v) => v.version === a);
  const after = list.find((v) => v.version === b);
  const diff = before && after ? changes(before as Record<string, unknown>, after as Record<string, unknown>, FIELDS) : [];
  return (
    <section className="card" aria-labelledby="versions-of" data-testid="rule-versions">
      <h2 id="versions-of">{t('ruleEdit.versionsOf', { name: rule.name })}</h2>
      <TableWrap label={t('ruleEdit.versionsOf', { name: rule.name })}>
        <table>
          <thead><tr><th className="num">{t('rules.version')}</th><th>{t('rules.name')}</th><th>{t('ruleEdit.savedBy')}</th><th>{t('ruleEdit.savedAt')}</th></tr></thead>
          <tbody>
            {[...list].reverse().map((v) => (
              <tr key={v.version}><td className="num">{v.version}</td><td>{v.name}</td><td>{who(v.savedBy)}</td><td>{v.savedAt ? date(v.savedAt) : '—'}</td></tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      {list.length > 1 && (
        <>
          <div className="filters diff-pick">
            <label>{t('ruleEdit.compare')}
              <select value={a} onChange={(e) => setFrom(Number(e.target.value))}>{list.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</select>
            </label>
            <label>{t('ruleEdit.with')}
              <select value={b} onChange={(e) => setTo(Number(e.target.value))}>{list.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</select>
            </label>
          </div>
          <h3>{t('ruleEdit.diffTitle', { a, b })}</h3>
          {diff.length === 0 && <p className="muted">{t('ruleEdit.same')}</p>}
          <dl className="diff" data-testid="rule-diff">
            {diff.map((c) => (
              <div key={c.field}>
                <dt>{c.field}</dt>
                <dd>
                  <pre>{c.lines.map((l, i) => (
                    <span key={i} className={`diff-${l.kind}`}>{l.kind === 'add' ? '+ ' : l.kind === 'del' ? '− ' : '  '}{l.text}{'\n'}</span>
                  ))}</pre>
                </dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </section>
  );
}

/** What the rule, or a draft of it, would have paid on the last month's events, per day. */
function DryRun({ ruleId, definition }: { ruleId: string; definition?: Definition }) {
  const { t, num } = useI18n();
  const from = useMemo(() => new Date(Date.now() - 31 * 86_400_000).toISOString(), []);
  const run = useQuery({
    queryKey: ['dry-run', ruleId, definition ?? null],
    queryFn: () => ok(api.POST('/v1/rules/{ruleId}/dry-run', { params: { path: { ruleId } }, body: { from, limit: 1000, ...(definition ? { definition } : {}) } })),
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
