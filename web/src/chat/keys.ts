/** What Enter does in the message box. */
export type EnterAction = 'send' | 'newline';

export interface KeyLike {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey?: boolean;
  isComposing?: boolean;
}

/**
 * Desktop: Enter sends, Shift+Enter adds a line. Touch keyboards (a coarse primary pointer): Enter adds a line
 * and the Send button sends, as in a text message. Ctrl/Cmd+Enter sends everywhere (a tablet with a keyboard).
 * `null`: not Enter, or an IME is composing; let the browser handle it.
 */
export function enterAction(e: KeyLike, touch: boolean): EnterAction | null {
  if (e.key !== 'Enter' || e.isComposing) return null;
  if (e.ctrlKey || e.metaKey) return 'send';
  if (touch || e.shiftKey || e.altKey) return 'newline';
  return 'send';
}

/** The hint under the message box, matching {@link enterAction}. */
export function composerHint(touch: boolean): string {
  return touch ? 'Enter adds a new line; tap Send to send.' : 'Enter sends, Shift+Enter adds a new line.';
}
