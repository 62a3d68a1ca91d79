import { useEffect, useRef, type ReactNode } from 'react';
import { focusStatic } from '../lib/focus';

type Kind = 'error' | 'success' | 'info';

interface Props {
  kind: Kind;
  children: ReactNode;
  id?: string;
  /**
   * Move focus here when the alert appears (or `focusKey` changes): an error summary after a failed submit that
   * names no single field (a wrong password), so keyboard and screen-reader users land on the reason.
   */
  focus?: boolean;
  focusKey?: unknown;
}

/** Errors interrupt (`role="alert"`); success and info are announced politely (`role="status"`). */
export function Alert({ kind, children, id, focus, focusKey }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (focus) focusStatic(ref.current);
  }, [focus, focusKey]);
  return (
    <div ref={ref} id={id} className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}
