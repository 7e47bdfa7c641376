// The one error family of the domain. Adapters map `code` to their own vocabulary
// (HTTP status and problem type); `field` names the input that was wrong, when one was.

export type ErrorCode =
  | 'validation'            // the input is malformed or out of range
  | 'not_found'             // a referenced thing does not exist (in this tenant)
  | 'conflict'              // a unique identifier is taken, or the state forbids the change
  | 'insufficient_points'   // the wallet cannot pay
  | 'idempotency_conflict'; // the key was used before with another request

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (field: string, message: string) => new DomainError('validation', message, field);
export const notFound = (what: string, field?: string) => new DomainError('not_found', `${what} not found`, field);
