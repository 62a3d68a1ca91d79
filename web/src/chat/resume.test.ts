import { describe, expect, it } from 'vitest';
import { consumeChatStream } from '../api/chat';
import { chatReducer, initialChatState, stoppableMessageId, type ChatState } from './chatState';
import { parseEventId, reattachDelay, StreamCursor } from './resume';

function body(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(c) {
      c.enqueue(bytes);
      c.close();
    },
  });
}

const msg = (id: string, role: 'user' | 'assistant', content: string, metadata: Record<string, unknown> = {}) => ({
  id,
  role,
  content,
  metadata,
  createdAt: '2025-01-01T10:00:00Z',
});

const ev = (id: string | null, event: string, data: unknown) => `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

describe('event ids', () => {
  it('reads <messageId>:<n>, with colons inside the id', () => {
    expect(parseEventId('m1:3')).toEqual({ messageId: 'm1', seq: 3 });
    expect(parseEventId('urn:x:7')).toEqual({ messageId: 'urn:x', seq: 7 });
    expect(parseEventId('m1:')).toBeNull();
    expect(parseEventId(':4')).toBeNull();
    expect(parseEventId('m1:-1')).toBeNull();
    expect(parseEventId('m1:1.5')).toBeNull();
    expect(parseEventId(undefined)).toBeNull();
  });
});

describe('StreamCursor', () => {
  it('applies each event once, in order, and keeps the last id for Last-Event-ID', () => {
    const c = new StreamCursor();
    expect(c.accept('m1:0')).toBe(true);
    expect(c.messageId).toBe('m1');
    expect(c.accept('m1:1')).toBe(true);
    expect(c.accept('m1:1')).toBe(false);
    expect(c.accept('m1:0')).toBe(false);
    expect(c.accept('m1:2')).toBe(true);
    expect(c.lastEventId).toBe('m1:2');
  });

  it('ignores events of another message and always applies events without an id (an older api)', () => {
    const c = new StreamCursor('m1');
    expect(c.accept('m2:5')).toBe(false);
    expect(c.accept(undefined)).toBe(true);
    expect(c.accept('')).toBe(true);
    expect(c.lastEventId).toBeNull();
  });

  it('tries a reattach three times with growing waits, then gives up', () => {
    expect([0, 1, 2, 3].map(reattachDelay)).toEqual([300, 1000, 3000, null]);
  });
});

describe('resuming a stream', () => {
  const done = { assistantMessage: msg('a1', 'assistant', 'Hello there'), emergency: null };

  it('skips the replayed part when a server replays from the start', async () => {
    const cursor = new StreamCursor();
    const first = ev('u1:0', 'user', msg('u1', 'user', 'hi')) + ev('u1:1', 'delta', { text: 'Hel' });
    const deltas: string[] = [];
    const cut = await consumeChatStream(body(first), { onDelta: (t) => deltas.push(t) }, undefined, cursor);
    expect(cut.kind).toBe('error');
    expect(cursor.lastEventId).toBe('u1:1');
    // The reattach replays everything (it did not honour Last-Event-ID): only the new part is applied.
    const again = ev('u1:1', 'delta', { text: 'Hel' }) + ev('u1:2', 'delta', { text: 'lo there' }) + ev('u1:3', 'done', done);
    const outcome = await consumeChatStream(body(again), { onDelta: (t) => deltas.push(t) }, undefined, cursor);
    expect(deltas.join('')).toBe('Hello there');
    expect(outcome.kind).toBe('done');
  });

  it('names the message to reattach to from the user event (its id line first, else its data)', async () => {
    const named: string[] = [];
    await consumeChatStream(body(ev('u9:0', 'user', msg('other', 'user', 'hi')) + ev('u9:1', 'done', done)), {
      onUser: (_m, id) => named.push(id),
    });
    await consumeChatStream(body(ev(null, 'user', { ...msg('u2', 'user', 'hi'), messageId: 'job-2' }) + ev(null, 'done', done)), {
      onUser: (_m, id) => named.push(id),
    });
    await consumeChatStream(body(ev(null, 'user', msg('u3', 'user', 'hi')) + ev(null, 'done', done)), { onUser: (_m, id) => named.push(id) });
    expect(named).toEqual(['u9', 'job-2', 'u3']);
  });
});

describe('following a reply after a reload, and Stop', () => {
  const run = (s: ChatState, ...actions: Parameters<typeof chatReducer>[1][]) => actions.reduce(chatReducer, s);
  const history = run(initialChatState, { type: 'history/loaded', older: false, page: { items: [msg('u1', 'user', 'hi')], nextBefore: null } });

  it('shows the reply as it resumes, then the saved one, announced once', () => {
    let s = run(history, { type: 'reply/attach', messageId: 'u1' });
    expect(s.reply).toMatchObject({ status: 'attaching', text: '' });
    expect(stoppableMessageId(s)).toBeNull();
    s = run(s, { type: 'reply/delta', text: 'Hel' }, { type: 'reply/delta', text: 'lo' });
    expect(s.reply).toMatchObject({ status: 'streaming', text: 'Hello' });
    expect(stoppableMessageId(s)).toBe('u1');
    const a = msg('a1', 'assistant', 'Hello', { emergency: { detected: true, category: 'avulsion', severity: 'urgent' } });
    s = run(s, { type: 'reply/done', assistantMessage: a, emergency: null }, { type: 'reply/done', assistantMessage: a, emergency: null });
    expect(s.reply).toBeNull();
    expect(s.messages.map((m) => m.id)).toEqual(['u1', 'a1']);
    expect(s.fresh).toEqual(['a1']);
  });

  it('leaves the message unanswered when nothing is being generated', () => {
    const s = run(history, { type: 'reply/attach', messageId: 'u1' }, { type: 'reply/none' });
    expect(s.reply).toBeNull();
  });

  it('offers Stop once the server named the message, and not while stopping', () => {
    let s = run(history, { type: 'send', localId: 'l1', content: 'q' });
    expect(stoppableMessageId(s)).toBeNull();
    s = run(s, { type: 'user', message: msg('u2', 'user', 'q'), messageId: 'u2' });
    expect(stoppableMessageId(s)).toBe('u2');
    s = run(s, { type: 'stopping', on: true });
    expect(stoppableMessageId(s)).toBeNull();
    s = run(s, { type: 'done', assistantMessage: msg('a2', 'assistant', 'Part', { status: 'stopped' }), emergency: null });
    expect(s.stopping).toBe(false);
    expect(s.pending).toBeNull();
    expect(s.messages.at(-1)?.metadata).toMatchObject({ status: 'stopped' });
  });
});
