import { describe, expect, it } from 'vitest';
import type { ChatMessage, Triage } from '../api/types';
import { activeEmergency, chatReducer, failureText, initialChatState, type ChatState } from './chatState';

const at = '2024-06-15T10:00:00Z';
const user = (id: string, content = 'hi'): ChatMessage => ({ id, role: 'user', content, metadata: {}, createdAt: at });
const assistant = (id: string, content = 'hello', emergency: Triage | null = null): ChatMessage => ({
  id,
  role: 'assistant',
  content,
  metadata: { provider: 'offline', model: 'm', emergency: emergency ?? { detected: false, category: null, severity: null } },
  createdAt: at,
});
const knockedOut: Triage = { detected: true, category: 'knocked_out_tooth', severity: 'emergency' };

function run(state: ChatState, ...actions: Parameters<typeof chatReducer>[1][]): ChatState {
  return actions.reduce(chatReducer, state);
}

describe('chatReducer', () => {
  const loaded = run(initialChatState, {
    type: 'history/loaded',
    older: false,
    page: { items: [user('u1'), assistant('a1')], nextBefore: 'u1' },
  });

  it('prepends older pages without duplicates', () => {
    const s = run(loaded, { type: 'history/loaded', older: true, page: { items: [user('u0'), assistant('a0'), user('u1')], nextBefore: null } });
    expect(s.messages.map((m) => m.id)).toEqual(['u0', 'a0', 'u1', 'a1']);
    expect(s.nextBefore).toBeNull();
  });

  it('streams a reply: the user message shows at once, deltas accumulate, done appends both', () => {
    let s = run(loaded, { type: 'send', localId: 'l1', content: 'My tooth hurts' });
    expect(s.pending).toMatchObject({ content: 'My tooth hurts', status: 'sending' });
    s = run(s, { type: 'user', message: user('u2', 'My tooth hurts') }, { type: 'delta', text: 'Rinse ' }, { type: 'delta', text: 'gently.' });
    expect(s.pending).toMatchObject({ text: 'Rinse gently.', status: 'streaming', userMessage: { id: 'u2' } });
    s = run(s, { type: 'done', assistantMessage: assistant('a2', 'Rinse gently.'), emergency: null });
    expect(s.pending).toBeNull();
    expect(s.messages.map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2']);
  });

  it('keeps the user message visible after a failure, with what is needed to retry', () => {
    const s = run(
      loaded,
      { type: 'send', localId: 'l1', content: 'hello?' },
      { type: 'user', message: user('u2', 'hello?') },
      { type: 'delta', text: 'Hal' },
      { type: 'failed', error: 'The assistant is unavailable.' },
    );
    expect(s.pending).toMatchObject({ status: 'failed', content: 'hello?', userMessage: { id: 'u2' }, text: '' });
    expect(run(s, { type: 'retrying' }).pending).toMatchObject({ status: 'retrying', error: null });
  });

  it('puts the emergency of a done event on the message and raises the banner until dismissed', () => {
    const bare = { ...assistant('a2', 'Put the tooth back in its socket...'), metadata: { provider: 'offline' } };
    let s = run(
      loaded,
      { type: 'send', localId: 'l1', content: 'knocked out' },
      { type: 'done', assistantMessage: bare, emergency: knockedOut, userMessage: user('u2') },
    );
    const active = activeEmergency(s);
    expect(active?.message.id).toBe('a2');
    expect(active?.triage.severity).toBe('emergency');
    s = run(s, { type: 'dismiss-emergency', id: 'a2' });
    expect(activeEmergency(s)).toBeNull();
  });

  it('raises the banner for an emergency found in history (metadata.emergency.detected)', () => {
    const s = run(initialChatState, {
      type: 'history/loaded',
      older: false,
      page: { items: [user('u1'), assistant('a1', 'first aid', knockedOut), user('u2'), assistant('a2')], nextBefore: null },
    });
    expect(activeEmergency(s)?.message.id).toBe('a1');
    expect(activeEmergency(loaded)).toBeNull();
  });
});

describe('failureText', () => {
  it('explains known codes and falls back to the detail', () => {
    expect(failureText('ai_unavailable')).toMatch(/unavailable/);
    expect(failureText('something_else', 'Detail from server')).toBe('Detail from server');
    expect(failureText(null)).toMatch(/could not answer/);
  });
});
