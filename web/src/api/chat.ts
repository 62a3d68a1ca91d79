import type { ApiClient } from './client';
import { ApiError, errorFromResponse } from './errors';
import { readSse } from './sse';
import { StreamCursor, parseEventId } from '../chat/resume';
import type { ChatMessage, MessagePage, ReplyResponse, StreamDelta, StreamDone, StreamError, Triage } from './types';

export interface StreamHandlers {
  /** The server saved the user's message (`user` event); `messageId` is the id to reattach to and to stop. */
  onUser?: (message: ChatMessage, messageId: string) => void;
  /** A piece of the reply (`delta` event). */
  onDelta?: (text: string) => void;
}

export type StreamOutcome =
  | { kind: 'done'; userMessage: ChatMessage | null; assistantMessage: ChatMessage; emergency: Triage | null }
  | { kind: 'error'; userMessage: ChatMessage | null; code: string; detail: string };

function parseJson(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/**
 * Consumes the public chat stream: `user`, `delta`* then exactly one of `done` / `error`.
 * A stream that ends without `done` or `error` (connection lost) becomes an `error` outcome with code
 * `stream_interrupted`; events with unreadable data are skipped. With a `cursor`, events it has already applied
 * (a reattach that replays) are skipped and it records the last event id for the next reattach.
 */
export async function consumeChatStream(
  body: ReadableStream<Uint8Array>,
  handlers: StreamHandlers = {},
  signal?: AbortSignal,
  cursor: StreamCursor = new StreamCursor(),
): Promise<StreamOutcome> {
  let userMessage: ChatMessage | null = null;
  let outcome: StreamOutcome | null = null;
  await readSse(
    body,
    (event) => {
      if (outcome) return;
      const data = parseJson(event.data);
      if (!isObject(data)) return;
      if (!cursor.accept(event.id)) return;
      switch (event.event) {
        case 'user': {
          userMessage = data as unknown as ChatMessage;
          const named = typeof data.messageId === 'string' ? data.messageId : userMessage.id;
          cursor.adopt(parseEventId(event.id)?.messageId ?? named);
          handlers.onUser?.(userMessage, cursor.messageId ?? named);
          break;
        }
        case 'delta': {
          const text = (data as Partial<StreamDelta>).text;
          if (typeof text === 'string') handlers.onDelta?.(text);
          break;
        }
        case 'done': {
          const done = data as unknown as StreamDone;
          if (!isObject(done.assistantMessage)) return;
          outcome = { kind: 'done', userMessage, assistantMessage: done.assistantMessage, emergency: done.emergency ?? null };
          break;
        }
        case 'error': {
          const err = data as Partial<StreamError>;
          outcome = {
            kind: 'error',
            userMessage,
            code: typeof err.code === 'string' ? err.code : 'stream_error',
            detail: typeof err.detail === 'string' ? err.detail : 'The assistant could not answer.',
          };
          break;
        }
        default:
          break;
      }
    },
    signal,
  );
  return (
    outcome ?? {
      kind: 'error',
      userMessage,
      code: 'stream_interrupted',
      detail: 'The connection was lost before the reply was complete.',
    }
  );
}

/** `POST /patients/{id}/messages/stream`; throws {@link ApiError} when the server refuses before streaming. */
export async function streamMessage(
  client: ApiClient,
  patientId: string,
  content: string,
  handlers: StreamHandlers = {},
  signal?: AbortSignal,
  cursor: StreamCursor = new StreamCursor(),
): Promise<StreamOutcome> {
  const init: RequestInit = {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify({ content }),
  };
  if (signal) init.signal = signal;
  const res = await client.fetch(`/patients/${encodeURIComponent(patientId)}/messages/stream`, init);
  if (!res.ok) throw await errorFromResponse(res);
  if (!res.body) throw new ApiError(res.status, null, 'The server sent an empty stream.');
  return consumeChatStream(res.body, handlers, signal, cursor);
}

/**
 * `GET /patients/{id}/messages/{messageId}/stream`: the reply being generated for a saved user message, from the
 * start (after a reload) or after `cursor.lastEventId` (a dropped connection). A finished reply gives its `done`
 * at once. Throws {@link ApiError}: 404 when no reply is being generated (or the api cannot reattach yet).
 */
export async function reattachStream(
  client: ApiClient,
  patientId: string,
  cursor: StreamCursor,
  handlers: StreamHandlers = {},
  signal?: AbortSignal,
): Promise<StreamOutcome> {
  if (!cursor.messageId) throw new ApiError(0, null, 'No message to reattach to.');
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (cursor.lastEventId) headers['Last-Event-ID'] = cursor.lastEventId;
  const init: RequestInit = { method: 'GET', headers, cache: 'no-store' };
  if (signal) init.signal = signal;
  const path = `/patients/${encodeURIComponent(patientId)}/messages/${encodeURIComponent(cursor.messageId)}/stream`;
  const res = await client.fetch(path, init);
  if (!res.ok) throw await errorFromResponse(res);
  if (!res.body) throw new ApiError(res.status, null, 'The server sent an empty stream.');
  return consumeChatStream(res.body, handlers, signal, cursor);
}

/** `POST .../messages/{messageId}/stop` (202): the model call is cancelled and the open streams end with `done`. */
export async function stopReply(client: ApiClient, patientId: string, messageId: string): Promise<void> {
  await client.request<void>(
    'POST',
    `/patients/${encodeURIComponent(patientId)}/messages/${encodeURIComponent(messageId)}/stop`,
    {},
  );
}

/** `stopped` or `failed` for a reply that did not run to its end (`metadata.status`), else null. */
export function replyStatus(message: ChatMessage): 'stopped' | 'failed' | null {
  const meta = message.metadata;
  if (message.role !== 'assistant' || !isObject(meta)) return null;
  return meta.status === 'stopped' || meta.status === 'failed' ? meta.status : null;
}

export function listMessages(
  client: ApiClient,
  patientId: string,
  options: { before?: string | null; limit?: number } = {},
  signal?: AbortSignal,
): Promise<MessagePage> {
  const params = new URLSearchParams({ limit: String(options.limit ?? 30) });
  if (options.before) params.set('before', options.before);
  return client.request<MessagePage>(
    'GET',
    `/patients/${encodeURIComponent(patientId)}/messages?${params}`,
    undefined,
    { signal },
  );
}

/** Asks again for the reply to a user message that has none (after a failed stream). 409: it already has one. */
export function requestReply(client: ApiClient, patientId: string, messageId: string): Promise<ReplyResponse> {
  return client.request<ReplyResponse>(
    'POST',
    `/patients/${encodeURIComponent(patientId)}/messages/${encodeURIComponent(messageId)}/reply`,
    {},
  );
}

/** The triage result of an assistant message, from its metadata. */
export function emergencyOf(message: ChatMessage): Triage | null {
  const meta = message.metadata;
  if (message.role !== 'assistant' || !isObject(meta)) return null;
  const e = meta.emergency;
  if (isObject(e) && e.detected === true) return e as unknown as Triage;
  return null;
}
