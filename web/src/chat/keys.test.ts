import { describe, expect, it } from 'vitest';
import { composerHint, enterAction } from './keys';

const key = (over: Partial<Parameters<typeof enterAction>[0]> = {}) => ({
  key: 'Enter',
  shiftKey: false,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  isComposing: false,
  ...over,
});

describe('Enter in the message box', () => {
  it('sends on a desktop, Shift+Enter adds a line', () => {
    expect(enterAction(key(), false)).toBe('send');
    expect(enterAction(key({ shiftKey: true }), false)).toBe('newline');
  });

  it('adds a line on a touch keyboard, where the Send button sends', () => {
    expect(enterAction(key(), true)).toBe('newline');
    expect(enterAction(key({ shiftKey: true }), true)).toBe('newline');
  });

  it('sends with Ctrl/Cmd+Enter everywhere (a tablet with a keyboard)', () => {
    expect(enterAction(key({ ctrlKey: true }), true)).toBe('send');
    expect(enterAction(key({ metaKey: true }), false)).toBe('send');
  });

  it('leaves other keys and IME composition to the browser', () => {
    expect(enterAction(key({ key: 'a' }), false)).toBeNull();
    expect(enterAction(key({ isComposing: true }), false)).toBeNull();
  });

  it('says what Enter does', () => {
    expect(composerHint(false)).toMatch(/Enter sends/);
    expect(composerHint(true)).toMatch(/new line.*Send/);
  });
});
