/**
 * Setting up two-step sign-in (CONTRACT.md): the password (`POST /auth/mfa/setup` gives a secret, its
 * `otpauth://` URI and a QR code, not active yet), a first code from the app (`POST /auth/mfa/enable` turns it on
 * and answers with ten recovery codes, shown once), then done. The secret and the codes live in this state only:
 * never in web storage, gone when the page is left.
 */
import type { MfaSetup } from '../api/types';

export type SetupState =
  | { step: 'idle' }
  | { step: 'password' }
  | { step: 'scan'; setup: MfaSetup }
  | { step: 'codes'; codes: string[]; saved: boolean }
  | { step: 'done' };

export type SetupEvent =
  | { type: 'start' }
  | { type: 'setup'; setup: MfaSetup }
  | { type: 'enabled'; codes: string[] }
  | { type: 'saved'; saved: boolean }
  | { type: 'finish' }
  | { type: 'cancel' };

export function setupReducer(state: SetupState, event: SetupEvent): SetupState {
  switch (event.type) {
    case 'start':
      return state.step === 'idle' || state.step === 'done' ? { step: 'password' } : state;
    case 'setup':
      return state.step === 'password' ? { step: 'scan', setup: event.setup } : state;
    case 'enabled':
      return state.step === 'scan' ? { step: 'codes', codes: event.codes, saved: false } : state;
    case 'saved':
      return state.step === 'codes' ? { ...state, saved: event.saved } : state;
    case 'finish':
      // The codes cannot be shown again: leaving this step needs the user's word that they kept them.
      return state.step === 'codes' && state.saved ? { step: 'done' } : state;
    case 'cancel':
      // Before the first code the secret is not active: cancelling drops it. After, two-step sign-in is on.
      return state.step === 'codes' ? state : { step: 'idle' };
    default:
      return state;
  }
}

/** `JBSWY3DPEHPK3PXP` -> `JBSW Y3DP EHPK 3PXP`, for typing into an app by hand. */
export function groupSecret(secret: string): string {
  return secret.replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
}

/** The text of the recovery codes file (and of "Copy all"). */
export function recoveryCodesText(codes: readonly string[], email: string, now: Date = new Date()): string {
  return [
    'Dental Assistant: recovery codes for two-step sign-in',
    `Account: ${email}`,
    `Created: ${now.toISOString().slice(0, 10)}`,
    '',
    'Each code works once, in place of the code from your authenticator app.',
    'Keep them somewhere safe, apart from your phone.',
    '',
    ...codes.map((c, i) => `${String(i + 1).padStart(2, ' ')}. ${c}`),
    '',
  ].join('\n');
}
