// The rewards catalog (pictures, stock, limits), a form for a new reward, the import of a
// partner's voucher codes (pasted or a CSV file), and the redemptions list.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, NavLink, useSearchParams } from 'react-router';
import { api, ApiError, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { canWrite, useSession } from './session';

type RewardRow = { rewardId: string; code: string; name: string; imageUrl: string | null; value: Record<string, unknown>; cost: number; stock: number | null; issued: number; perMember: Record<string, unknown>[]; tiers: string[] | null; channels: string[] | null; enabled: boolean };

function RewardTabs() {
  const { t } = useI18n();
  return (
    <nav aria-label={t('rewardsPage.sections')} className="tabs">
      <NavLink to="/rewards" end>{t('rewardsPage.catalog')}</NavLink>
      <NavLink to="/rewards/redemptions">{t('rewardsPage.redemptions')}</NavLink>
    </nav>
  );
}

export function useCatalog() {
  const { program } = useSession();
  const programId = program?.programId ?? '';
  return useQuery({
    queryKey: ['rewards', programId], enabled: !!program,
    queryFn: () => ok(api.GET('/v1/programs/{programId}/rewards', { params: { path: { programId } } })),
  });
}

/** "1 a week, 500 points a month; gold only; web" — what limits a reward. */
function useLimits() {
  const { t, num } = useI18n();
  return (r: RewardRow): string => {
    const parts = r.perMember.map((c) => {
      const period = t(`rewardsPage.per.${String(c.period)}` as MessageKey);
      return [c.times != null ? t('rewardsPage.times', { n: num(Number(c.times)), period }) : null, c.points != null ? t('rewardsPage.pointsCap', { n: num(Number(c.points)), period }) : null]
        .filter(Boolean).join(', ');
    });
    if (r.tiers) parts.push(t('rewardsPage.tiersOnly', { tiers: r.tiers.join(', ') }));
    if (r.channels) parts.push(r.channels.join(', '));
    return parts.join('; ') || '—';
  };
}

export function Rewards() {
  const { t, num } = useI18n();
  const { session } = useSession();
  const rewards = useCatalog();
  const limits = useLimits();
  const marketer = canWrite(session.user.role, 'program');
  const vouchers = (rewards.data?.data ?? []).filter((r) => r.value.type === 'partner_voucher');
  return (
    <section>
      <h1>{t('nav.rewards')}</h1>
      <RewardTabs />
      <div className="table-wrap" tabIndex={0} role="region" aria-label={t('rewardsPage.catalog')}>
        <table>
          <thead>
            <tr>
              <th><span className="visually-hidden">{t('rewardsPage.image')}</span></th><th>{t('rules.name')}</th><th>{t('rewards.type')}</th>
              <th className="num">{t('rewards.cost')}</th><th className="num">{t('rewards.issued')}</th><th className="num">{t('rewards.stock')}</th>
              <th>{t('rewardsPage.limits')}</th><th>{t('rules.enabled')}</th>
            </tr>
          </thead>
          <tbody>
            {rewards.data?.data.map((r) => (
              <tr key={r.rewardId}>
                <td className="thumb">{r.imageUrl ? <img src={r.imageUrl} alt={r.name} width={48} height={48} loading="lazy" /> : null}</td>
                <td>{r.name}<br /><code className="muted">{r.code}</code></td>
                <td>{t(`rewardType.${String(r.value.type)}` as MessageKey)}</td>
                <td className="num">{num(r.cost)}</td><td className="num">{num(r.issued)}</td>
                <td className="num">
                  {r.stock === null ? '∞' : num(r.stock)}
                  {r.partnerCodesFree !== undefined && <><br /><span className="muted" data-testid="codes-free">{t('rewardsPage.codesFree', { n: num(r.partnerCodesFree) })}</span></>}
                </td>
                <td>{limits(r as RewardRow)}</td>
                <td>{r.enabled ? '✓' : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {marketer && <NewReward />}
      {marketer && vouchers.length > 0 && <PartnerCodes rewards={vouchers} />}
    </section>
  );
}

const TYPES = ['free_product', 'fixed_discount', 'free_shipping', 'partner_voucher'] as const;

function NewReward() {
  const { t } = useI18n();
  const { program } = useSession();
  const queries = useQueryClient();
  const [f, setF] = useState({ code: '', name: '', type: 'free_product' as (typeof TYPES)[number], detail: '', cost: '', stock: '', imageUrl: '', times: '', period: 'month' });
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const value = (): Record<string, unknown> => {
    switch (f.type) {
      case 'free_product': return { type: f.type, sku: f.detail };
      case 'fixed_discount': return { type: f.type, amount: Math.round(Number(f.detail) * 100) };
      case 'partner_voucher': return { type: f.type, partner: f.detail };
      default: return { type: f.type };
    }
  };
  const create = useMutation({
    mutationFn: () => ok(api.POST('/v1/programs/{programId}/rewards', {
      params: { path: { programId: program!.programId } },
      body: {
        code: f.code, name: f.name, value: value() as never, cost: Number(f.cost),
        ...(f.stock ? { stock: Number(f.stock) } : {}), ...(f.imageUrl ? { imageUrl: f.imageUrl } : {}),
        ...(f.times ? { perMember: [{ period: f.period as 'month', times: Number(f.times) }] } : {}),
      },
    })),
    onSuccess: () => {
      setF({ ...f, code: '', name: '', detail: '', cost: '', stock: '', imageUrl: '', times: '' });
      void queries.invalidateQueries({ queryKey: ['rewards'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const detailLabel: Partial<Record<(typeof TYPES)[number], MessageKey>> = { free_product: 'rewardsPage.sku', fixed_discount: 'rewardsPage.amount', partner_voucher: 'rewardsPage.partner' };
  const problem = create.error instanceof ApiError ? create.error.problem : null;
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="new-reward-title">
      <h2 id="new-reward-title">{t('rewardsPage.new')}</h2>
      <label>{t('rewardsPage.code')}<input required pattern="[a-z0-9][a-z0-9_\-]{0,63}" value={f.code} onChange={set('code')} /></label>
      <label>{t('rules.name')}<input required maxLength={200} value={f.name} onChange={set('name')} /></label>
      <label>{t('rewards.type')}
        <select aria-label={t('rewards.type')} value={f.type} onChange={set('type')}>
          {TYPES.map((type) => <option key={type} value={type}>{t(`rewardType.${type}` as MessageKey)}</option>)}
        </select>
      </label>
      {detailLabel[f.type] && <label>{t(detailLabel[f.type]!)}<input required value={f.detail} onChange={set('detail')} inputMode={f.type === 'fixed_discount' ? 'decimal' : undefined} /></label>}
      <label>{t('rewardsPage.costPoints')}<input type="number" min={1} step={1} required value={f.cost} onChange={set('cost')} /></label>
      <label>{t('rewardsPage.stockOptional')}<input type="number" min={0} step={1} value={f.stock} onChange={set('stock')} /></label>
      <label>{t('rewardsPage.perMember')}<input type="number" min={1} step={1} value={f.times} onChange={set('times')} /></label>
      <label>{t('rewardsPage.period')}
        <select aria-label={t('rewardsPage.period')} value={f.period} onChange={set('period')}>
          {['day', 'week', 'month', 'year', 'lifetime'].map((p) => <option key={p} value={p}>{t(`rewardsPage.per.${p}` as MessageKey)}</option>)}
        </select>
      </label>
      <label className="wide">{t('rewardsPage.imageUrl')}<input type="url" value={f.imageUrl} onChange={set('imageUrl')} placeholder="https://…" /></label>
      <button type="submit" disabled={create.isPending}>{t('rewardsPage.create')}</button>
      {problem && <p role="alert" className="error wide">{problem.errors?.map((e) => `${e.field}: ${e.message}`).join('; ') || problem.detail}</p>}
      {create.isSuccess && <p role="status" className="ok wide">{t('rewardsPage.created', { name: create.data.name })}</p>}
    </form>
  );
}

/** Codes from a partner's file: one a line or separated by commas or semicolons; quotes and a "code" header dropped. */
export function partnerCodesOf(text: string): string[] {
  const cells = text.split(/[\r\n,;\t]+/).map((c) => c.trim().replace(/^"(.*)"$/, '$1').trim()).filter((c) => c !== '');
  const codes = cells[0]?.toLowerCase() === 'code' ? cells.slice(1) : cells;
  return [...new Set(codes)];
}

function PartnerCodes({ rewards }: { rewards: RewardRow[] }) {
  const { t, num } = useI18n();
  const queries = useQueryClient();
  const [rewardId, setRewardId] = useState(rewards[0]!.rewardId);
  const [text, setText] = useState('');
  const codes = partnerCodesOf(text);
  const upload = useMutation({
    mutationFn: () => ok(api.POST('/v1/rewards/{rewardId}/partner-codes', { params: { path: { rewardId } }, body: { codes } })),
    onSuccess: () => {
      setText('');
      void queries.invalidateQueries({ queryKey: ['rewards'] });
    },
  });
  const readFile = async (file: File | undefined) => { if (file) setText(await file.text()); };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    upload.mutate();
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="codes-title">
      <h2 id="codes-title">{t('rewardsPage.importCodes')}</h2>
      <label>{t('rewardsPage.voucher')}
        <select aria-label={t('rewardsPage.voucher')} value={rewardId} onChange={(e) => setRewardId(e.target.value)}>
          {rewards.map((r) => <option key={r.rewardId} value={r.rewardId}>{r.name}</option>)}
        </select>
      </label>
      <label>{t('rewardsPage.csvFile')}<input type="file" accept=".csv,.txt,text/csv,text/plain" onChange={(e) => void readFile(e.target.files?.[0])} /></label>
      <label className="wide">{t('rewardsPage.codes')}<textarea rows={4} value={text} onChange={(e) => setText(e.target.value)} /></label>
      <p className="muted wide">{t('rewardsPage.codesFound', { n: num(codes.length) })}</p>
      <button type="submit" disabled={upload.isPending || codes.length === 0}>{t('rewardsPage.import')}</button>
      {upload.error instanceof ApiError && <p role="alert" className="error wide">{upload.error.problem.errors?.map((e) => `${e.field}: ${e.message}`).join('; ') || upload.error.message}</p>}
      {upload.isSuccess && <p role="status" className="ok wide" data-testid="codes-imported">{t('rewardsPage.imported', { imported: num(upload.data.imported), free: num(upload.data.free) })}</p>}
    </form>
  );
}

const STATUSES = ['reserved', 'issued', 'consumed', 'cancelled', 'expired'] as const;

export function Redemptions() {
  const { t, num, date } = useI18n();
  const { program } = useSession();
  const programId = program?.programId ?? '';
  const [params, setParams] = useSearchParams();
  const status = params.get('status') ?? '';
  const rewardId = params.get('reward') ?? '';
  const catalog = useCatalog();
  const names = new Map(catalog.data?.data.map((r) => [r.rewardId, r.name]));
  const list = useInfiniteQuery({
    queryKey: ['redemptions', programId, status, rewardId], enabled: !!program,
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => ok(api.GET('/v1/programs/{programId}/reward-instances', {
      params: {
        path: { programId },
        query: { limit: 50, ...(status ? { status: [status as (typeof STATUSES)[number]] } : {}), ...(rewardId ? { rewardId } : {}), ...(pageParam ? { cursor: pageParam } : {}) },
      },
    })),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const filter = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value); else next.delete(key);
    setParams(next);
  };
  const rows = list.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <section>
      <h1>{t('nav.rewards')}</h1>
      <RewardTabs />
      <div className="filters">
        <label>{t('members.status')}
          <select aria-label={t('members.status')} value={status} onChange={(e) => filter('status', e.target.value)}>
            <option value="">{t('rewardsPage.all')}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{t(`instance.${s}` as MessageKey)}</option>)}
          </select>
        </label>
        <label>{t('rewardsPage.reward')}
          <select aria-label={t('rewardsPage.reward')} value={rewardId} onChange={(e) => filter('reward', e.target.value)}>
            <option value="">{t('rewardsPage.all')}</option>
            {catalog.data?.data.map((r) => <option key={r.rewardId} value={r.rewardId}>{r.name}</option>)}
          </select>
        </label>
      </div>
      {list.isSuccess && rows.length === 0 && <p role="status">{t('rewardsPage.noRedemptions')}</p>}
      {rows.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label={t('rewardsPage.redemptions')}>
          <table>
            <thead>
              <tr>
                <th>{t('journal.when')}</th><th>{t('rewardsPage.reward')}</th><th>{t('rewardsPage.member')}</th><th>{t('rewardsPage.code')}</th>
                <th>{t('rewardsPage.partnerCode')}</th><th>{t('members.status')}</th><th className="num">{t('rewards.cost')}</th><th>{t('rewardsPage.channel')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((i) => (
                <tr key={i.instanceId}>
                  <td>{date(i.issuedAt)}</td><td>{names.get(i.rewardId) ?? i.rewardId.slice(0, 8)}</td>
                  <td><Link to={`/members/${i.memberId}`}>{i.memberId.slice(0, 8)}…</Link></td>
                  <td><code>{i.code}</code></td><td>{i.partnerCode ? <code>{i.partnerCode}</code> : '—'}</td>
                  <td><span className={`pill ${i.status}`}>{t(`instance.${i.status}` as MessageKey)}</span></td>
                  <td className="num">{num(i.cost)}</td><td>{i.channel ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.hasNextPage && <button type="button" className="secondary more" onClick={() => void list.fetchNextPage()}>{t('rewardsPage.more')}</button>}
    </section>
  );
}
