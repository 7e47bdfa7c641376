// Campaigns: groups of rules sharing a validity window, a budget and per-member caps. The list shows
// how much of each budget is used (rules of the campaign pay into it); owners and marketers create
// and edit them.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, ApiError, ok } from '../api/client';
import { useI18n } from '../i18n';
import { canWrite, useSession } from './session';
import { TableWrap } from './TableWrap';

type Campaign = Awaited<ReturnType<typeof listCampaigns>>['data'][number];
const listCampaigns = (programId: string) => ok(api.GET('/v1/programs/{programId}/campaigns', { params: { path: { programId } } }));

export function Campaigns() {
  const { t, num, date } = useI18n();
  const { program, session } = useSession();
  const editable = canWrite(session.user.role, 'program');
  const programId = program?.programId ?? '';
  const campaigns = useQuery({ queryKey: ['campaigns', programId], enabled: !!program, queryFn: () => listCampaigns(programId) });
  const rules = useQuery({ queryKey: ['rules', programId], enabled: !!program, queryFn: () => ok(api.GET('/v1/programs/{programId}/rules', { params: { path: { programId } } })) });
  const [editing, setEditing] = useState<Campaign | null>(null);
  const rulesOf = (id: string) => rules.data?.data.filter((r) => r.campaignId === id).map((r) => r.name) ?? [];
  return (
    <section>
      <h1>{t('nav.campaigns')}</h1>
      {campaigns.data?.data.length === 0 && <p>{t('campaigns.none')}</p>}
      {!!campaigns.data?.data.length && (
        <TableWrap label={t('nav.campaigns')}>
          <table>
            <thead><tr><th>{t('rules.name')}</th><th>{t('campaigns.window')}</th><th>{t('campaigns.budgetUse')}</th><th>{t('campaigns.caps')}</th><th>{t('nav.rules')}</th><th><span className="visually-hidden">{t('ruleEdit.actions')}</span></th></tr></thead>
            <tbody>
              {campaigns.data.data.map((c) => (
                <tr key={c.campaignId} data-testid="campaign-row">
                  <td>{c.name}</td>
                  <td>{c.validFrom ? date(c.validFrom) : '…'} – {c.validTo ? date(c.validTo) : '…'}</td>
                  <td>
                    {c.budget === null ? <span data-testid="budget-used">{t('campaigns.noBudget')}</span> : (
                      <div className="budget">
                        <meter min={0} max={c.budget} value={Math.min(c.budgetUsed, c.budget)} aria-label={t('campaigns.budgetOf', { name: c.name })} />
                        <span data-testid="budget-used">{t('campaigns.used', { used: num(c.budgetUsed), budget: num(c.budget) })}</span>
                      </div>
                    )}
                  </td>
                  <td>{c.perMember.map((cap) => t('campaigns.cap', { points: num(Number(cap.points ?? cap.times ?? 0)), period: String(cap.period) })).join(', ') || '—'}</td>
                  <td>{rulesOf(c.campaignId).join(', ') || '—'}</td>
                  <td>{editable && <button type="button" className="secondary" aria-label={`${t('ruleEdit.edit')}: ${c.name}`} onClick={() => setEditing(c)}>{t('ruleEdit.edit')}</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {editable && program && (
        <CampaignForm key={editing?.campaignId ?? 'new'} programId={programId} campaign={editing} onDone={() => setEditing(null)} />
      )}
    </section>
  );
}

const localInput = (iso: string | null) => (iso ? iso.slice(0, 16) : '');
const isoOf = (local: string) => (local ? new Date(`${local}:00.000Z`).toISOString() : null);

function CampaignForm({ programId, campaign, onDone }: { programId: string; campaign: Campaign | null; onDone(): void }) {
  const { t } = useI18n();
  const queries = useQueryClient();
  const monthly = campaign?.perMember.find((c) => c.period === 'month' && c.points != null);
  const [name, setName] = useState(campaign?.name ?? '');
  const [budget, setBudget] = useState(campaign?.budget == null ? '' : String(campaign.budget));
  const [cap, setCap] = useState(monthly ? String(monthly.points) : '');
  const [from, setFrom] = useState(localInput(campaign?.validFrom ?? null));
  const [to, setTo] = useState(localInput(campaign?.validTo ?? null));
  const body = () => {
    const others = (campaign?.perMember ?? []).filter((c) => c !== monthly) as { period: 'day' }[];
    return {
      name, budget: budget === '' ? null : Number(budget), validFrom: isoOf(from), validTo: isoOf(to),
      perMember: [...others, ...(cap === '' ? [] : [{ period: 'month' as const, points: Number(cap) }])],
    };
  };
  const save = useMutation({
    mutationFn: () => (campaign
      ? ok(api.PUT('/v1/campaigns/{campaignId}', { params: { path: { campaignId: campaign.campaignId } }, body: body() }))
      : ok(api.POST('/v1/programs/{programId}/campaigns', { params: { path: { programId } }, body: body() }))),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ['campaigns'] });
      onDone();
      if (!campaign) {
        setName('');
        setBudget('');
        setCap('');
      }
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="campaign-form">
      <h2 id="campaign-form">{campaign ? t('campaigns.editTitle', { name: campaign.name }) : t('campaigns.new')}</h2>
      <label>{t('rules.name')}<input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} /></label>
      <label>{t('campaigns.budget')}<input type="number" min={0} step={1} value={budget} onChange={(e) => setBudget(e.target.value)} /></label>
      <label>{t('campaigns.monthlyCap')}<input type="number" min={0} step={1} value={cap} onChange={(e) => setCap(e.target.value)} /></label>
      <label>{t('campaigns.from')}<input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} /></label>
      <label>{t('campaigns.to')}<input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} /></label>
      <div className="inline">
        <button type="submit" disabled={save.isPending}>{campaign ? t('ruleEdit.save') : t('campaigns.create')}</button>
        {campaign && <button type="button" className="secondary" onClick={onDone}>{t('ruleEdit.cancel')}</button>}
      </div>
      {save.error instanceof ApiError && (
        <p role="alert" className="error wide">{save.error.message}{save.error.problem.errors?.map((e) => ` (${e.field}: ${e.message})`).join('')}</p>
      )}
      {save.isSuccess && <p role="status" className="ok wide">{t('campaigns.saved')}</p>}
    </form>
  );
}
