// Jobs (owners): each scheduled job with its cron, next run, failures in a row and the status of
// its recent runs. Jobs run for every tenant of the deployment: the API shows a tenant only when
// they run and how they ended, never what a run did or its error (GET /v1/job-schedules).
import { useQuery } from '@tanstack/react-query';
import { api, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { TableWrap } from './TableWrap';

export function Jobs() {
  const { t, date } = useI18n();
  const jobs = useQuery({ queryKey: ['job-schedules'], queryFn: () => ok(api.GET('/v1/job-schedules', { params: { query: { runs: 5 } } })), refetchInterval: 30_000 });
  return (
    <section>
      <h1>{t('nav.jobs')}</h1>
      <p className="muted">{t('jobs.about')}</p>
      <TableWrap label={t('nav.jobs')}>
        <table>
          <thead><tr><th>{t('jobs.job')}</th><th>{t('jobs.schedule')}</th><th>{t('jobs.next')}</th><th className="num">{t('jobs.failures')}</th><th>{t('jobs.recent')}</th></tr></thead>
          <tbody>
            {jobs.data?.data.map((j) => (
              <tr key={j.job} data-testid="job">
                <td><code>{j.job}</code>{j.running && <span className="pill"> {t('jobs.running')}</span>}{!j.enabled && <span className="pill suspended"> {t('jobs.disabled')}</span>}</td>
                <td><code>{j.cron}</code> <span className="muted">({j.timeZone})</span></td>
                <td>{date(j.nextRunAt)}</td>
                <td className={j.failures > 0 ? 'num status-failed' : 'num'}>{j.failures}</td>
                <td>
                  {j.recentRuns.length === 0 ? <span className="muted">{t('jobs.noRuns')}</span> : (
                    <ul className="runs">
                      {j.recentRuns.map((r) => (
                        <li key={r.runId} className={`status-${r.status}`} title={`${t(`jobs.trigger.${r.trigger}` as MessageKey)} · ${date(r.startedAt)}`}>
                          {t(`jobs.status.${r.status}` as MessageKey)} · {date(r.startedAt)}
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </section>
  );
}
