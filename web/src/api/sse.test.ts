import { describe, expect, it } from 'vitest';
import { consumeChatStream } from './chat';
import { readSse, type SseEvent } from './sse';

const enc = new TextEncoder();

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++] as Uint8Array);
      else controller.close();
    },
  });
}

/** Splits `bytes` at the given offsets. */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(bytes.slice(start, cut));
    start = cut;
  }
  out.push(bytes.slice(start));
  return out;
}

async function collect(chunks: Uint8Array[]): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  await readSse(streamOf(chunks), (e) => events.push({ event: e.event, id: e.id, data: e.data }));
  return events;
}

// Multi-byte characters (2, 3 and 4 bytes in UTF-8), CRLF and LF line ends, a comment, a multi-line data field.
const WIRE =
  'event: user\r\ndata: {"id":"u1","content":"Zahnschmerz – ça fait mal 😬"}\r\n\r\n' +
  ': keep-alive\n\n' +
  'event: delta\ndata: {"text":"Rinse with warm salt water 🦷"}\n\n' +
  'event: delta\r\ndata: {"text":"歯"}\r\n\r\n' +
  'event: note\ndata: line one\ndata: line two\n\n' +
  'event: done\r\ndata: {"ok":true}\r\n\r\n';

const EXPECTED = [
  { event: 'user', data: '{"id":"u1","content":"Zahnschmerz – ça fait mal 😬"}' },
  { event: 'delta', data: '{"text":"Rinse with warm salt water 🦷"}' },
  { event: 'delta', data: '{"text":"歯"}' },
  { event: 'note', data: 'line one\nline two' },
  { event: 'done', data: '{"ok":true}' },
];

const strip = (events: SseEvent[]) => events.map(({ event, data }) => ({ event, data }));

describe('readSse', () => {
  const bytes = enc.encode(WIRE);

  it('reads a stream that arrives in one chunk', async () => {
    expect(strip(await collect([bytes]))).toEqual(EXPECTED);
  });

  it('reads a stream that arrives one byte at a time', async () => {
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
    expect(strip(await collect(chunks))).toEqual(EXPECTED);
  });

  it('gives the same events wherever the stream is split in two (inside UTF-8 sequences and CRLFs too)', async () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(strip(await collect(splitAt(bytes, [cut]))), `cut at byte ${cut}`).toEqual(EXPECTED);
    }
  });

  it('gives the same events for three-way splits around every multi-byte character and CR', async () => {
    // Offsets just inside every multi-byte sequence and right after every CR.
    const awkward: number[] = [];
    bytes.forEach((b, i) => {
      if (b >= 0x80 || b === 0x0d) awkward.push(i + 1);
    });
    for (const a of awkward) {
      for (let b = a + 1; b < Math.min(bytes.length, a + 8); b++) {
        expect(strip(await collect(splitAt(bytes, [a, b]))), `cuts ${a},${b}`).toEqual(EXPECTED);
      }
    }
  });

  it('joins a 4-byte emoji split across three chunks', async () => {
    const emoji = enc.encode('data: 😬\n\n');
    const start = 'data: '.length;
    const events = await collect(splitAt(emoji, [start + 1, start + 3]));
    expect(events.map((e) => e.data)).toEqual(['😬']);
  });

  it('treats a CR at the end of one chunk and LF at the start of the next as one line end', async () => {
    const events = await collect([enc.encode('event: delta\r'), enc.encode('\ndata: x\r'), enc.encode('\n\r\n')]);
    expect(strip(events)).toEqual([{ event: 'delta', data: 'x' }]);
  });

  it('drops an event the stream did not finish (no blank line at the end)', async () => {
    const events = await collect([enc.encode('event: delta\ndata: {"text":"a"}\n\nevent: done\ndata: {"trunc')]);
    expect(strip(events)).toEqual([{ event: 'delta', data: '{"text":"a"}' }]);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode('event: delta\ndata: {"text":"a"}\n\n'));
        // Never closes: only the abort ends the read.
      },
    });
    const seen: string[] = [];
    const reading = readSse(body, (e) => {
      seen.push(e.data);
      controller.abort();
    }, controller.signal);
    await expect(reading).rejects.toBeDefined();
    expect(seen).toEqual(['{"text":"a"}']);
  });
});

const msg = (id: string, role: 'user' | 'assistant', content: string) =>
  ({ id, role, content, metadata: {}, createdAt: '2024-06-15T10:00:00Z' });

function sse(events: Array<[string, unknown]>): string {
  return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join('');
}

describe('consumeChatStream', () => {
  it('reports the user message, each delta in order and the done event', async () => {
    const wire = sse([
      ['user', msg('u1', 'user', 'My tooth got knocked out')],
      ['delta', { text: 'Find the tooth, ' }],
      ['delta', { text: 'hold it by the crown ✋' }],
      [
        'done',
        {
          assistantMessage: msg('a1', 'assistant', 'Find the tooth, hold it by the crown ✋'),
          emergency: { detected: true, category: 'knocked_out_tooth', severity: 'emergency' },
        },
      ],
    ]);
    const bytes = enc.encode(wire);
    for (const cut of [1, 17, 60, bytes.length - 3]) {
      const deltas: string[] = [];
      const users: string[] = [];
      const outcome = await consumeChatStream(streamOf(splitAt(bytes, [cut])), {
        onUser: (m) => users.push(m.id),
        onDelta: (t) => deltas.push(t),
      });
      expect(users).toEqual(['u1']);
      expect(deltas.join('')).toBe('Find the tooth, hold it by the crown ✋');
      expect(outcome).toMatchObject({
        kind: 'done',
        userMessage: { id: 'u1' },
        assistantMessage: { id: 'a1' },
        emergency: { detected: true, severity: 'emergency' },
      });
    }
  });

  it('turns an error event into an error outcome that keeps the saved user message', async () => {
    const wire = sse([
      ['user', msg('u1', 'user', 'hello')],
      ['delta', { text: 'Hal' }],
      ['error', { code: 'ai_unavailable', detail: 'The assistant is unavailable.' }],
    ]);
    const outcome = await consumeChatStream(streamOf([enc.encode(wire)]));
    expect(outcome).toEqual({
      kind: 'error',
      userMessage: expect.objectContaining({ id: 'u1' }),
      code: 'ai_unavailable',
      detail: 'The assistant is unavailable.',
    });
  });

  it('treats a stream that ends without done or error as interrupted', async () => {
    const wire = sse([
      ['user', msg('u1', 'user', 'hello')],
      ['delta', { text: 'Hal' }],
    ]);
    const outcome = await consumeChatStream(streamOf([enc.encode(wire)]));
    expect(outcome).toMatchObject({ kind: 'error', code: 'stream_interrupted', userMessage: { id: 'u1' } });
  });

  it('skips events whose data is not JSON and ignores anything after the final event', async () => {
    const wire =
      'event: delta\ndata: not json\n\n' +
      sse([
        ['delta', { text: 'ok' }],
        ['done', { assistantMessage: msg('a1', 'assistant', 'ok'), emergency: null }],
        ['delta', { text: 'late' }],
      ]);
    const deltas: string[] = [];
    const outcome = await consumeChatStream(streamOf([enc.encode(wire)]), { onDelta: (t) => deltas.push(t) });
    expect(deltas).toEqual(['ok']);
    expect(outcome).toMatchObject({ kind: 'done', emergency: null, userMessage: null });
  });
});
