// Opaque cursors for keyset pagination: the last id of a page, base64url-encoded.
import { isUuid } from '../core/ids.js';
import { httpProblem } from './problems.js';

export const encodeCursor = (lastId: string): string => Buffer.from(JSON.stringify({ after: lastId })).toString('base64url');

export function decodeCursor(cursor: string | undefined): string | null {
  if (cursor === undefined) return null;
  try {
    const { after } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof after === 'string' && isUuid(after)) return after;
  } catch {
    // fall through to the problem below
  }
  throw httpProblem('validation', 'cursor is not a cursor this API gave out', [{ field: 'cursor', message: 'is invalid' }]);
}

/** Given limit+1 rows, the page and the cursor to the next one. */
export function page<T>(rows: T[], limit: number, idOf: (row: T) => string) {
  const hasMore = rows.length > limit;
  const data = hasMore ? rows.slice(0, limit) : rows;
  return { object: 'list' as const, data, hasMore, nextCursor: hasMore ? encodeCursor(idOf(data[data.length - 1]!)) : null };
}
