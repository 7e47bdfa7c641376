// <laurel-widget token="…member token…"></laurel-widget>: a member's balance and tier on any shop
// page, from one script tag (<script src="https://laurel.example/widget.js" async>). It reads the
// API of the server it was loaded from (or the `api` attribute) with the member token, and is
// styled by CSS custom properties: --laurel-accent, --laurel-background, --laurel-text,
// --laurel-radius, --laurel-font.
import { makeClient, setBearer } from './api/client';
import { memberOf } from './portal/token';

const origin = (() => {
  const script = document.currentScript as HTMLScriptElement | null;
  return script?.src ? new URL(script.src).origin : window.location.origin;
})();

const STYLE = `
:host { display: inline-block; font-family: var(--laurel-font, system-ui, sans-serif); }
.box { background: var(--laurel-background, #fff); color: var(--laurel-text, #1d2330); border-radius: var(--laurel-radius, 12px);
  border: 2px solid var(--laurel-accent, #2f7d4f); padding: 12px 16px; min-width: 200px; }
.points { font-size: 1.8em; font-weight: 700; color: var(--laurel-accent, #2f7d4f); }
.muted { opacity: .75; font-size: .9em; }`;

class LaurelWidget extends HTMLElement {
  static observedAttributes = ['token', 'api', 'lang'];
  private root = this.attachShadow({ mode: 'open' });

  connectedCallback() {
    void this.render();
  }

  attributeChangedCallback() {
    if (this.isConnected) void this.render();
  }

  private async render() {
    const token = this.getAttribute('token') ?? '';
    const memberId = memberOf(token);
    const tr = (this.getAttribute('lang') ?? document.documentElement.lang).startsWith('tr');
    const words = tr ? { points: 'puan', pending: 'beklemede', tier: 'Seviye', error: 'Puanlar yüklenemedi' } : { points: 'points', pending: 'pending', tier: 'Tier', error: 'Points could not be loaded' };
    const show = (html: string) => { this.root.innerHTML = `<style>${STYLE}</style><div class="box" part="box">${html}</div>`; };
    if (!memberId) return show(`<span class="muted">${words.error}</span>`);
    setBearer(token);
    const client = makeClient(this.getAttribute('api') ?? origin);
    const [balances, tier] = await Promise.all([
      client.GET('/v1/members/{memberId}/balances', { params: { path: { memberId } } }),
      client.GET('/v1/members/{memberId}/tier', { params: { path: { memberId } } }),
    ]);
    const points = balances.data?.data.find((b) => b.wallet === 'points');
    if (!points) return show(`<span class="muted">${words.error}</span>`);
    const fmt = new Intl.NumberFormat(tr ? 'tr-TR' : 'en-GB');
    const text = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    show(`<div class="points">${fmt.format(points.available)} ${words.points}</div>`
      + (points.pending ? `<div class="muted">+${fmt.format(points.pending)} ${words.pending}</div>` : '')
      + (tier.data ? `<div>${words.tier}: <strong>${text(tier.data.tier.name)}</strong></div>` : ''));
  }
}

if (!customElements.get('laurel-widget')) customElements.define('laurel-widget', LaurelWidget);
