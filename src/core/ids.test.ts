import { describe, expect, it } from 'vitest';
import { isUuid, uuidv7 } from './ids.js';

describe('uuidv7', () => {
  it('is a version 7, variant 1 uuid carrying the given millisecond', () => {
    const id = uuidv7(Date.UTC(2026, 0, 15));
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    expect(parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBeGreaterThanOrEqual(Date.UTC(2026, 0, 15));
  });

  it('increases strictly, even for thousands of ids in one millisecond or a clock going back', () => {
    const ms = Date.UTC(2030, 0, 1);
    const ids = [...Array.from({ length: 5000 }, () => uuidv7(ms)), uuidv7(ms - 60_000)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
