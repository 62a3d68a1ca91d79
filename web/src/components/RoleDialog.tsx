import { useEffect, useId, useState } from 'react';
import { ConfirmDialog } from './ConfirmDialog';

export interface RoleOption<R extends string> {
  value: R;
  label: string;
  description: string;
}

interface Props<R extends string> {
  open: boolean;
  /** Whose role: "Ada Lovelace". */
  who: string;
  current: R;
  options: readonly RoleOption<R>[];
  busy: boolean;
  error?: string | null;
  onConfirm: (role: R) => void;
  onCancel: () => void;
}

/**
 * Changing a role, confirmed before it applies: the roles as radio buttons with what each may do, and a
 * "Change role" button that stays disabled until another role is picked. (A bare select that saves on change
 * applies a role with one arrow key.)
 */
export function RoleDialog<R extends string>({ open, who, current, options, busy, error, onConfirm, onCancel }: Props<R>) {
  const [picked, setPicked] = useState<R>(current);
  const name = useId();
  useEffect(() => {
    if (open) setPicked(current);
  }, [open, current]);
  const label = options.find((o) => o.value === picked)?.label ?? picked;
  return (
    <ConfirmDialog
      open={open}
      title={`Change the role of ${who}?`}
      confirmLabel={picked === current ? 'Change role' : `Make ${label.toLowerCase()}`}
      busyLabel="Changing…"
      tone="primary"
      busy={busy}
      confirmDisabled={picked === current}
      error={error}
      onConfirm={() => onConfirm(picked)}
      onCancel={onCancel}
    >
      <fieldset className="role-options">
        <legend>Role</legend>
        {options.map((o) => (
          <div className="radio" key={o.value}>
            <input
              type="radio"
              id={`${name}-${o.value}`}
              name={name}
              value={o.value}
              checked={picked === o.value}
              onChange={() => setPicked(o.value)}
              aria-describedby={`${name}-${o.value}-desc`}
            />
            <label htmlFor={`${name}-${o.value}`}>
              {o.label}
              {o.value === current && <span className="muted"> (current)</span>}
            </label>
            <p id={`${name}-${o.value}-desc`} className="field-hint">
              {o.description}
            </p>
          </div>
        ))}
      </fieldset>
      <p className="muted small">The change applies from the member’s next request.</p>
    </ConfirmDialog>
  );
}
