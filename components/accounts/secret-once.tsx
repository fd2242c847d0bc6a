'use client';
import { useRef, useState } from 'react';
import { Button } from '../ui/button';

/**
 * A secret shown once (a new API key): a copy button, and the text selected for a manual copy where the clipboard is
 * refused. Whether the copy worked is announced, not only shown.
 */
export function SecretOnce({ secret, onDone }: { secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  const ref = useRef<HTMLElement>(null);
  async function copy() {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      const range = document.createRange();
      if (ref.current) range.selectNodeContents(ref.current);
      window.getSelection()?.removeAllRanges();
      window.getSelection()?.addRange(range);
      setCopied('no');
    }
  }
  return (
    <div className="mb-3 rounded-md border border-emerald-300 bg-emerald-50 p-3 text-sm">
      <p className="font-medium">Copy this key now; it is not shown again.</p>
      <code ref={ref} data-testid="new-api-key" className="mt-1 block break-all font-mono text-xs">
        {secret}
      </code>
      <p className="mt-1 text-xs text-slate-700">
        Send it as <code>Authorization: Bearer &lt;key&gt;</code>.
      </p>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <Button size="sm" onClick={copy}>
          Copy key
        </Button>
        <Button size="sm" variant="secondary" onClick={onDone}>
          I have copied it
        </Button>
        <span role="status" className="text-xs text-slate-700">
          {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'The browser refused the clipboard: the key is selected, press Ctrl+C.' : ''}
        </span>
      </div>
    </div>
  );
}
