// A webhook endpoint's settings, checked: where it is (an http(s) URL without credentials, not
// inside the deployment unless the operator allows it), which message types it receives, a
// description, whether it is on. Each refusal names its field.
import { invalid } from '../errors.js';
import { internalHost } from './addresses.js';

export interface EndpointSettings {
  url: string;
  description: string | null;
  /** empty: every type */
  eventTypes: string[];
  enabled: boolean;
}

const MAX_URL = 2000;
const MAX_TYPES = 50;
/** Message types are dotted lower-case names: points.expiring, tier.changed, webhook.test. */
export const MESSAGE_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

/** What the deployment allows of endpoints (LAUREL_WEBHOOKS_ALLOW_PRIVATE). */
export interface EndpointPolicy {
  /** URLs may name loopback, private, link-local… addresses and localhost; default: refused */
  allowPrivate: boolean;
}

export function validateUrl(value: unknown, policy: EndpointPolicy): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URL) throw invalid('url', `url must be an http(s) URL of at most ${MAX_URL} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('url', 'url is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('url', 'url must use http or https');
  // A password in a URL ends up in logs and in every list of endpoints: receivers authenticate Laurel by the signature.
  if (url.username || url.password) throw invalid('url', 'url must not contain credentials (user:password@); verify the webhook signature instead');
  if (!url.hostname) throw invalid('url', 'url must name a host');
  // A tenant must not make Laurel's workers POST to the database, the cloud metadata service or
  // anything else only the deployment can reach. This catches literal addresses (which URL has
  // already normalised: 2130706433 and 127.1 are 127.0.0.1 here) and localhost; a name that
  // resolves inside is refused by the sender, at each attempt.
  const inside = policy.allowPrivate ? null : internalHost(url.hostname);
  if (inside) throw invalid('url', `url must not point inside the deployment: ${inside} (the operator can allow it with LAUREL_WEBHOOKS_ALLOW_PRIVATE=true)`);
  return url.href;
}

export function validateEventTypes(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > MAX_TYPES) throw invalid('eventTypes', `eventTypes must be a list of at most ${MAX_TYPES} message types (empty: all)`);
  for (const [i, t] of value.entries()) {
    if (typeof t !== 'string' || t.length > 100 || !MESSAGE_TYPE.test(t)) throw invalid(`eventTypes[${i}]`, 'a message type is a dotted lower-case name such as points.expiring');
  }
  return [...new Set(value as string[])];
}

function validateDescription(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > 500) throw invalid('description', 'description must be text of at most 500 characters');
  return value;
}

/** A new endpoint's settings; absent fields take their defaults (all types, enabled). */
export function validateNewEndpoint(input: Record<string, unknown>, policy: EndpointPolicy): EndpointSettings {
  return {
    url: validateUrl(input.url, policy),
    description: validateDescription(input.description),
    eventTypes: input.eventTypes === undefined ? [] : validateEventTypes(input.eventTypes),
    enabled: input.enabled === undefined ? true : validateEnabled(input.enabled),
  };
}

/** An endpoint's settings after a change of the given fields. */
export function applyChange(current: EndpointSettings, change: Record<string, unknown>, policy: EndpointPolicy): EndpointSettings {
  return {
    url: change.url === undefined ? current.url : validateUrl(change.url, policy),
    description: change.description === undefined ? current.description : validateDescription(change.description),
    eventTypes: change.eventTypes === undefined ? current.eventTypes : validateEventTypes(change.eventTypes),
    enabled: change.enabled === undefined ? current.enabled : validateEnabled(change.enabled),
  };
}

function validateEnabled(value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid('enabled', 'enabled must be true or false');
  return value;
}

