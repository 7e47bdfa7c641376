// The recognition a member received from colleagues, in the portal: the approved gifts of their
// program's feed that were for them. Shown only when there are some (a loyalty program's feed is empty).
import { useQuery } from '@tanstack/react-query';
import { api, ok } from '../api/client';
import { useI18n } from '../i18n';

export function RecognitionCard({ memberId }: { memberId: string }) {
  const { t, num, date } = useI18n();
  const feed = useQuery({
    queryKey: ['recognition-feed', memberId],
    queryFn: () => ok(api.GET('/v1/members/{memberId}/recognition-feed', { params: { path: { memberId }, query: { limit: 50 } } })),
  });
  const received = (feed.data?.data ?? []).filter((g) => g.receiverId === memberId);
  if (received.length === 0) return null;
  return (
    <section className="card recognition" aria-labelledby="recognition-title">
      <h2 id="recognition-title">{t('recognition.portal.title')}</h2>
      <ul className="history" data-testid="portal-recognition">
        {received.map((g) => (
          <li key={g.giftId}>
            <span>{g.message} · {g.value}</span>
            <span className="num">+{num(g.amount)}</span>
            <time dateTime={g.createdAt}>{date(g.createdAt)}</time>
          </li>
        ))}
      </ul>
    </section>
  );
}
