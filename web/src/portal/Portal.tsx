import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import QRCode from 'qrcode';
import { useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, ok, randomKey, setBearer } from '../api/client';
import { LanguageSwitch, useI18n, type MessageKey } from '../i18n';
import { MembershipCard } from './MembershipCard';
import { RecognitionCard } from './RecognitionCard';
import { ReferralCard } from './ReferralCard';
import { initialToken, memberOf } from './token';

export function Portal() {
  const { t } = useI18n();
  const [token, setToken] = useState(initialToken);
  const memberId = token ? memberOf(token) : null;
  if (memberId) setBearer(token);
  const signOut = () => {
    sessionStorage.removeItem('laurel.token');
    setBearer('');
    setToken('');
  };
  return (
    <div className="portal">
      <header className="topbar">
        <span className="brand">{t('portal.title')}</span>
        <div className="who">
          <LanguageSwitch />
          {memberId && <button type="button" className="link" onClick={signOut}>{t('signOut')}</button>}
        </div>
      </header>
      <main>{memberId ? <Member memberId={memberId} /> : <TokenForm onToken={setToken} invalid={!!token} />}</main>
    </div>
  );
}

function TokenForm({ onToken, invalid }: { onToken: (token: string) => void; invalid: boolean }) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    sessionStorage.setItem('laurel.token', text.trim());
    onToken(text.trim());
  };
  return (
    <form className="card login" onSubmit={submit}>
      <h1>{t('portal.signIn')}</h1>
      <p>{t('portal.tokenHelp')}</p>
      <label>{t('portal.token')}<textarea rows={3} required value={text} onChange={(e) => setText(e.target.value)} /></label>
      {invalid && <p role="alert" className="error">{t('portal.tokenInvalid')}</p>}
      <button type="submit">{t('portal.open')}</button>
    </form>
  );
}

function Member({ memberId }: { memberId: string }) {
  const { t, num, date } = useI18n();
  const path = { params: { path: { memberId } } };
  const balances = useQuery({ queryKey: ['balances', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/balances', path)) });
  // A member with no tier is in a program without a ladder, where asking for the tier is a 404.
  const member = useQuery({ queryKey: ['member', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}', path)) });
  const tier = useQuery({
    queryKey: ['tier', memberId], enabled: !!member.data?.tier,
    queryFn: async () => (await api.GET('/v1/members/{memberId}/tier', path)).data ?? null,
  });
  // the points wallet only: an event also earns into the qualifying wallet, and both entries would read as one earning twice
  const journal = useQuery({ queryKey: ['journal', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/journal', { params: { path: { memberId }, query: { limit: 20, wallet: 'points' } } })) });
  const lots = useQuery({ queryKey: ['lots', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/lots', path)) });
  // what expires within 30 days, soonest first
  const soon = Date.now() + 30 * 86_400_000;
  const expiring = (lots.data?.data ?? []).filter((l) => l.wallet === 'points' && !l.pending && l.remaining > 0 && l.expiresAt && Date.parse(l.expiresAt) < soon);
  const points = balances.data?.data.find((b) => b.wallet === 'points');
  if (balances.error) return <p role="alert" className="error">{t('portal.tokenInvalid')}</p>;
  return (
    <>
      <section aria-labelledby="balance-title">
        <h1 id="balance-title">{t('portal.balance')}</h1>
        {points && (
          <dl className="kpis">
            <div className="kpi card big"><dt>{t('balance.available')}</dt><dd data-testid="portal-available">{num(points.available)}</dd></div>
            <div className="kpi card"><dt>{t('balance.pending')}</dt><dd>{num(points.pending)}</dd></div>
            <div className="kpi card"><dt>{t('portal.expiring')}</dt><dd data-testid="portal-expiring">{num(expiring.reduce((s, l) => s + l.remaining, 0))}</dd></div>
          </dl>
        )}
        {expiring[0]?.expiresAt && <p>{t('portal.nextExpiry', { points: num(expiring[0].remaining), date: date(expiring[0].expiresAt) })}</p>}
      </section>
      {tier.data && (
        <section className="card tier" aria-labelledby="tier-title">
          <h2 id="tier-title">{t('portal.tier', { tier: tier.data.tier.name })}</h2>
          {tier.data.heldBy && <p data-testid="portal-tier-held">{t('memberships.portal.tierHeld', { tier: tier.data.tier.name })}</p>}
          {tier.data.nextTier ? (
            <>
              <progress max={tier.data.metric + tier.data.missing} value={Math.max(0, tier.data.metric)} aria-label={t('portal.progress')} />
              <p data-testid="portal-progress">{t('portal.nextTierGoal', { metric: num(tier.data.metric), target: num(tier.data.metric + tier.data.missing), next: tier.data.nextTier })}</p>
              <p>{t('tier.progress', { missing: num(tier.data.missing), next: tier.data.nextTier })}</p>
            </>
          ) : <p>{t('portal.topTier')}</p>}
        </section>
      )}
      <MembershipCard memberId={memberId} />
      <Rewards memberId={memberId} />
      <Owned memberId={memberId} />
      <ReferralCard memberId={memberId} />
      <RecognitionCard memberId={memberId} />
      <section aria-labelledby="history-title">
        <h2 id="history-title">{t('portal.history')}</h2>
        <ul className="history">
          {journal.data?.data.map((e) => (
            <li key={e.entryId}>
              <span>{t(`kind.${e.kind}` as MessageKey)}{e.reason ? ` · ${e.reason}` : ''}</span>
              <span className="num">{num(e.postings.filter((p) => p.memberId && p.account === 'available').reduce((s, p) => s + p.amount, 0) || e.amount)}</span>
              <time dateTime={e.createdAt}>{date(e.createdAt)}</time>
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}

function Rewards({ memberId }: { memberId: string }) {
  const { t, num } = useI18n();
  const queries = useQueryClient();
  const rewards = useQuery({ queryKey: ['rewards', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/rewards', { params: { path: { memberId } } })) });
  const redeem = useMutation({
    mutationFn: (rewardId: string) => ok(api.POST('/v1/members/{memberId}/rewards/{rewardId}/redeem', {
      params: { path: { memberId, rewardId }, header: { 'idempotency-key': randomKey() } }, body: {},
    })),
    onSuccess: () => queries.invalidateQueries(),
  });
  return (
    <section aria-labelledby="rewards-title">
      <h2 id="rewards-title">{t('portal.rewards')}</h2>
      {redeem.data && <Voucher code={redeem.data.instance.code} qr={redeem.data.instance.qr} partnerCode={redeem.data.instance.partnerCode} testId="voucher" />}
      {redeem.error instanceof ApiError && <p role="alert" className="error">{redeem.error.message}</p>}
      <ul className="rewards">
        {rewards.data?.data.map(({ reward, redeemable, locks }) => (
          <li key={reward.rewardId} className="card">
            {reward.imageUrl && <img src={reward.imageUrl} alt="" loading="lazy" />}
            <h3>{reward.name}</h3>
            <p className="cost">{num(reward.cost)} {t('points')}</p>
            {redeemable
              ? <button type="button" onClick={() => redeem.mutate(reward.rewardId)} disabled={redeem.isPending}>{t('portal.redeem')}</button>
              : <p className="muted">{locks.map((l) => l.detail).join(', ')}</p>}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Rewards redeemed and not yet used: each opens its code and QR again, for the till. */
function Owned({ memberId }: { memberId: string }) {
  const { t, date } = useI18n();
  const [shown, setShown] = useState<string | null>(null);
  const instances = useQuery({ queryKey: ['instances', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/reward-instances', { params: { path: { memberId }, query: { limit: 50 } } })) });
  const rewards = useQuery({ queryKey: ['rewards', memberId], queryFn: () => ok(api.GET('/v1/members/{memberId}/rewards', { params: { path: { memberId } } })) });
  const names = new Map(rewards.data?.data.map((x) => [x.reward.rewardId, x.reward.name]));
  const usable = (instances.data?.data ?? []).filter((i) => i.status === 'issued' || i.status === 'reserved');
  return (
    <section aria-labelledby="owned-title">
      <h2 id="owned-title">{t('portal.myRewards')}</h2>
      {instances.isSuccess && usable.length === 0 && <p className="muted">{t('portal.noRewardsToUse')}</p>}
      <ul className="owned">
        {usable.map((i) => (
          <li key={i.instanceId} className="card">
            <span><strong>{names.get(i.rewardId) ?? ''}</strong>{i.expiresAt ? <><br /><span className="muted">{t('portal.validUntil', { date: date(i.expiresAt) })}</span></> : null}</span>
            <button type="button" className="secondary" aria-expanded={shown === i.instanceId} onClick={() => setShown(shown === i.instanceId ? null : i.instanceId)}>{t('portal.showCode')}</button>
            {shown === i.instanceId && <Voucher code={i.code} qr={i.qr} partnerCode={i.partnerCode} testId="owned-voucher" />}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Voucher({ code, qr, partnerCode, testId }: { code: string; qr: string; partnerCode: string | null; testId: string }) {
  const { t } = useI18n();
  const [svg, setSvg] = useState('');
  useEffect(() => {
    void QRCode.toString(qr, { type: 'svg', margin: 1, width: 180 }).then(setSvg);
  }, [qr]);
  return (
    <div className="card voucher" role="status">
      <p>{t('portal.yourCode')}</p>
      <p className="code" data-testid={`${testId}-code`}>{code}</p>
      {partnerCode && <p className="partner" data-testid={`${testId}-partner`}>{t('portal.partnerCode', { code: partnerCode })}</p>}
      <div className="qr" role="img" aria-label={t('portal.qr')} dangerouslySetInnerHTML={{ __html: svg }} />
    </div>
  );
}
