import { useCallback, useEffect, useMemo, useReducer, useRef } from 'react';
import { api, isApiError, messageOf } from '../api';
import { listMessages, requestReply, streamMessage, type StreamHandlers, type StreamOutcome } from '../api/chat';
import type { ChatMessage } from '../api/types';
import { chatReducer, failureText, initialChatState, unansweredTail, type ChatState } from './chatState';
import { browserStorage, dismissalStore } from './emergency';

const PAGE = 30;

export type SendResult = { ok: true } | { ok: false; error: string };

let localSeq = 0;

/** A failure the server may have saved the user's message before (5xx, network, lost stream). */
function mayHaveSaved(e: unknown): boolean {
  return isApiError(e) && (e.status === 0 || e.status >= 500);
}

/**
 * A reply being read from a stream. One at a time; `stop()` and reattaching to a reply already being generated
 * (`GET .../messages/{id}/stream`, `POST .../stop`, coming with the stream endpoints) act on this.
 */
interface ActiveStream {
  controller: AbortController;
  /** The saved user message the reply answers, once the `user` event named it. */
  messageId: string | null;
}

/** How a reply is read: today only `POST .../messages/stream`; a reattach opens the same events for a message id. */
type OpenStream = (handlers: StreamHandlers, signal: AbortSignal) => Promise<StreamOutcome>;

/**
 * The conversation with the assistant about one patient: history (newest page first, older on demand),
 * sending with a streamed reply, retry of a reply that failed or never came (also after a reload), and the
 * emergency dismissals of `userId`.
 */
export function useChat(patientId: string, userId: string) {
  const [state, dispatch] = useReducer(chatReducer, initialChatState);
  const stateRef = useRef<ChatState>(state);
  stateRef.current = state;
  const active = useRef<ActiveStream | null>(null);
  const dismissals = useMemo(() => dismissalStore(browserStorage(), userId), [userId]);

  useEffect(() => {
    dispatch({ type: 'dismissed/loaded', ids: dismissals.load() });
  }, [dismissals]);

  const loadLatest = useCallback(
    async (signal?: AbortSignal) => {
      dispatch({ type: 'history/loading', older: false });
      try {
        const page = await listMessages(api, patientId, { limit: PAGE }, signal);
        dispatch({ type: 'history/loaded', page, older: false });
      } catch (e) {
        if (signal?.aborted) return;
        dispatch({ type: 'history/failed', error: messageOf(e) });
      }
    },
    [patientId],
  );

  useEffect(() => {
    const controller = new AbortController();
    void loadLatest(controller.signal);
    return () => {
      controller.abort();
      // Leaving the page stops reading; the server still saves the reply.
      active.current?.controller.abort();
    };
  }, [loadLatest]);

  const loadOlder = useCallback(async () => {
    const s = stateRef.current;
    if (!s.nextBefore || s.history === 'loading-older' || s.history === 'loading') return;
    dispatch({ type: 'history/loading', older: true });
    try {
      const page = await listMessages(api, patientId, { limit: PAGE, before: s.nextBefore });
      dispatch({ type: 'history/loaded', page, older: true });
    } catch (e) {
      dispatch({ type: 'history/failed', error: messageOf(e) });
    }
  }, [patientId]);

  /** After a failure without a `user` event: was the message saved anyway? Then a retry asks only for the reply. */
  const findSaved = useCallback(
    async (content: string): Promise<ChatMessage | null> => {
      try {
        const page = await listMessages(api, patientId, { limit: 5 });
        const last = page.items[page.items.length - 1];
        if (last && last.role === 'user' && last.content.trim() === content.trim()) return last;
      } catch {
        // Unknown: a retry sends the message again.
      }
      return null;
    },
    [patientId],
  );

  /** Reads one reply stream into the state; every way of reading a reply (send, later reattach) goes through here. */
  const follow = useCallback(
    async (open: OpenStream, content: string): Promise<SendResult> => {
      const controller = new AbortController();
      const current: ActiveStream = { controller, messageId: null };
      active.current = current;
      let outcome: StreamOutcome;
      try {
        outcome = await open(
          {
            onUser: (message) => {
              current.messageId = message.id;
              dispatch({ type: 'user', message });
            },
            onDelta: (text) => dispatch({ type: 'delta', text }),
          },
          controller.signal,
        );
      } catch (e) {
        if (controller.signal.aborted) return { ok: true };
        if (mayHaveSaved(e)) {
          const saved = await findSaved(content);
          const code = isApiError(e) ? e.code : null;
          dispatch({ type: 'failed', error: failureText(code, messageOf(e)), userMessage: saved });
          return { ok: true };
        }
        // Refused before saving (validation, rate limit, not found): give the text back to the composer.
        dispatch({ type: 'discard' });
        return { ok: false, error: messageOf(e) };
      } finally {
        if (active.current === current) active.current = null;
      }
      if (outcome.kind === 'done') {
        dispatch({
          type: 'done',
          assistantMessage: outcome.assistantMessage,
          emergency: outcome.emergency,
          userMessage: outcome.userMessage,
        });
      } else {
        const saved = outcome.userMessage ?? (await findSaved(content));
        dispatch({ type: 'failed', error: failureText(outcome.code, outcome.detail), userMessage: saved });
      }
      return { ok: true };
    },
    [findSaved],
  );

  const stream = useCallback(
    (content: string) =>
      follow((handlers, signal) => streamMessage(api, patientId, content, handlers, signal), content),
    [follow, patientId],
  );

  const send = useCallback(
    async (content: string): Promise<SendResult> => {
      const s = stateRef.current;
      if ((s.pending && s.pending.status !== 'failed') || s.reply?.status === 'retrying') {
        return { ok: false, error: 'Wait for the current reply first.' };
      }
      localSeq += 1;
      dispatch({ type: 'send', localId: `local-${localSeq}`, content });
      return stream(content);
    },
    [stream],
  );

  /** Asks for the reply to a saved user message that has none (`POST .../reply`); 409: answered meanwhile. */
  const answer = useCallback(
    async (message: ChatMessage, onError: (error: string) => void, onDone: (r: Awaited<ReturnType<typeof requestReply>>) => void) => {
      try {
        onDone(await requestReply(api, patientId, message.id));
      } catch (e) {
        if (isApiError(e) && e.status === 409) {
          // Already answered (the server finished after the connection dropped, or another tab): show what is saved.
          dispatch({ type: 'discard' });
          dispatch({ type: 'reply/clear' });
          await loadLatest();
          return;
        }
        onError(failureText(isApiError(e) ? e.code : null, messageOf(e)));
      }
    },
    [patientId, loadLatest],
  );

  /**
   * Retry: the failed message just sent (sent again if it was never saved), else the newest message of the
   * history that has no reply (after a reload, or one another tab left unanswered).
   */
  const retry = useCallback(async () => {
    const s = stateRef.current;
    const pending = s.pending;
    if (pending?.status === 'failed') {
      dispatch({ type: 'retrying' });
      if (!pending.userMessage) {
        const result = await stream(pending.content);
        if (!result.ok) {
          // Refused outright this time: keep the message on screen with the reason.
          dispatch({ type: 'send', localId: pending.localId, content: pending.content });
          dispatch({ type: 'failed', error: result.error });
        }
        return;
      }
      const userMessage = pending.userMessage;
      await answer(
        userMessage,
        (error) => dispatch({ type: 'failed', error }),
        (reply) =>
          dispatch({ type: 'done', assistantMessage: reply.assistantMessage, emergency: reply.emergency, userMessage }),
      );
      return;
    }
    if (pending || s.reply?.status === 'retrying') return;
    const tail = unansweredTail(s.messages);
    const newest = tail[tail.length - 1];
    if (!newest) return;
    dispatch({ type: 'reply/start', messageId: newest.id });
    await answer(
      newest,
      (error) => dispatch({ type: 'reply/failed', error }),
      (reply) => dispatch({ type: 'reply/done', assistantMessage: reply.assistantMessage, emergency: reply.emergency }),
    );
  }, [stream, answer]);

  const dismissEmergency = useCallback(
    (id: string) => {
      dismissals.add(id);
      dispatch({ type: 'dismiss-emergency', id });
    },
    [dismissals],
  );
  const discard = useCallback(() => dispatch({ type: 'discard' }), []);

  return {
    state,
    send,
    retry,
    loadOlder,
    reload: loadLatest,
    dismissEmergency,
    discard,
    /**
     * Stopping a reply needs `POST .../messages/{id}/stop` (not in this api yet): then this aborts `active`
     * after asking the server, and the stream ends with a `done` whose reply has `metadata.status = "stopped"`.
     */
    stop: null as null | (() => Promise<void>),
  };
}
