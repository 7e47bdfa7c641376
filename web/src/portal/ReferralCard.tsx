// The member's referral link in the portal: shown only when their program has referrals on.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import { useI18n } from '../i18n';

export function ReferralCard({ memberId }: { memberId: string }) {
  const { t, num } = useI18n();
  const [copied, setCopied] = useState(false);
  const referral = useQuery({
    queryKey: ['referral', memberId],
    queryFn: async () => (await api.GET('/v1/members/{memberId}/referral', { params: { path: { memberId } } })).data ?? null,
  });
  const r = referral.data;
  const link = r?.link;
  if (!r || !link) return null;
  const copy = () => {
    void navigator.clipboard?.writeText(link).then(() => setCopied(true), () => setCopied(false));
  };
  const joined = Object.values(r.referrals).reduce((a, b) => a + b, 0);
  return (
    <section className="card referral" aria-labelledby="referral-title">
      <h2 id="referral-title">{t('referrals.portal.title')}</h2>
      <p>{t('referrals.portal.text')}</p>
      <p><a href={link} data-testid="portal-referral-link">{link}</a></p>
      <p>{t('referrals.portal.code')}: <code data-testid="portal-referral-code">{r.code}</code></p>
      <button type="button" className="secondary" onClick={copy}>{t('referrals.portal.copy')}</button>
      {copied && <p role="status" className="ok">{t('referrals.portal.copied')}</p>}
      <p className="muted">{t('referrals.portal.count', { n: num(joined), points: num(r.pointsEarned) })}</p>
    </section>
  );
}
