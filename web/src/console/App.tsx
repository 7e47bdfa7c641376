import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { NavLink, Navigate, Route, Routes } from 'react-router';
import { api, ApiError, ok, setCsrfToken } from '../api/client';
import { LanguageSwitch, useI18n, type MessageKey } from '../i18n';
import { Accounting } from './Accounting';
import { Achievements } from './Achievements';
import { Analytics } from './Analytics';
import { AuditLog } from './AuditLog';
import { Campaigns } from './Campaigns';
import { Dashboard } from './Dashboard';
import { Engagement } from './Engagement';
import { Grades } from './Grades';
import { Jobs } from './Jobs';
import { MemberProfile, Members } from './Members';
import { Memberships } from './Memberships';
import { Referrals } from './Referrals';
import { Redemptions, Rewards } from './Rewards';
import { Rules } from './Rules';
import { canRead, SessionContext, type Area, type Role } from './session';
import { ApiKeys, Program } from './Settings';
import { Tiers } from './Tiers';
import { Users } from './Users';
import { Webhooks } from './Webhooks';

export function App() {
  const { t } = useI18n();
  const session = useQuery({
    queryKey: ['session'],
    queryFn: async () => {
      const r = await api.GET('/v1/session');
      if (r.response.status === 401) return null;
      const s = await ok(Promise.resolve(r));
      setCsrfToken(s.csrfToken);
      return s;
    },
  });
  const programs = useQuery({
    queryKey: ['programs'], enabled: !!session.data,
    queryFn: () => ok(api.GET('/v1/programs')),
  });
  if (session.isPending) return <p className="loading">{t('loading')}</p>;
  if (!session.data) return <Login />;
  const program = programs.data?.data[0] ?? null;
  return (
    <SessionContext.Provider value={{ session: { ...session.data, user: { ...session.data.user, role: session.data.user.role as Role } }, program }}>
      <Shell role={session.data.user.role as Role} email={session.data.user.email}>
        {programs.isPending ? <p className="loading">{t('loading')}</p> : (
          <Routes>
            <Route path="/" element={<Dashboard />} />
            <Route path="/analytics" element={<Analytics />} />
            <Route path="/members" element={<Members />} />
            <Route path="/members/:memberId" element={<MemberProfile />} />
            <Route path="/rules" element={<Rules />} />
            <Route path="/campaigns" element={<Campaigns />} />
            <Route path="/tiers" element={<Tiers />} />
            <Route path="/grades" element={<Grades />} />
            <Route path="/jobs" element={<Jobs />} />
            <Route path="/rewards" element={<Rewards />} />
            <Route path="/rewards/redemptions" element={<Redemptions />} />
            <Route path="/referrals" element={<Referrals />} />
            <Route path="/achievements" element={<Achievements />} />
            <Route path="/memberships" element={<Memberships />} />
            <Route path="/engagement" element={<Engagement />} />
            <Route path="/audit-log" element={<AuditLog />} />
            <Route path="/users" element={<Users />} />
            <Route path="/program" element={<Program />} />
            <Route path="/webhooks" element={<Webhooks />} />
            <Route path="/api-keys" element={<ApiKeys />} />
            <Route path="/accounting" element={<Accounting />} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        )}
      </Shell>
    </SessionContext.Provider>
  );
}

const NAV: { to: string; label: MessageKey; area: Area }[] = [
  { to: '/', label: 'nav.dashboard', area: 'program' },
  { to: '/analytics', label: 'nav.analytics', area: 'program' },
  { to: '/members', label: 'nav.members', area: 'members' },
  { to: '/program', label: 'nav.program', area: 'program' },
  { to: '/rules', label: 'nav.rules', area: 'program' },
  { to: '/campaigns', label: 'nav.campaigns', area: 'program' },
  { to: '/tiers', label: 'nav.tiers', area: 'program' },
  { to: '/grades', label: 'nav.grades', area: 'program' },
  { to: '/rewards', label: 'nav.rewards', area: 'program' },
  { to: '/referrals', label: 'nav.referrals', area: 'program' },
  { to: '/achievements', label: 'nav.achievements', area: 'program' },
  { to: '/memberships', label: 'nav.memberships', area: 'program' },
  { to: '/engagement', label: 'nav.engagement', area: 'program' },
  { to: '/audit-log', label: 'nav.audit', area: 'audit' },
  { to: '/users', label: 'nav.users', area: 'users' },
  { to: '/webhooks', label: 'nav.webhooks', area: 'webhooks' },
  { to: '/jobs', label: 'nav.jobs', area: 'jobs' },
  { to: '/api-keys', label: 'nav.keys', area: 'keys' },
  { to: '/accounting', label: 'accounting.nav', area: 'books' },
];

function Shell({ role, email, children }: { role: Role; email: string; children: React.ReactNode }) {
  const { t } = useI18n();
  const queries = useQueryClient();
  const signOut = useMutation({
    mutationFn: () => ok(api.DELETE('/v1/session')),
    onSuccess: () => queries.setQueryData(['session'], null),
  });
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Laurel</span>
        <nav aria-label={t('nav.label')}>
          <ul>
            {NAV.filter((n) => canRead(role, n.area)).map((n) => (
              <li key={n.to}><NavLink to={n.to} end={n.to === '/'}>{t(n.label)}</NavLink></li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span className="role-badge" data-testid="role">{t(`role.${role}` as MessageKey)}</span>
          <span className="email">{email}</span>
          <LanguageSwitch />
          <button type="button" className="link" onClick={() => signOut.mutate()}>{t('signOut')}</button>
        </div>
      </header>
      <main>{children}</main>
    </div>
  );
}

function Login() {
  const { t } = useI18n();
  const queries = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useMutation({
    mutationFn: () => ok(api.POST('/v1/session', { body: { email, password } })),
    onSuccess: (s) => {
      setCsrfToken(s.csrfToken);
      queries.setQueryData(['session'], s);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate();
  };
  const error = signIn.error instanceof ApiError ? (signIn.error.problem.status === 429 ? t('login.locked') : t('login.wrong')) : null;
  return (
    <main className="login">
      <form onSubmit={submit} className="card">
        <h1>{t('login.title')}</h1>
        <label>{t('login.email')}<input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} /></label>
        <label>{t('login.password')}<input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} /></label>
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" disabled={signIn.isPending}>{t('login.submit')}</button>
        <LanguageSwitch />
      </form>
    </main>
  );
}
