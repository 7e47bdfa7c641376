// The clock a process takes from its environment: LAUREL_CLOCK_START pins where it starts (the
// README's walkthroughs depend on it), a bad value is refused rather than ignored.
import { describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import { clockFromEnv, settingsFromEnv } from './context.js';

describe('clockFromEnv', () => {
  it('starts at LAUREL_CLOCK_START and runs on from there', async () => {
    const clock = clockFromEnv({ LAUREL_CLOCK_START: '2026-12-01T09:00:00Z' });
    const first = clock.now().getTime();
    expect(first - Date.parse('2026-12-01T09:00:00Z')).toBeGreaterThanOrEqual(0);
    expect(first - Date.parse('2026-12-01T09:00:00Z')).toBeLessThan(60_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(clock.now().getTime()).toBeGreaterThan(first);
  });

  it('is the system clock when unset or empty', () => {
    expect(clockFromEnv({})).toBe(systemClock);
    expect(clockFromEnv({ LAUREL_CLOCK_START: ' ' })).toBe(systemClock);
  });

  it('refuses what is not an ISO instant, naming the variable', () => {
    for (const bad of ['tomorrow', '2026-13-01T00:00:00Z', '1700000000']) {
      expect(() => clockFromEnv({ LAUREL_CLOCK_START: bad })).toThrow(/LAUREL_CLOCK_START must be an ISO 8601 instant/);
    }
  });
});

describe('LAUREL_API_KEY_CACHE_SECONDS', () => {
  it('is how long a process trusts a key it looked up: 5 s by default, 0 to look up every request', () => {
    expect(settingsFromEnv({}).apiKeyCacheMs).toBe(5000);
    expect(settingsFromEnv({ LAUREL_API_KEY_CACHE_SECONDS: '0' }).apiKeyCacheMs).toBe(0);
    expect(settingsFromEnv({ LAUREL_API_KEY_CACHE_SECONDS: '0.5' }).apiKeyCacheMs).toBe(500);
  });

  it('refuses a negative, non-numeric or over-long delay, naming the variable', () => {
    for (const bad of ['-1', 'soon', '301', '1e3']) {
      expect(() => settingsFromEnv({ LAUREL_API_KEY_CACHE_SECONDS: bad })).toThrow(/LAUREL_API_KEY_CACHE_SECONDS must be a number of seconds from 0 to 300/);
    }
  });
});
