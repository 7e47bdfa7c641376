import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ok } from '../api/client';
import { useI18n } from '../i18n';

export function AuditLog() {
  const { t, date } = useI18n();
  const [path, setPath] = useState('');
  const [actor, setActor] = useState('');
  const log = useQuery({
    queryKey: ['audit', path, actor],
    queryFn: () => ok(api.GET('/v1/audit-log', { params: { query: { limit: 50, ...(path ? { path } : {}), ...(actor ? { actor } : {}) } } })),
  });
  return (
    <section>
      <h1>{t('nav.audit')}</h1>
      <div className="filters">
        <label>{t('audit.actor')}<input value={actor} onChange={(e) => setActor(e.target.value)} placeholder="owner@demo.laurel" /></label>
        <label>{t('audit.path')}<input value={path} onChange={(e) => setPath(e.target.value)} placeholder="adjustments" /></label>
      </div>
      <div className="table-wrap">
        <table>
          <thead><tr><th>{t('journal.when')}</th><th>{t('audit.actor')}</th><th>{t('audit.action')}</th><th>{t('audit.change')}</th></tr></thead>
          <tbody>
            {log.data?.data.map((a) => (
              <tr key={a.auditId}>
                <td>{date(a.createdAt)}</td>
                <td>{a.actorName}</td>
                <td><code>{a.method} {a.path}</code></td>
                <td>
                  <details>
                    <summary>{summary(a.request)}</summary>
                    {a.before != null && <><h3>{t('audit.before')}</h3><pre>{JSON.stringify(a.before, null, 2)}</pre></>}
                    <h3>{t('audit.after')}</h3><pre>{JSON.stringify(a.after, null, 2)}</pre>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

const summary = (request: unknown) => {
  const text = request == null ? '—' : JSON.stringify(request);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
};
