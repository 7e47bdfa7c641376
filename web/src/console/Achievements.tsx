import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { canWrite, useSession } from './session';

type Kind = 'counter' | 'challenge' | 'streak' | 'milestone';

/** The program's achievements: definitions (enable, a new one), and the unlocks of each. */
export function Achievements() {
  const { t, num } = useI18n();
  const { program, session } = useSession();
  const queries = useQueryClient();
  const editable = canWrite(session.user.role, 'program');
  const programId = program?.programId ?? '';
  const path = { params: { path: { programId } } };
  const list = useQuery({ queryKey: ['achievements', programId], enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/achievements', path)) });
  const report = useQuery({ queryKey: ['achievement-report', programId], enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/achievements/report', path)) });
  const toggle = useMutation({
    mutationFn: ({ achievementId, enable }: { achievementId: string; enable: boolean }) => {
      const p = { params: { path: { achievementId } } };
      return ok(enable ? api.POST('/v1/achievements/{achievementId}/enable', p) : api.POST('/v1/achievements/{achievementId}/disable', p));
    },
    onSuccess: () => queries.invalidateQueries({ queryKey: ['achievements'] }),
  });
  const unlocks = new Map((report.data?.data ?? []).map((r) => [r.achievementId, r]));
  return (
    <section>
      <h1>{t('nav.achievements')}</h1>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('nav.achievements')}>
        <table>
          <thead>
            <tr>
              <th>{t('achievements.name')}</th><th>{t('achievements.kind')}</th><th className="num">{t('achievements.target')}</th><th>{t('achievements.reward')}</th>
              <th className="num">{t('achievements.unlocks')}</th><th className="num">{t('achievements.members')}</th><th className="num">{t('achievements.revoked')}</th>
              <th className="num">{t('achievements.pointsPaid')}</th><th>{t('achievements.enabled')}</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.data.map((a) => {
              const r = unlocks.get(a.achievementId);
              return (
                <tr key={a.achievementId} data-testid="achievement-row">
                  <td>{a.name} <code>{a.code}</code>{a.stampCard && <span className="pill">{t('achievements.stampCard')}</span>}{a.hidden && <span className="pill">{t('achievements.hidden')}</span>}</td>
                  <td>
                    {t(`achievements.kind.${a.kind}` as MessageKey)}{a.streakUnit ? ` · ${t(`achievements.unit.${a.streakUnit}s` as MessageKey)}` : ''}
                    {a.repeatable && a.kind !== 'milestone' && !a.stampCard && <span className="pill">{t('achievements.repeatable')}</span>}
                  </td>
                  <td className="num">{a.kind === 'milestone' ? (a.thresholds?.every ? `${t('achievements.every')} ${num(a.thresholds.every)}` : (a.thresholds?.list ?? []).map(num).join(', ')) : num(a.target)}</td>
                  <td>{a.reward.type === 'points' ? `${num(a.reward.points ?? 0)} ${t('points')}` : t(`achievements.reward.${a.reward.type}` as MessageKey)}</td>
                  <td className="num">{num(r?.unlocks ?? 0)}</td><td className="num">{num(r?.members ?? 0)}</td><td className="num">{num(r?.revoked ?? 0)}</td>
                  <td className="num">{num(r?.points ?? 0)}</td>
                  <td>
                    <label className="switch">
                      <input type="checkbox" checked={a.enabled} disabled={!editable} onChange={() => toggle.mutate({ achievementId: a.achievementId, enable: !a.enabled })} />
                      <span className="visually-hidden">{t('achievements.enabled')}: {a.name}</span>
                    </label>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {list.data && list.data.data.length === 0 && <p className="muted">{t('achievements.none')}</p>}
      {editable && program && <NewAchievement programId={programId} onCreated={() => void queries.invalidateQueries({ queryKey: ['achievements'] })} />}
    </section>
  );
}

function NewAchievement({ programId, onCreated }: { programId: string; onCreated: () => void }) {
  const { t } = useI18n();
  const [code, setCode] = useState('');
  const [name, setName] = useState('');
  const [kind, setKind] = useState<Kind>('counter');
  const [target, setTarget] = useState('5');
  const [unit, setUnit] = useState<'day' | 'week' | 'month'>('week');
  const [filter, setFilter] = useState('');
  const [points, setPoints] = useState('');
  const [repeatable, setRepeatable] = useState(false);
  const [filterError, setFilterError] = useState<string | null>(null);
  // The filter is checked as it is typed, as a rule condition is: the API would refuse it naming `filter`.
  useEffect(() => {
    if (!filter.trim()) {
      setFilterError(null);
      return;
    }
    const timer = setTimeout(() => {
      void ok(api.POST('/v1/rules/check-condition', { body: { condition: filter } }))
        .then((c) => setFilterError(c.valid ? null : c.error?.message ?? ''), () => setFilterError(null));
    }, 250);
    return () => clearTimeout(timer);
  }, [filter]);
  const create = useMutation({
    mutationFn: () => ok(api.POST('/v1/programs/{programId}/achievements', {
      params: { path: { programId } },
      body: {
        code, name, kind,
        ...(kind === 'milestone' ? { thresholds: { every: Number(target) } } : { target: Number(target) }),
        ...(kind === 'streak' ? { streakUnit: unit } : {}),
        ...(kind === 'challenge' ? { window: { from: new Date().toISOString(), to: new Date(Date.now() + 30 * 86_400_000).toISOString() } } : {}),
        ...(filter.trim() && kind !== 'milestone' ? { filter } : {}),
        ...(repeatable && (kind === 'counter' || kind === 'streak') ? { repeatable: true } : {}),
        ...(points.trim() ? { reward: { type: 'points', points: Number(points) } } : {}),
      },
    })),
    onSuccess: () => {
      setCode('');
      setName('');
      setFilter('');
      setRepeatable(false);
      onCreated();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const problem = create.error instanceof ApiError ? create.error.problem : null;
  const field = filterError !== null && kind !== 'milestone' ? 'filter' : problem?.errors?.[0]?.field;
  const message = filterError !== null && kind !== 'milestone' ? filterError : create.error?.message;
  return (
    <form className="card rule-editor" onSubmit={submit} aria-labelledby="new-achievement">
      <h2 id="new-achievement">{t('achievements.new')}</h2>
      <label>{t('achievements.code')}<input required pattern="[a-z0-9][a-z0-9_\-]{0,63}" value={code} onChange={(e) => setCode(e.target.value)} aria-invalid={field === 'code'} /></label>
      <label>{t('achievements.name')}<input required value={name} onChange={(e) => setName(e.target.value)} /></label>
      <label>{t('achievements.kind')}
        <select value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
          {(['counter', 'challenge', 'streak', 'milestone'] as const).map((k) => <option key={k} value={k}>{t(`achievements.kind.${k}` as MessageKey)}</option>)}
        </select>
      </label>
      {kind === 'streak' && (
        <label>{t('achievements.streakUnit')}
          <select value={unit} onChange={(e) => setUnit(e.target.value as 'day' | 'week' | 'month')}>
            {(['day', 'week', 'month'] as const).map((u) => <option key={u} value={u}>{t(`achievements.unit.${u}s` as MessageKey)}</option>)}
          </select>
        </label>
      )}
      <label>{kind === 'milestone' ? t('achievements.every') : t('achievements.target')}
        <input type="number" min={1} step={1} required value={target} onChange={(e) => setTarget(e.target.value)} aria-invalid={field === 'target'} />
      </label>
      {kind !== 'milestone' && (
        <label>{t('achievements.filter')}
          <textarea rows={2} spellCheck={false} value={filter} onChange={(e) => setFilter(e.target.value)} aria-invalid={field === 'filter'} aria-describedby="achievement-error" placeholder='"coffee" in order.categories' />
        </label>
      )}
      {(kind === 'counter' || kind === 'streak') && (
        <label className="check">
          <input type="checkbox" checked={repeatable} onChange={(e) => setRepeatable(e.target.checked)} />
          {kind === 'streak' ? t('achievements.repeatableStreak') : t('achievements.repeatableCounter')}
        </label>
      )}
      <label>{kind === 'milestone' ? t('achievements.rewardPointsMilestone') : t('achievements.rewardPoints')}
        <input type="number" min={1} step={1} value={points} onChange={(e) => setPoints(e.target.value)} aria-invalid={field === 'reward.points'} />
      </label>
      <button type="submit" disabled={create.isPending || (filterError !== null && kind !== 'milestone')}>{t('achievements.create')}</button>
      {message && <p role="alert" className="error" id="achievement-error" data-testid="achievement-error">{field ? `${field}: ` : ''}{message}</p>}
    </form>
  );
}

/** A member's badges: unlocked ones, and the progress toward the others (a stamp card's stamps). */
export function MemberBadges({ memberId }: { memberId: string }) {
  const { t, num } = useI18n();
  const badges = useQuery({
    queryKey: ['achievements-of', memberId],
    queryFn: () => ok(api.GET('/v1/members/{memberId}/achievements', { params: { path: { memberId } } })),
  });
  if (!badges.data || badges.data.data.length === 0) return null;
  return (
    <>
      <h2>{t('achievements.badges')}</h2>
      <ul className="badges" aria-label={t('achievements.badges')}>
        {badges.data.data.map((b) => (
          <li key={b.achievementId} className={`card badge${b.unlocked ? ' unlocked' : ''}`} data-testid="badge">
            <strong>{b.unlocked ? '🏅 ' : ''}{b.name}</strong>
            {b.stampCard ? (
              <span className="stamps" role="img" aria-label={t('achievements.stamps', { n: num(b.current), of: num(b.target) })}>
                {Array.from({ length: Math.min(b.target, 20) }, (_, i) => <span key={i} aria-hidden="true">{i < b.current ? '●' : '○'}</span>)}
              </span>
            ) : (
              <progress max={b.target || 1} value={Math.min(b.current, b.target)} aria-label={b.name} />
            )}
            <span className="muted">
              {b.next ? t('achievements.next', { n: num(b.next.remaining), unit: t(`achievements.unit.${b.next.unit}` as MessageKey) }) : t('achievements.done')}
              {b.timesUnlocked > 1 ? ` · ×${num(b.timesUnlocked)}` : ''}
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}
