// A table that scrolls sideways on a phone: the scrolling box is a labelled region the keyboard can
// reach, so a table without links or buttons can still be read column by column.
import type { ReactNode } from 'react';

export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>{children}</div>;
}
