import { createParser, type EventSourceMessage } from 'eventsource-parser';

export type SseEvent = EventSourceMessage;

/**
 * Reads a `text/event-stream` body to its end, calling `onEvent` for each complete event.
 *
 * Bytes are decoded with a streaming TextDecoder, so a multi-byte UTF-8 character split across two network
 * chunks is joined before parsing; eventsource-parser handles lines split anywhere and LF, CR and CRLF line ends
 * (also a CRLF whose CR and LF arrive in different chunks).
 * As the SSE specification says, an event the stream did not finish with a blank line is discarded at the end:
 * the caller sees a stream that ended without its final event and treats it as interrupted.
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: SseEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const parser = createParser({ onEvent });
  const decoder = new TextDecoder('utf-8');
  const reader = body.getReader();
  const abort = () => {
    reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener('abort', abort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value && value.byteLength > 0) parser.feed(decoder.decode(value, { stream: true }));
    }
    const rest = decoder.decode();
    if (rest) parser.feed(rest);
  } finally {
    signal?.removeEventListener('abort', abort);
    reader.releaseLock();
  }
  if (signal?.aborted) throw signal.reason ?? new DOMException('Aborted', 'AbortError');
}
