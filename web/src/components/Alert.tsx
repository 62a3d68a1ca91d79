import type { ReactNode } from 'react';

type Kind = 'error' | 'success' | 'info';

/** Errors interrupt (`role="alert"`); success and info are announced politely (`role="status"`). */
export function Alert({ kind, children, id }: { kind: Kind; children: ReactNode; id?: string }) {
  return (
    <div id={id} className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}
