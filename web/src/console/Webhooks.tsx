// Webhooks (owners): the endpoints, each one's delivery log filterable by status, a test message,
// and the replay of a delivery (the same message queued again for the next run of the webhooks job).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError, ok } from '../api/client';
import { useI18n, type MessageKey } from '../i18n';
import { TableWrap } from './TableWrap';

export function Webhooks() {
  const { t } = useI18n();
  const queries = useQueryClient();
  const endpoints = useQuery({ queryKey: ['webhooks'], queryFn: () => ok(api.GET('/v1/webhook-endpoints')) });
  const [open, setOpen] = useState<string | null>(null);
  const toggle = useMutation({
    mutationFn: ({ endpointId, enabled }: { endpointId: string; enabled: boolean }) =>
      ok(api.PATCH('/v1/webhook-endpoints/{endpointId}', { params: { path: { endpointId } }, body: { enabled } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['webhooks'] }),
  });
  const test = useMutation({
    mutationFn: (endpointId: string) => ok(api.POST('/v1/webhook-endpoints/{endpointId}/test', { params: { path: { endpointId } } })),
    onSuccess: (_, endpointId) => {
      setOpen(endpointId);
      void queries.invalidateQueries({ queryKey: ['deliveries'] });
    },
  });
  const opened = endpoints.data?.data.find((e) => e.endpointId === open);
  return (
    <section>
      <h1>{t('nav.webhooks')}</h1>
      {endpoints.data?.data.length === 0 && <p>{t('webhooks.none')}</p>}
      {!!endpoints.data?.data.length && (
        <TableWrap label={t('nav.webhooks')}>
          <table>
            <thead><tr><th>URL</th><th>{t('webhooks.types')}</th><th>{t('rules.enabled')}</th><th><span className="visually-hidden">{t('ruleEdit.actions')}</span></th></tr></thead>
            <tbody>
              {endpoints.data.data.map((e) => (
                <tr key={e.endpointId}>
                  <td><code>{e.url}</code>{e.description && <div className="muted">{e.description}</div>}</td>
                  <td>{e.eventTypes.join(', ') || t('webhooks.all')}</td>
                  <td>
                    <label className="switch">
                      <input type="checkbox" checked={e.enabled} onChange={() => toggle.mutate({ endpointId: e.endpointId, enabled: !e.enabled })} />
                      <span className="visually-hidden">{t('rules.enabled')}: {e.url}</span>
                    </label>
                  </td>
                  <td className="actions">
                    <button type="button" className="secondary" aria-label={`${t('webhooks.deliveries')}: ${e.url}`} onClick={() => setOpen(e.endpointId)}>{t('webhooks.deliveries')}</button>
                    <button type="button" className="secondary" disabled={!e.enabled} aria-label={`${t('webhooks.test')}: ${e.url}`} onClick={() => test.mutate(e.endpointId)}>{t('webhooks.test')}</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {opened && <Deliveries endpointId={opened.endpointId} url={opened.url} />}
      <NewEndpoint />
    </section>
  );
}

const STATUSES = ['pending', 'delivered', 'failed'] as const;

function Deliveries({ endpointId, url }: { endpointId: string; url: string }) {
  const { t, date } = useI18n();
  const queries = useQueryClient();
  const [status, setStatus] = useState('');
  const deliveries = useQuery({
    queryKey: ['deliveries', endpointId, status],
    queryFn: () => ok(api.GET('/v1/webhook-endpoints/{endpointId}/deliveries', { params: { path: { endpointId }, query: { limit: 50, ...(status ? { status: status as 'pending' } : {}) } } })),
  });
  const replay = useMutation({
    mutationFn: (deliveryId: string) => ok(api.POST('/v1/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/replay', { params: { path: { endpointId, deliveryId } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['deliveries', endpointId] }),
  });
  return (
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">{t('webhooks.deliveriesOf', { url })}</h2>
      <div className="filters">
        <label>{t('members.status')}
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t('tiers.any')}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{t(`webhooks.status.${s}` as MessageKey)}</option>)}
          </select>
        </label>
        <button type="button" className="secondary" onClick={() => void deliveries.refetch()}>{t('webhooks.refresh')}</button>
      </div>
      <TableWrap label={t('webhooks.deliveriesOf', { url })}>
        <table>
          <thead><tr><th>{t('journal.when')}</th><th>{t('rewards.type')}</th><th>{t('members.status')}</th><th className="num">{t('webhooks.attempts')}</th><th>{t('webhooks.last')}</th><th><span className="visually-hidden">{t('ruleEdit.actions')}</span></th></tr></thead>
          <tbody>
            {deliveries.data?.data.map((x) => (
              <tr key={x.deliveryId} data-testid="delivery">
                <td>{date(x.createdAt)}</td><td>{x.type}</td>
                <td className={`status-${x.status}`}>{t(`webhooks.status.${x.status}` as MessageKey)}</td>
                <td className="num">{x.attempts}</td><td>{x.lastStatusCode ?? x.lastError ?? ''}</td>
                <td>{x.status !== 'pending' && (
                  <button type="button" className="secondary" disabled={replay.isPending} aria-label={`${t('webhooks.replay')}: ${x.type} ${date(x.createdAt)}`} onClick={() => replay.mutate(x.deliveryId)}>{t('webhooks.replay')}</button>
                )}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      {deliveries.data?.data.length === 0 && <p className="muted">{t('webhooks.noDeliveries')}</p>}
      {replay.data && <p role="status" className="ok">{t('webhooks.replayed')}</p>}
      {replay.error instanceof ApiError && <p role="alert" className="error">{replay.error.message}</p>}
    </section>
  );
}

function NewEndpoint() {
  const { t } = useI18n();
  const queries = useQueryClient();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [types, setTypes] = useState('');
  const create = useMutation({
    mutationFn: () => ok(api.POST('/v1/webhook-endpoints', {
      body: { url, ...(description ? { description } : {}), eventTypes: types.split(',').map((x) => x.trim()).filter(Boolean) },
    })),
    onSuccess: () => {
      setUrl('');
      setDescription('');
      setTypes('');
      void queries.invalidateQueries({ queryKey: ['webhooks'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="new-endpoint">
      <h2 id="new-endpoint">{t('webhooks.new')}</h2>
      <label>URL<input type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/laurel" /></label>
      <label>{t('webhooks.description')}<input value={description} onChange={(e) => setDescription(e.target.value)} /></label>
      <label>{t('webhooks.types')}<input value={types} onChange={(e) => setTypes(e.target.value)} placeholder="points.expiring, tier.changed" /></label>
      <button type="submit" disabled={create.isPending}>{t('webhooks.create')}</button>
      {create.data && <p role="status" className="ok wide">{t('keys.shownOnce')} <code data-testid="webhook-secret">{create.data.secret}</code></p>}
      {create.error instanceof ApiError && (
        <p role="alert" className="error wide">{create.error.message}{create.error.problem.errors?.map((e) => ` (${e.field}: ${e.message})`).join('')}</p>
      )}
    </form>
  );
}
