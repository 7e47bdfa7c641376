// The field a validation refusal names: validators throw DomainError('validation', …, field).
import { expect } from 'vitest';
import { DomainError } from '../../src/core/errors.js';

/** Runs `attempt`, which must be refused as invalid input, and returns the field it names. */
export function fieldOf(attempt: () => unknown): string | undefined {
  try {
    attempt();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe('validation');
    return (e as DomainError).field;
  }
  throw new Error('accepted');
}
