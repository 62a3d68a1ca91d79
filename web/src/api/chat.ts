import type { ApiClient } from './client';
import { ApiError, errorFromResponse } from './errors';
import { readSse } from './sse';
import type { ChatMessage, MessagePage, ReplyResponse, StreamDelta, StreamDone, StreamError, Triage } from './types';

export interface StreamHandlers {
  /** The server saved the user's message (`user` event). */
  onUser?: (message: ChatMessage) => void;
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
 * `stream_interrupted`; events with unreadable data are skipped.
 */
export async function consumeChatStream(
  body: ReadableStream<Uint8Array>,
  handlers: StreamHandlers = {},
  signal?: AbortSignal,
): Promise<StreamOutcome> {
  let userMessage: ChatMessage | null = null;
  let outcome: StreamOutcome | null = null;
  await readSse(
    body,
    (event) => {
      if (outcome) return;
      const data = parseJson(event.data);
      if (!isObject(data)) return;
      switch (event.event) {
        case 'user':
          userMessage = data as unknown as ChatMessage;
          handlers.onUser?.(userMessage);
          break;
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
  return consumeChatStream(res.body, handlers, signal);
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
