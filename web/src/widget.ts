// <laurel-widget token="…member token…"></laurel-widget>: the member portal's views on any shop
// page, from one script tag (<script src="https://laurel.example/widget.js" async>): the balance
// (available, pending, expiring within 30 days), the tier and the progress to the next, the
// rewards to redeem (redeeming shows the code, the partner's code and a QR for the till), the
// rewards redeemed and not yet used, and the history. It reads the API of the server it was
// loaded from (or the `api` attribute) with the member token. `views="balance tier"` shows only
// those of balance, tier, rewards, owned, history. Styled by CSS custom properties:
// --laurel-accent, --laurel-background, --laurel-text, --laurel-radius, --laurel-font; each
// section is a `part` (box, balance, tier, rewards, owned, history).
import QRCode from 'qrcode';
import { makeClient, randomKey, setBearer } from './api/client';
import { memberOf } from './portal/token';

const origin = (() => {
  const script = document.currentScript as HTMLScriptElement | null;
  return script?.src ? new URL(script.src).origin : window.location.origin;
})();

const STYLE = `
:host { display: inline-block; font-family: var(--laurel-font, system-ui, sans-serif); }
.box { background: var(--laurel-background, #fff); color: var(--laurel-text, #1d2330); border-radius: var(--laurel-radius, 12px);
  border: 2px solid var(--laurel-accent, #2f7d4f); padding: 12px 16px; min-width: 200px; max-width: 420px; }
.points { font-size: 1.8em; font-weight: 700; color: var(--laurel-accent, #2f7d4f); }
.muted { opacity: .75; font-size: .9em; }
h2 { font-size: 1em; margin: 12px 0 4px; }
ul { list-style: none; margin: 0; padding: 0; }
li { display: flex; justify-content: space-between; align-items: center; gap: 8px; padding: 4px 0; border-top: 1px solid rgba(0, 0, 0, .08); }
progress { width: 100%; accent-color: var(--laurel-accent, #2f7d4f); }
button { font: inherit; background: var(--laurel-accent, #2f7d4f); color: #fff; border: 0; border-radius: calc(var(--laurel-radius, 12px) / 2);
  padding: 4px 10px; cursor: pointer; }
.code { font-family: ui-monospace, Menlo, monospace; font-weight: 700; font-size: 1.15em; }
.voucher { text-align: center; border: 2px dashed var(--laurel-accent, #2f7d4f); border-radius: var(--laurel-radius, 12px); padding: 8px; margin: 8px 0; }
.voucher svg { width: 140px; height: 140px; }`;

const WORDS = {
  en: {
    points: 'points', pending: 'pending', tier: 'Tier', error: 'Points could not be loaded', expiring: 'expire within 30 days', missing: 'more to reach',
    top: 'Top tier', rewards: 'Rewards', redeem: 'Redeem', owned: 'Your rewards to use', show: 'Show code', history: 'History', code: 'Your code, show it at the till:',
    partner: 'Partner code', qr: 'QR code of your reward',
    kinds: { earn: 'Earned', mature: 'Confirmed', redeem: 'Redeemed', hold: 'Held', release: 'Released', expire: 'Expired', reverse: 'Reversed', adjust: 'Adjusted', transfer: 'Transferred' } as Record<string, string>,
  },
  tr: {
    points: 'puan', pending: 'beklemede', tier: 'Seviye', error: 'Puanlar yüklenemedi', expiring: '30 gün içinde sona eriyor', missing: 'puan daha:',
    top: 'En üst seviye', rewards: 'Ödüller', redeem: 'Kullan', owned: 'Kullanabileceğiniz ödüller', show: 'Kodu göster', history: 'Geçmiş', code: 'Kodunuz, kasada gösterin:',
    partner: 'İş ortağı kodu', qr: 'Ödülünüzün QR kodu',
    kinds: { earn: 'Kazanıldı', mature: 'Onaylandı', redeem: 'Kullanıldı', hold: 'Bloke edildi', release: 'Serbest bırakıldı', expire: 'Süresi doldu', reverse: 'İade edildi', adjust: 'Düzeltildi', transfer: 'Aktarıldı' } as Record<string, string>,
  },
};
const VIEWS = ['balance', 'tier', 'rewards', 'owned', 'history'] as const;
const text = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

class LaurelWidget extends HTMLElement {
  static observedAttributes = ['token', 'api', 'lang', 'views'];
  private root = this.attachShadow({ mode: 'open' });
  /** the voucher to show: one just redeemed, or one the member opened */
  private voucher: { instanceId: string; code: string; qr: string; partnerCode: string | null } | null = null;

  /** renders started; only the newest may write, so an older fetch finishing late never replaces a newer view */
  private renders = 0;
  private scheduled = false;

  connectedCallback() {
    this.schedule();
  }

  attributeChangedCallback() {
    if (this.isConnected) this.schedule();
  }

  /** An upgrade calls attributeChangedCallback for each attribute and then connectedCallback:
   * coalesce them into one render rather than fetch and draw the same view several times. */
  private schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.render();
    });
  }

  private async render() {
    const generation = ++this.renders;
    const token = this.getAttribute('token') ?? '';
    const memberId = memberOf(token);
    const tr = (this.getAttribute('lang') ?? document.documentElement.lang).startsWith('tr');
    const words = tr ? WORDS.tr : WORDS.en;
    const views = new Set((this.getAttribute('views') ?? VIEWS.join(' ')).split(/\s+/));
    const show = (html: string) => { if (generation === this.renders) this.root.innerHTML = `<style>${STYLE}</style><div class="box" part="box">${html}</div>`; };
    if (!memberId) return show(`<span class="muted">${words.error}</span>`);
    setBearer(token);
    const client = makeClient(this.getAttribute('api') ?? origin);
    const path = { params: { path: { memberId } } };
    const [balances, tier, lots, rewards, instances, journal] = await Promise.all([
      client.GET('/v1/members/{memberId}/balances', path),
      views.has('tier') ? client.GET('/v1/members/{memberId}/tier', path) : null,
      views.has('balance') ? client.GET('/v1/members/{memberId}/lots', path) : null,
      views.has('rewards') || views.has('owned') ? client.GET('/v1/members/{memberId}/rewards', path) : null,
      views.has('owned') ? client.GET('/v1/members/{memberId}/reward-instances', { params: { path: { memberId }, query: { limit: 20 } } }) : null,
      views.has('history') ? client.GET('/v1/members/{memberId}/journal', { params: { path: { memberId }, query: { limit: 5, wallet: 'points' } } }) : null,
    ]);
    const points = balances.data?.data.find((b) => b.wallet === 'points');
    if (!points) return show(`<span class="muted">${words.error}</span>`);
    const fmt = new Intl.NumberFormat(tr ? 'tr-TR' : 'en-GB');
    const day = new Intl.DateTimeFormat(tr ? 'tr-TR' : 'en-GB', { dateStyle: 'medium' });
    const soon = Date.now() + 30 * 86_400_000;
    const expiring = (lots?.data?.data ?? []).filter((l) => l.wallet === 'points' && !l.pending && l.remaining > 0 && l.expiresAt && Date.parse(l.expiresAt) < soon)
      .reduce((sum, l) => sum + l.remaining, 0);
    const names = new Map(rewards?.data?.data.map((x) => [x.reward.rewardId, x.reward.name]));
    let html = `<div part="balance"><div class="points">${fmt.format(points.available)} ${words.points}</div>`
      + (points.pending ? `<div class="muted">+${fmt.format(points.pending)} ${words.pending}</div>` : '')
      + (expiring ? `<div class="muted" data-expiring>${fmt.format(expiring)} ${words.points} ${words.expiring}</div>` : '') + '</div>';
    if (tier?.data) {
      const d = tier.data;
      html += `<div part="tier">${words.tier}: <strong>${text(d.tier.name)}</strong>`
        + (d.nextTier
          ? `<progress max="${d.metric + d.missing}" value="${Math.max(0, d.metric)}" aria-label="${text(`${words.tier}: ${d.nextTier}`)}"></progress><div class="muted">${fmt.format(d.missing)} ${words.missing} ${text(d.nextTier)}</div>`
          : `<div class="muted">${words.top}</div>`) + '</div>';
    }
    if (this.voucher) {
      const svg = await QRCode.toString(this.voucher.qr, { type: 'svg', margin: 1, width: 140 });
      html += `<div class="voucher" role="status" part="voucher"><div>${words.code}</div><div class="code">${text(this.voucher.code)}</div>`
        + (this.voucher.partnerCode ? `<div>${words.partner}: <span class="code">${text(this.voucher.partnerCode)}</span></div>` : '')
        + `<div role="img" aria-label="${words.qr}">${svg}</div></div>`;
    }
    if (views.has('rewards') && rewards?.data) {
      const open = rewards.data.data.filter((x) => x.redeemable);
      if (open.length) {
        html += `<section part="rewards"><h2>${words.rewards}</h2><ul>${open.map((x) => `<li><span>${text(x.reward.name)} · ${fmt.format(x.reward.cost)} ${words.points}</span>`
          + `<button type="button" data-redeem="${text(x.reward.rewardId)}">${words.redeem}</button></li>`).join('')}</ul></section>`;
      }
    }
    const usable = (instances?.data?.data ?? []).filter((i) => i.status === 'issued' || i.status === 'reserved');
    if (usable.length) {
      html += `<section part="owned"><h2>${words.owned}</h2><ul>${usable.map((i) => `<li><span>${text(names.get(i.rewardId) ?? '')}${i.expiresAt ? ` <span class="muted">· ${day.format(new Date(i.expiresAt))}</span>` : ''}</span>`
        + `<button type="button" data-show="${text(i.instanceId)}">${words.show}</button></li>`).join('')}</ul></section>`;
    }
    if (journal?.data?.data.length) {
      html += `<section part="history"><h2>${words.history}</h2><ul>${journal.data.data.map((e) => {
        const amount = e.postings.filter((p) => p.memberId === memberId && p.account === 'available').reduce((s, p) => s + p.amount, 0) || e.amount;
        return `<li><span>${text(words.kinds[e.kind] ?? e.kind)} <span class="muted">${day.format(new Date(e.createdAt))}</span></span><span>${amount > 0 ? '+' : ''}${fmt.format(amount)}</span></li>`;
      }).join('')}</ul></section>`;
    }
    if (generation !== this.renders) return;
    show(html);
    for (const button of this.root.querySelectorAll<HTMLButtonElement>('button[data-redeem]')) {
      button.addEventListener('click', () => void this.redeem(client, memberId, button.dataset.redeem!));
    }
    for (const button of this.root.querySelectorAll<HTMLButtonElement>('button[data-show]')) {
      const i = usable.find((x) => x.instanceId === button.dataset.show)!;
      button.addEventListener('click', () => {
        this.voucher = { instanceId: i.instanceId, code: i.code, qr: i.qr, partnerCode: i.partnerCode };
        void this.render();
      });
    }
  }

  private async redeem(client: ReturnType<typeof makeClient>, memberId: string, rewardId: string) {
    const r = await client.POST('/v1/members/{memberId}/rewards/{rewardId}/redeem', {
      params: { path: { memberId, rewardId }, header: { 'idempotency-key': randomKey() } }, body: {},
    });
    if (r.data) this.voucher = { instanceId: r.data.instance.instanceId, code: r.data.instance.code, qr: r.data.instance.qr, partnerCode: r.data.instance.partnerCode };
    await this.render();
  }
}

if (!customElements.get('laurel-widget')) customElements.define('laurel-widget', LaurelWidget);
