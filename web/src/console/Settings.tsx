// The program's settings, its tier ladder and API keys: what an owner or a marketer checks before
// changing anything. (Webhooks have their own page, Webhooks.tsx.)
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { useSession } from './session';

export function Program() {
  const { t, num } = useI18n();
  const { program } = useSession();
  const programId = program?.programId ?? '';
  const p = useQuery({ queryKey: ['program', programId], enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}', { params: { path: { programId } } })) });
  const dash = useQuery({ queryKey: ['dashboard', programId, 90], enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/dashboard', { params: { path: { programId }, query: { days: 90 } } })) });
  // Asked for only when there is one: a 404 would be logged in the browser's console.
  const hasLadder = dash.data?.tierLadder;
  const ladder = useQuery({
    queryKey: ['ladder', programId, hasLadder], enabled: hasLadder !== undefined,
    queryFn: async () => (hasLadder ? (await api.GET('/v1/programs/{programId}/tier-ladder', { params: { path: { programId } } })).data ?? null : null),
  });
  if (!p.data) return <p className="loading">{t('loading')}</p>;
  const d = p.data;
  const membersOf = (code: string) => dash.data?.tiers.find((x) => x.tier === code)?.members ?? 0;
  return (
    <section>
      <h1>{d.name}</h1>
      <dl className="facts card">
        <div><dt>{t('program.enrollment')}</dt><dd>{d.enrollmentMode}</dd></div>
        <div><dt>{t('program.wallets')}</dt><dd>{d.wallets.map((w) => `${w.code} (${w.kind})`).join(', ')}</dd></div>
        <div><dt>{t('program.returnWindow')}</dt><dd>{t('program.days', { n: d.returnWindowDays })}</dd></div>
        <div><dt>{t('program.expiry')}</dt><dd><code>{JSON.stringify(d.expiry)}</code></dd></div>
        <div><dt>{t('program.negative')}</dt><dd>{d.negativeBalance}</dd></div>
        <div><dt>{t('program.pointValue')}</dt><dd>{d.pointValue ? `${num(d.pointValue.points)} = ${num(d.pointValue.minor)} ¢` : '—'}</dd></div>
      </dl>
      <h2>{t('program.tiers')}</h2>
      {ladder.data ? (
        <div className="table-wrap">
          <table>
            <thead><tr><th>{t('rules.name')}</th><th className="num">{t('program.threshold', { metric: ladder.data.metric })}</th><th>{t('program.benefits')}</th><th className="num">{t('nav.members')}</th></tr></thead>
            <tbody>
              {ladder.data.tiers.map((tier) => (
                <tr key={tier.code}>
                  <td>{tier.name}</td><td className="num">{num(Number(tier.threshold))}</td>
                  <td><code>{JSON.stringify(tier.benefits)}</code></td><td className="num">{num(membersOf(tier.code))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : <p>{t('program.noLadder')}</p>}
    </section>
  );
}

export function ApiKeys() {
  const { t, date } = useI18n();
  const queries = useQueryClient();
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => ok(api.GET('/v1/api-keys')) });
  const [name, setName] = useState('');
  const [scope, setScope] = useState<'admin' | 'pos' | 'read'>('pos');
  const create = useMutation({
    mutationFn: () => ok(api.POST('/v1/api-keys', { body: { name, scopes: [scope] } })),
    onSuccess: () => {
      setName('');
      void queries.invalidateQueries({ queryKey: ['api-keys'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (keyId: string) => ok(api.DELETE('/v1/api-keys/{keyId}', { params: { path: { keyId } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['api-keys'] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section>
      <h1>{t('nav.keys')}</h1>
      <div className="table-wrap">
        <table>
          <thead><tr><th>{t('users.name')}</th><th>{t('keys.scopes')}</th><th>{t('keys.created')}</th><th>{t('members.status')}</th><th /></tr></thead>
          <tbody>
            {keys.data?.data.map((k) => (
              <tr key={k.keyId}>
                <td>{k.name}</td><td>{k.scopes.join(', ')}</td><td>{date(k.createdAt)}</td>
                <td>{k.revokedAt ? t('keys.revoked') : t('status.active')}</td>
                <td>{!k.revokedAt && <button type="button" className="secondary" onClick={() => revoke.mutate(k.keyId)}>{t('keys.revoke')}</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form className="card inline-form" onSubmit={submit} aria-labelledby="new-key">
        <h2 id="new-key">{t('keys.new')}</h2>
        <label>{t('users.name')}<input required value={name} onChange={(e) => setName(e.target.value)} /></label>
        <label>{t('keys.scopes')}
          <select value={scope} onChange={(e) => setScope(e.target.value as typeof scope)}>
            {(['admin', 'pos', 'read'] as const).map((s) => <option key={s} value={s}>{t(`keys.scope.${s}` as MessageKey)}</option>)}
          </select>
        </label>
        <button type="submit" disabled={create.isPending}>{t('keys.create')}</button>
        {create.data && <p role="status" className="ok">{t('keys.shownOnce')} <code data-testid="new-key">{create.data.key}</code></p>}
        {create.error instanceof ApiError && <p role="alert" className="error">{create.error.message}</p>}
      </form>
    </section>
  );
}
