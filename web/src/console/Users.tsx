import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import type { Role } from './session';

const ROLES: Role[] = ['owner', 'marketer', 'support', 'finance', 'viewer'];

export function Users() {
  const { t } = useI18n();
  const queries = useQueryClient();
  const users = useQuery({ queryKey: ['users'], queryFn: () => ok(api.GET('/v1/users')) });
  const [form, setForm] = useState({ email: '', name: '', role: 'viewer' as Role, password: '' });
  const create = useMutation({
    mutationFn: () => ok(api.POST('/v1/users', { body: form })),
    onSuccess: () => {
      setForm({ email: '', name: '', role: 'viewer', password: '' });
      void queries.invalidateQueries({ queryKey: ['users'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <section>
      <h1>{t('nav.users')}</h1>
      <div className="table-wrap">
        <table>
          <thead><tr><th>{t('users.name')}</th><th>{t('login.email')}</th><th>{t('users.role')}</th><th>{t('members.status')}</th></tr></thead>
          <tbody>
            {users.data?.data.map((u) => (
              <tr key={u.userId}><td>{u.name}</td><td>{u.email}</td><td>{t(`role.${u.role}` as MessageKey)}</td><td>{u.disabled ? t('users.disabled') : u.lockedUntil ? t('users.locked') : t('status.active')}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
      <form className="card inline-form" onSubmit={submit} aria-labelledby="new-user">
        <h2 id="new-user">{t('users.new')}</h2>
        <label>{t('users.name')}<input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
        <label>{t('login.email')}<input type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} /></label>
        <label>{t('users.role')}
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
            {ROLES.map((r) => <option key={r} value={r}>{t(`role.${r}` as MessageKey)}</option>)}
          </select>
        </label>
        <label>{t('login.password')}<input type="password" autoComplete="new-password" required minLength={10} value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} /></label>
        <button type="submit" disabled={create.isPending}>{t('users.create')}</button>
        {create.error instanceof ApiError && <p role="alert" className="error">{create.error.message}</p>}
      </form>
    </section>
  );
}
