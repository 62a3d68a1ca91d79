/**
 * Bookkeeping for resumable reply streams (CONTRACT.md: every stream event has an `id:` line `<messageId>:<n>`,
 * `GET .../messages/{messageId}/stream` replays the reply so far, then continues live, and honours
 * `Last-Event-ID`). One cursor follows one reply across the connections that carry it: the first `POST` stream,
 * then each reattach. An event at or before the last one applied is a replay and is skipped, so a server that
 * replays from the start (or a `Last-Event-ID` that was not honoured) never doubles the text.
 */

export interface EventId {
  messageId: string;
  seq: number;
}

/** `"<messageId>:<n>"` -> its parts; anything else -> null. */
export function parseEventId(id: string | null | undefined): EventId | null {
  if (!id) return null;
  const at = id.lastIndexOf(':');
  if (at <= 0 || at === id.length - 1) return null;
  const seq = Number(id.slice(at + 1));
  if (!Number.isInteger(seq) || seq < 0) return null;
  return { messageId: id.slice(0, at), seq };
}

export class StreamCursor {
  /** The user message the reply answers (the id to reattach to and to stop). */
  messageId: string | null;
  /** The last applied event's id, sent as `Last-Event-ID` on a reattach. */
  lastEventId: string | null = null;
  private lastSeq = -1;

  constructor(messageId: string | null = null) {
    this.messageId = messageId;
  }

  /**
   * Whether to apply an event with this `id:`. Events without one (an api before resumable streams) are always
   * applied; an id of another message is ignored; a repeated or older sequence number is a replay.
   */
  accept(id: string | null | undefined): boolean {
    const parsed = parseEventId(id);
    if (!parsed) return true;
    if (this.messageId && parsed.messageId !== this.messageId) return false;
    if (parsed.seq <= this.lastSeq) return false;
    this.messageId ??= parsed.messageId;
    this.lastSeq = parsed.seq;
    this.lastEventId = id ?? null;
    return true;
  }

  /** The message named by the `user` event: from its `id:` line when there is one, else its data. */
  adopt(messageId: string): void {
    this.messageId ??= messageId;
  }
}

/** How long to wait before reattaching after the connection dropped mid-reply (attempt from 0); null: give up. */
export function reattachDelay(attempt: number): number | null {
  const delays = [300, 1_000, 3_000];
  return attempt < delays.length ? (delays[attempt] as number) : null;
}
