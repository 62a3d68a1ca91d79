import { useCallback, useEffect, useReducer, useRef } from 'react';
import { api, isApiError, messageOf } from '../api';
import { listMessages, requestReply, streamMessage, type StreamOutcome } from '../api/chat';
import type { ChatMessage } from '../api/types';
import { chatReducer, failureText, initialChatState, type ChatState } from './chatState';

const PAGE = 30;

export type SendResult = { ok: true } | { ok: false; error: string };

let localSeq = 0;

/** A failure the server may have saved the user's message before (5xx, network, lost stream). */
function mayHaveSaved(e: unknown): boolean {
  return isApiError(e) && (e.status === 0 || e.status >= 500);
}

/**
 * The conversation with the assistant about one patient: history (newest page first, older on demand),
 * sending with a streamed reply, and retry of a reply that failed.
 */
export function useChat(patientId: string) {
  const [state, dispatch] = useReducer(chatReducer, initialChatState);
  const stateRef = useRef<ChatState>(state);
  stateRef.current = state;
  const streamAbort = useRef<AbortController | null>(null);

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
      streamAbort.current?.abort();
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

  const stream = useCallback(
    async (content: string): Promise<SendResult> => {
      const controller = new AbortController();
      streamAbort.current = controller;
      let outcome: StreamOutcome;
      try {
        outcome = await streamMessage(
          api,
          patientId,
          content,
          {
            onUser: (message) => dispatch({ type: 'user', message }),
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
        if (streamAbort.current === controller) streamAbort.current = null;
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
    [patientId, findSaved],
  );

  const send = useCallback(
    async (content: string): Promise<SendResult> => {
      if (stateRef.current.pending && stateRef.current.pending.status !== 'failed') {
        return { ok: false, error: 'Wait for the current reply first.' };
      }
      localSeq += 1;
      dispatch({ type: 'send', localId: `local-${localSeq}`, content });
      return stream(content);
    },
    [stream],
  );

  const retry = useCallback(async () => {
    const pending = stateRef.current.pending;
    if (!pending || pending.status !== 'failed') return;
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
    try {
      const reply = await requestReply(api, patientId, pending.userMessage.id);
      dispatch({
        type: 'done',
        assistantMessage: reply.assistantMessage,
        emergency: reply.emergency,
        userMessage: pending.userMessage,
      });
    } catch (e) {
      if (isApiError(e) && e.status === 409) {
        // Already answered (e.g. the server finished after the connection dropped): show what is saved.
        dispatch({ type: 'discard' });
        await loadLatest();
        return;
      }
      dispatch({ type: 'failed', error: failureText(isApiError(e) ? e.code : null, messageOf(e)) });
    }
  }, [patientId, stream, loadLatest]);

  const dismissEmergency = useCallback((id: string) => dispatch({ type: 'dismiss-emergency', id }), []);
  const discard = useCallback(() => dispatch({ type: 'discard' }), []);

  return { state, send, retry, loadOlder, reload: loadLatest, dismissEmergency, discard };
}
