'use client';
import { useEffect, useRef } from 'react';

/**
 * A native <dialog> shown as a modal while `open` (focus trapped, Escape reported as cancel, announced as a modal):
 * attach the returned ref to the <dialog>.
 */
export function useModalDialog(open: boolean) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return ref;
}
