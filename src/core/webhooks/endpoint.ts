// A webhook endpoint's settings, checked: where it is (an http(s) URL without credentials), which
// message types it receives, a description, whether it is on. Each refusal names its field.
import { invalid } from '../errors.js';

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

export function validateUrl(value: unknown): string {
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
export function validateNewEndpoint(input: Record<string, unknown>): EndpointSettings {
  return {
    url: validateUrl(input.url),
    description: validateDescription(input.description),
    eventTypes: input.eventTypes === undefined ? [] : validateEventTypes(input.eventTypes),
    enabled: input.enabled === undefined ? true : validateEnabled(input.enabled),
  };
}

/** An endpoint's settings after a change of the given fields. */
export function applyChange(current: EndpointSettings, change: Record<string, unknown>): EndpointSettings {
  return {
    url: change.url === undefined ? current.url : validateUrl(change.url),
    description: change.description === undefined ? current.description : validateDescription(change.description),
    eventTypes: change.eventTypes === undefined ? current.eventTypes : validateEventTypes(change.eventTypes),
    enabled: change.enabled === undefined ? current.enabled : validateEnabled(change.enabled),
  };
}

function validateEnabled(value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid('enabled', 'enabled must be true or false');
  return value;
}

