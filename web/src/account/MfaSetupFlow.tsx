import { createElement, useEffect, useMemo, useReducer, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { isApiError, messageOf } from '../api';
import { enableMfa, startMfaSetup } from '../api/account';
import { normalizeCode, validateCode } from '../auth/signIn';
import { Alert } from '../components/Alert';
import { CopyButton } from '../components/CopyButton';
import { Field } from '../components/Field';
import { focusStatic } from '../lib/focus';
import { groupSecret, recoveryCodesText, setupReducer } from './mfaSetup';
import { parseQrSvg, type SafeSvgNode } from './qrSvg';

function toElement(node: SafeSvgNode, key: number | string, top: boolean): ReactElement {
  const props: Record<string, unknown> = { key, ...node.attrs };
  if (top) {
    Object.assign(props, { role: 'img', 'aria-label': 'QR code for your authenticator app', width: 200, height: 200, focusable: 'false', className: 'qr-svg' });
  }
  return createElement(node.tag, props, ...node.children.map((c, i) => toElement(c, i, false)));
}

/** The QR code, rebuilt from its sanitised tree; when it cannot be read, the secret below is the way in. */
function QrCode({ svg }: { svg: string }) {
  const tree = useMemo(() => parseQrSvg(svg), [svg]);
  if (!tree) return <p className="muted">The QR code cannot be shown here: type the key below into your app instead.</p>;
  return <div className="qr">{toElement(tree, 'qr', true)}</div>;
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

interface Props {
  email: string;
  /** Forced by the clinic: no Cancel. */
  forced?: boolean;
  onEnabled: () => void;
  onFinished: () => void;
  onCancel?: () => void;
}

/** Password, then the QR code (and the key to type) with a first code, then the recovery codes. */
export function MfaSetupFlow({ email, forced, onEnabled, onFinished, onCancel }: Props) {
  const [state, dispatch] = useReducer(setupReducer, { step: 'password' });
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [fieldError, setFieldError] = useState<string | undefined>();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    setFieldError(undefined);
    setError(null);
    if (state.step !== 'password') focusStatic(heading.current);
  }, [state.step]);

  const onPassword = async (e: FormEvent) => {
    e.preventDefault();
    if (!password) {
      setFieldError('Enter your password.');
      document.getElementById('mfa-password')?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const setup = await startMfaSetup(password);
      setPassword('');
      dispatch({ type: 'setup', setup });
    } catch (err) {
      if (isApiError(err) && (err.status === 401 || (err.status === 403 && /password|credentials/.test(err.code ?? '')))) {
        setFieldError('That password is not correct.');
      }
      else if (isApiError(err) && err.status === 409) setError('Two-step sign-in is already on for this account. Turn it off first to set it up again.');
      else setError(messageOf(err));
      document.getElementById('mfa-password')?.focus();
    } finally {
      setBusy(false);
    }
  };

  const onCode = async (e: FormEvent) => {
    e.preventDefault();
    const problem = validateCode(code, 'totp');
    setFieldError(problem ?? undefined);
    if (problem) {
      document.getElementById('mfa-code')?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { recoveryCodes } = await enableMfa(normalizeCode(code, 'totp'));
      setCode('');
      onEnabled();
      dispatch({ type: 'enabled', codes: recoveryCodes });
    } catch (err) {
      if (isApiError(err) && [400, 401, 422].includes(err.status)) {
        setFieldError('That code is not correct. Check that the time on your phone is right, wait for the next code and try again.');
      } else setError(messageOf(err));
      setCode('');
      document.getElementById('mfa-code')?.focus();
    } finally {
      setBusy(false);
    }
  };

  if (state.step === 'password') {
    return (
      <form onSubmit={onPassword} noValidate className="form mfa-step">
        <p>Confirm it is you: enter your password to start.</p>
        {error && <Alert kind="error">{error}</Alert>}
        <Field id="mfa-password" label="Password" type="password" autoComplete="current-password" required value={password} onChange={setPassword} error={fieldError} />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Checking…' : 'Continue'}
          </button>
          {!forced && onCancel && (
            <button type="button" className="btn btn-secondary" onClick={onCancel}>
              Cancel
            </button>
          )}
        </div>
      </form>
    );
  }

  if (state.step === 'scan') {
    const { setup } = state;
    return (
      <div className="mfa-step">
        <h3 ref={heading} tabIndex={-1}>
          Scan the code with your authenticator app
        </h3>
        <ol className="steps">
          <li>Open an authenticator app on your phone (for example Google Authenticator, Microsoft Authenticator or 1Password).</li>
          <li>Add an account and scan this QR code, or type the key below.</li>
          <li>Enter the 6-digit code the app then shows.</li>
        </ol>
        <QrCode svg={setup.qrSvg} />
        <p className="secret-row">
          <span id="mfa-secret-label">Key for typing in by hand:</span>{' '}
          <code className="secret" id="mfa-secret" aria-labelledby="mfa-secret-label">
            {groupSecret(setup.secret)}
          </code>{' '}
          <CopyButton text={setup.secret} label="Copy key" />
        </p>
        {error && <Alert kind="error">{error}</Alert>}
        <form onSubmit={onCode} noValidate className="form">
          <Field id="mfa-code" label="Code from the app" required inputMode="numeric" autoComplete="one-time-code" value={code} onChange={setCode} error={fieldError} />
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? 'Checking…' : 'Turn on two-step sign-in'}
            </button>
            {!forced && (
              <button type="button" className="btn btn-secondary" onClick={() => (onCancel ? onCancel() : dispatch({ type: 'cancel' }))}>
                Cancel
              </button>
            )}
          </div>
        </form>
      </div>
    );
  }

  if (state.step === 'codes') {
    const text = recoveryCodesText(state.codes, email);
    return (
      <div className="mfa-step">
        <h3 ref={heading} tabIndex={-1}>
          Two-step sign-in is on. Save your recovery codes
        </h3>
        <p>
          If you lose your phone, each of these codes signs you in once instead of a code from the app. They are shown{' '}
          <strong>only now</strong>: download or copy them and keep them somewhere safe, apart from your phone.
        </p>
        <ol className="recovery-codes" aria-label="Recovery codes">
          {state.codes.map((c) => (
            <li key={c}>
              <code>{c}</code>
            </li>
          ))}
        </ol>
        <div className="form-actions">
          <button type="button" className="btn btn-secondary" onClick={() => download('dental-assistant-recovery-codes.txt', text)}>
            Download the codes
          </button>
          <CopyButton text={text} label="Copy all codes" />
        </div>
        <div className="field check-field">
          <input id="mfa-saved" type="checkbox" checked={state.saved} onChange={(e) => dispatch({ type: 'saved', saved: e.target.checked })} />
          <label htmlFor="mfa-saved">I have saved my recovery codes</label>
        </div>
        <div className="form-actions">
          <button
            type="button"
            className="btn btn-primary"
            disabled={!state.saved}
            onClick={() => {
              dispatch({ type: 'finish' });
              onFinished();
            }}
          >
            Done
          </button>
        </div>
      </div>
    );
  }
  return null;
}
