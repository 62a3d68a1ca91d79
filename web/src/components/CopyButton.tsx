import { useEffect, useState } from 'react';

/**
 * Copies `text` to the clipboard and says so in a polite live region. Where the clipboard is refused (an old
 * browser, a permission), the target field's text is selected so Ctrl+C / Cmd+C copies it.
 */
export function CopyButton({ text, label, selectId }: { text: string; label: string; selectId?: string }) {
  const [status, setStatus] = useState('');
  useEffect(() => {
    if (!status) return undefined;
    const t = setTimeout(() => setStatus(''), 4000);
    return () => clearTimeout(t);
  }, [status]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setStatus('Copied.');
    } catch {
      const el = selectId ? (document.getElementById(selectId) as HTMLInputElement | HTMLTextAreaElement | null) : null;
      el?.focus();
      el?.select();
      setStatus('Selected: press Ctrl+C (Cmd+C on a Mac) to copy.');
    }
  };
  return (
    <span className="copy">
      <button type="button" className="btn btn-secondary btn-small" onClick={() => void copy()}>
        {label}
      </button>
      <span className="copy-status" role="status">
        {status}
      </span>
    </span>
  );
}
