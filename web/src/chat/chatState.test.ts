import { describe, expect, it } from 'vitest';
import type { ChatMessage, Triage } from '../api/types';
import { activeEmergency, chatReducer, failureText, initialChatState, unansweredTail, type ChatState } from './chatState';

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

describe('unanswered messages (after a reload too)', () => {
  it('are the user messages with no assistant reply after them', () => {
    expect(unansweredTail([user('u1'), assistant('a1')])).toEqual([]);
    expect(unansweredTail([user('u1'), assistant('a1'), user('u2')]).map((m) => m.id)).toEqual(['u2']);
    expect(unansweredTail([user('u1'), assistant('a1'), user('u2'), user('u3')]).map((m) => m.id)).toEqual(['u2', 'u3']);
    // A reply after them settles every earlier message.
    expect(unansweredTail([user('u1'), user('u2'), assistant('a2')])).toEqual([]);
    expect(unansweredTail([])).toEqual([]);
    expect(unansweredTail([user('u1')]).map((m) => m.id)).toEqual(['u1']);
  });

  it('get their reply through reply/*, which appends it and marks it as new', () => {
    let s = run(initialChatState, {
      type: 'history/loaded',
      older: false,
      page: { items: [user('u1'), assistant('a1'), user('u2')], nextBefore: null },
    });
    s = run(s, { type: 'reply/start', messageId: 'u2' });
    expect(s.reply).toEqual({ messageId: 'u2', status: 'retrying', error: null, text: '' });
    s = run(s, { type: 'reply/failed', error: 'The assistant is unavailable right now.' });
    expect(s.reply).toMatchObject({ status: 'failed', error: expect.stringMatching(/unavailable/) });
    expect(unansweredTail(s.messages).map((m) => m.id)).toEqual(['u2']);
    s = run(s, { type: 'reply/start', messageId: 'u2' }, { type: 'reply/done', assistantMessage: assistant('a2'), emergency: null });
    expect(s.reply).toBeNull();
    expect(s.messages.map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2']);
    expect(unansweredTail(s.messages)).toEqual([]);
    expect(s.fresh).toEqual(['a2']);
  });
});

describe('emergencies in the conversation', () => {
  it('only the newest counts: dismissing it does not bring back an older one', () => {
    const s = run(initialChatState, {
      type: 'history/loaded',
      older: false,
      page: { items: [user('u1'), assistant('a1', 'aid 1', knockedOut), user('u2'), assistant('a2', 'aid 2', knockedOut)], nextBefore: null },
    });
    expect(activeEmergency(s)?.message.id).toBe('a2');
    expect(activeEmergency(run(s, { type: 'dismiss-emergency', id: 'a2' }))).toBeNull();
  });

  it('stay dismissed when the remembered dismissals are loaded', () => {
    const s = run(
      initialChatState,
      { type: 'dismissed/loaded', ids: ['a1'] },
      { type: 'history/loaded', older: false, page: { items: [user('u1'), assistant('a1', 'aid', knockedOut)], nextBefore: null } },
    );
    expect(activeEmergency(s)).toBeNull();
  });

  it('are new (to announce) only when they arrive while the screen is open', () => {
    const fromHistory = run(initialChatState, {
      type: 'history/loaded',
      older: false,
      page: { items: [user('u1'), assistant('a1', 'aid', knockedOut)], nextBefore: null },
    });
    expect(fromHistory.fresh).toEqual([]);
    const live = run(
      fromHistory,
      { type: 'send', localId: 'l1', content: 'knocked out again' },
      { type: 'done', assistantMessage: assistant('a2', 'aid'), emergency: knockedOut, userMessage: user('u2') },
    );
    expect(live.fresh).toEqual(['a2']);
  });
});
