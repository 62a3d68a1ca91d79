import { useCallback, useEffect, useMemo, useReducer, useRef } from 'react';
import { api, isApiError, messageOf } from '../api';
import {
  listMessages,
  reattachStream,
  requestReply,
  stopReply,
  streamMessage,
  type StreamHandlers,
  type StreamOutcome,
} from '../api/chat';
import type { ChatMessage } from '../api/types';
import { chatReducer, failureText, initialChatState, stoppableMessageId, unansweredTail, type ChatState } from './chatState';
import { browserStorage, dismissalStore } from './emergency';
import { StreamCursor, reattachDelay } from './resume';

const PAGE = 30;

export type SendResult = { ok: true } | { ok: false; error: string };

let localSeq = 0;

/** A failure the server may have saved the user's message before (5xx, network, lost stream). */
function mayHaveSaved(e: unknown): boolean {
  return isApiError(e) && (e.status === 0 || e.status >= 500);
}

/** How long Stop waits for the stream to end with its `done` before it stops reading and reloads. */
const STOP_GRACE_MS = 15_000;

/**
 * A reply being read from a stream. One at a time; `stop()` acts on its message, and a dropped connection is
 * reattached from its cursor (`GET .../messages/{id}/stream` with `Last-Event-ID`).
 */
interface ActiveStream {
  controller: AbortController;
  /** The message the reply answers (once the `user` event named it) and the last event applied. */
  cursor: StreamCursor;
}

/** How a reply is read: `POST .../messages/stream` for a new message; reattaching opens the same events by id. */
type OpenStream = (handlers: StreamHandlers, signal: AbortSignal, cursor: StreamCursor) => Promise<StreamOutcome>;

/** Whether a reattach answer means "nothing is being generated for that message" (or no such route yet). */
function nothingToFollow(e: unknown): boolean {
  return isApiError(e) && [400, 403, 404, 405, 409, 410].includes(e.status);
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

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

  /**
   * A saved message without a reply in the history (after a reload, or another tab's): the server may still be
   * generating it. Follow it there (`GET .../messages/{id}/stream`, replaying the reply so far); when nothing is
   * being generated the message stays "Not answered" with Retry.
   */
  const attach = useCallback(
    async (messageId: string) => {
      if (active.current) return;
      const controller = new AbortController();
      const cursor = new StreamCursor(messageId);
      const current: ActiveStream = { controller, cursor };
      active.current = current;
      dispatch({ type: 'reply/attach', messageId });
      let outcome: StreamOutcome | null = null;
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            outcome = await reattachStream(api, patientId, cursor, { onDelta: (text) => dispatch({ type: 'reply/delta', text }) }, controller.signal);
          } catch (e) {
            if (controller.signal.aborted) return;
            // Nothing being generated, or an api that cannot reattach: the message keeps its Retry.
            if (nothingToFollow(e) || !cursor.lastEventId) {
              dispatch({ type: 'reply/none' });
              return;
            }
            outcome = { kind: 'error', userMessage: null, code: 'stream_interrupted', detail: messageOf(e) };
          }
          if (outcome.kind === 'done' || outcome.code !== 'stream_interrupted') break;
          const delay = reattachDelay(attempt);
          if (delay === null) break;
          await wait(delay, controller.signal);
          if (controller.signal.aborted) return;
        }
      } finally {
        if (active.current === current) active.current = null;
      }
      if (controller.signal.aborted || !outcome) return;
      if (outcome.kind === 'done') {
        dispatch({ type: 'reply/done', assistantMessage: outcome.assistantMessage, emergency: outcome.emergency });
      } else if (stateRef.current.reply?.status === 'attaching') {
        dispatch({ type: 'reply/none' });
      } else {
        dispatch({ type: 'reply/failed', error: failureText(outcome.code, outcome.detail) });
      }
    },
    [patientId],
  );

  const loadLatest = useCallback(
    async (signal?: AbortSignal) => {
      dispatch({ type: 'history/loading', older: false });
      try {
        const page = await listMessages(api, patientId, { limit: PAGE }, signal);
        dispatch({ type: 'history/loaded', page, older: false });
        const tail = unansweredTail(page.items);
        const newest = tail[tail.length - 1];
        const s = stateRef.current;
        if (newest && !signal?.aborted && !active.current && !s.pending && !s.reply) void attach(newest.id);
      } catch (e) {
        if (signal?.aborted) return;
        dispatch({ type: 'history/failed', error: messageOf(e) });
      }
    },
    [patientId, attach],
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

  /**
   * Reads one reply into the state. When the connection drops mid-reply after the server named the message, the
   * reply is reattached from the last event seen (a few tries), so a flaky network or a sleeping laptop does not
   * lose it.
   */
  const follow = useCallback(
    async (open: OpenStream, content: string): Promise<SendResult> => {
      const controller = new AbortController();
      const cursor = new StreamCursor();
      const current: ActiveStream = { controller, cursor };
      active.current = current;
      const handlers: StreamHandlers = {
        onUser: (message, messageId) => dispatch({ type: 'user', message, messageId }),
        onDelta: (text) => dispatch({ type: 'delta', text }),
      };
      let outcome: StreamOutcome;
      try {
        outcome = await open(handlers, controller.signal, cursor);
        for (let attempt = 0; outcome.kind === 'error' && outcome.code === 'stream_interrupted' && cursor.messageId; attempt++) {
          const delay = reattachDelay(attempt);
          if (delay === null) break;
          await wait(delay, controller.signal);
          if (controller.signal.aborted) return { ok: true };
          const userMessage = outcome.userMessage;
          try {
            const again = await reattachStream(api, patientId, cursor, handlers, controller.signal);
            outcome = { ...again, userMessage: again.userMessage ?? userMessage };
          } catch (e) {
            if (controller.signal.aborted) return { ok: true };
            if (nothingToFollow(e)) break;
          }
        }
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
    [findSaved, patientId],
  );

  const stream = useCallback(
    (content: string) =>
      follow((handlers, signal, cursor) => streamMessage(api, patientId, content, handlers, signal, cursor), content),
    [follow, patientId],
  );

  const send = useCallback(
    async (content: string): Promise<SendResult> => {
      const s = stateRef.current;
      if ((s.pending && s.pending.status !== 'failed') || (s.reply && s.reply.status !== 'failed')) {
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
    if (pending || (s.reply && s.reply.status !== 'failed')) return;
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

  /**
   * Stop: `POST .../messages/{id}/stop` (202) cancels the model call on the server; the open stream then ends with
   * its `done`, whose reply is the partial text marked `metadata.status = "stopped"`. Resolves to a message for
   * the user when the stop could not be asked for, else null.
   */
  const stop = useCallback(async (): Promise<string | null> => {
    const id = stoppableMessageId(stateRef.current);
    if (!id) return null;
    dispatch({ type: 'stopping', on: true });
    try {
      await stopReply(api, patientId, id);
    } catch (e) {
      dispatch({ type: 'stopping', on: false });
      // Finished meanwhile: the reply arrives as usual.
      if (isApiError(e) && e.status === 409) return null;
      if (isApiError(e) && (e.status === 404 || e.status === 405)) {
        return 'The reply could not be stopped (it may have just finished, or this server cannot stop replies yet).';
      }
      return messageOf(e);
    }
    const current = active.current;
    setTimeout(() => {
      // The stream should have ended with the stopped reply by now; stop reading and show what is saved.
      if (!current || active.current !== current) return;
      current.controller.abort();
      active.current = null;
      dispatch({ type: 'stopping', on: false });
      dispatch({ type: 'discard' });
      dispatch({ type: 'reply/clear' });
      void loadLatest();
    }, STOP_GRACE_MS);
    return null;
  }, [patientId, loadLatest]);

  return {
    state,
    send,
    retry,
    loadOlder,
    reload: loadLatest,
    dismissEmergency,
    discard,
    stop,
  };
}
