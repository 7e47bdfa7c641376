import { useQuery } from '@tanstack/react-query';
import { api, ok } from '../api/client';
import { useI18n } from '../i18n';
import { useSession } from './session';

export function Rewards() {
  const { t, num } = useI18n();
  const { program } = useSession();
  const programId = program?.programId ?? '';
  const rewards = useQuery({
    queryKey: ['rewards', programId], enabled: !!program,
    queryFn: () => ok(api.GET('/v1/programs/{programId}/rewards', { params: { path: { programId } } })),
  });
  return (
    <section>
      <h1>{t('nav.rewards')}</h1>
      <div className="table-wrap">
        <table>
          <thead><tr><th>{t('rules.name')}</th><th>{t('rewards.type')}</th><th className="num">{t('rewards.cost')}</th><th className="num">{t('rewards.issued')}</th><th className="num">{t('rewards.stock')}</th><th>{t('rules.enabled')}</th></tr></thead>
          <tbody>
            {rewards.data?.data.map((r) => (
              <tr key={r.rewardId}>
                <td>{r.name}</td><td>{String(r.value.type)}</td><td className="num">{num(r.cost)}</td><td className="num">{num(r.issued)}</td>
                <td className="num">{r.stock === null ? '∞' : num(r.stock)}</td><td>{r.enabled ? '✓' : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
