// The member's paid membership in the portal: shown only when they have one.
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';

export function MembershipCard({ memberId }: { memberId: string }) {
  const { t, date } = useI18n();
  const memberships = useQuery({
    queryKey: ['memberships', memberId],
    queryFn: async () => (await api.GET('/v1/members/{memberId}/membership', { params: { path: { memberId } } })).data?.data ?? [],
  });
  // the one whose benefits apply, else the newest
  const m = memberships.data?.find((x) => x.entitled) ?? memberships.data?.[0];
  if (!m) return null;
  return (
    <section className="card membership" aria-labelledby="membership-title">
      <h2 id="membership-title">{t('memberships.portal.title', { plan: m.plan.name })}</h2>
      <p data-testid="portal-membership-status">
        {t(`memberships.status.${m.status}` as MessageKey)}
        {' — '}
        {m.entitled
          ? (m.expiresAt ? t('memberships.portal.until', { date: date(m.expiresAt) }) : t('memberships.entitled'))
          : t('memberships.notEntitled')}
      </p>
      {m.entitled && m.plan.benefits.flags.length > 0 && <p className="muted">{m.plan.benefits.flags.map((f) => f.replace(/[_-]+/g, ' ')).join(', ')}</p>}
    </section>
  );
}
