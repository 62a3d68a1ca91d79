import type { ChangeEvent, InputHTMLAttributes } from 'react';

interface BaseProps {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  hint?: string | undefined;
  /** A second hint that follows the typing (e.g. what a phone number will be saved as). */
  note?: string | null | undefined;
  required?: boolean;
}

type InputProps = BaseProps & {
  multiline?: false;
  type?: InputHTMLAttributes<HTMLInputElement>['type'];
  autoComplete?: string;
  inputMode?: InputHTMLAttributes<HTMLInputElement>['inputMode'];
  max?: string;
  min?: string;
  placeholder?: string;
};

type TextareaProps = BaseProps & { multiline: true; rows?: number; counter?: { max: number; count: number } };

/**
 * A labelled input or textarea with its hint and error linked through `aria-describedby`,
 * and `aria-invalid` set while the error shows.
 */
export function Field(props: InputProps | TextareaProps) {
  const { id, label, value, onChange, error, hint, note, required } = props;
  const hintId = hint ? `${id}-hint` : undefined;
  const noteId = note ? `${id}-note` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const counterId = props.multiline && props.counter ? `${id}-counter` : undefined;
  const describedBy = [hintId, noteId, counterId, errorId].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name: id,
    value,
    'aria-invalid': error ? (true as const) : undefined,
    'aria-describedby': describedBy,
    'aria-required': required || undefined,
    onChange: (e: ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => onChange(e.target.value),
  };
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>
        {label}
        {required ? (
          <span className="required" aria-hidden="true">
            {' '}
            *
          </span>
        ) : (
          <span className="optional"> (optional)</span>
        )}
      </label>
      {hint && (
        <p id={hintId} className="field-hint">
          {hint}
        </p>
      )}
      {props.multiline ? (
        <textarea {...common} rows={props.rows ?? 5} />
      ) : (
        <input
          {...common}
          type={props.type ?? 'text'}
          autoComplete={props.autoComplete}
          inputMode={props.inputMode}
          max={props.max}
          min={props.min}
          placeholder={props.placeholder}
        />
      )}
      {note && (
        <p id={noteId} className="field-note">
          {note}
        </p>
      )}
      {props.multiline && props.counter && (
        <p id={counterId} className={`field-counter${props.counter.count > props.counter.max ? ' over' : ''}`}>
          {props.counter.count.toLocaleString('en')} / {props.counter.max.toLocaleString('en')} characters
        </p>
      )}
      {error && (
        <p id={errorId} className="field-error">
          <span className="visually-hidden">Error: </span>
          {error}
        </p>
      )}
    </div>
  );
}
