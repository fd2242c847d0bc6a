import type { ReactNode } from 'react';

/**
 * A table that scrolls sideways inside its card when the window is narrower than its columns (820 px and less), so
 * its headers never squeeze into each other or over the cells. The region is focusable and named, so a keyboard user
 * can scroll it too (axe: scrollable-region-focusable). Relative, so text for screen readers only (absolutely
 * placed) is clipped with the table instead of widening the page.
 */
export function TableScroll({ label, children, minWidth = '40rem' }: { label: string; children: ReactNode; minWidth?: string }) {
  return (
    <div role="region" aria-label={label} tabIndex={0} className="relative -mx-1 overflow-x-auto px-1">
      <div style={{ minWidth }}>{children}</div>
    </div>
  );
}

/** The heading of a column that holds only buttons: named for screen readers, blank on screen. */
export function ActionsHeader({ align = 'right' }: { align?: 'left' | 'right' }) {
  return (
    <th className={align === 'right' ? 'text-right' : ''}>
      <span className="sr-only">Actions</span>
    </th>
  );
}
