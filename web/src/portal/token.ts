// The member token the brand's site hands over (POST /v1/members/{id}/tokens): in the link's
// fragment (#token=…, never sent to a server log) or pasted; kept for the tab only.
export function memberOf(token: string): string | null {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown; exp?: unknown };
    if (typeof payload.sub !== 'string') return null;
    if (typeof payload.exp === 'number' && payload.exp * 1000 < Date.now()) return null;
    return payload.sub;
  } catch {
    return null;
  }
}

export function initialToken(): string {
  const fromLink = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (fromLink) {
    sessionStorage.setItem('laurel.token', fromLink);
    history.replaceState(null, '', window.location.pathname);
    return fromLink;
  }
  return sessionStorage.getItem('laurel.token') ?? '';
}
