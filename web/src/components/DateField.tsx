import type { ChangeEvent } from 'react';
import { dateFieldOrder, type DatePart } from '../lib/format';
import type { DateParts } from '../lib/validation';

interface Props {
  /** Ids are `${id}-day`, `${id}-month`, `${id}-year`; the error is `${id}-error`. */
  id: string;
  legend: string;
  value: DateParts;
  onChange: (value: DateParts) => void;
  hint?: string;
  error?: string | undefined;
  /** The box the error is about; all three are marked when it concerns the whole date (e.g. in the future). */
  errorPart?: DatePart | null | undefined;
  required?: boolean;
}

const LABELS: Record<DatePart, string> = { day: 'Day', month: 'Month', year: 'Year' };

/**
 * A date typed as day, month and year in three boxes, in the order the app's date formatter writes dates
 * (`dateFieldOrder`), so the field and every date on screen follow one convention. Used for the date of birth:
 * a memorable date is quicker to type than to pick from a calendar, and the boxes behave the same in every browser.
 */
export function DateField({ id, legend, value, onChange, hint, error, errorPart, required }: Props) {
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  // On the group, as GOV.UK's date input does: announced once on entering it, not with every box.
  const describedBy = [hintId, errorId].filter(Boolean).join(' ') || undefined;
  const order = dateFieldOrder();
  const set = (part: DatePart) => (e: ChangeEvent<HTMLInputElement>) => onChange({ ...value, [part]: e.target.value });
  return (
    <fieldset className={`field date-field${error ? ' field-invalid' : ''}`} aria-describedby={describedBy}>
      <legend>
        {legend}
        {required ? (
          <span className="required" aria-hidden="true">
            {' '}
            *
          </span>
        ) : (
          <span className="optional"> (optional)</span>
        )}
      </legend>
      {hint && (
        <p id={hintId} className="field-hint">
          {hint}
        </p>
      )}
      <div className="date-boxes">
        {order.map((part) => {
          const invalid = !!error && (!errorPart || errorPart === part);
          return (
            <div key={part} className={`date-box date-box-${part}`}>
              <label htmlFor={`${id}-${part}`}>{LABELS[part]}</label>
              <input
                id={`${id}-${part}`}
                name={`${id}-${part}`}
                type="text"
                inputMode="numeric"
                autoComplete="off"
                maxLength={part === 'year' ? 4 : 2}
                value={value[part]}
                onChange={set(part)}
                aria-invalid={invalid || undefined}
              />
            </div>
          );
        })}
      </div>
      {error && (
        <p id={errorId} className="field-error">
          <span className="visually-hidden">Error: </span>
          {error}
        </p>
      )}
    </fieldset>
  );
}
