import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { emergencyOf } from '../api/chat';
import type { ChatMessage, Triage } from '../api/types';
import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { formatDateTime, formatTime } from '../lib/format';
import { charCount, MESSAGE_MAX, validateMessage } from '../lib/validation';
import { activeEmergency, type PendingTurn } from './chatState';
import { useChat } from './useChat';

const TOP_THRESHOLD_PX = 48;
const BOTTOM_THRESHOLD_PX = 80;

function EmergencyBanner({
  message,
  triage,
  onDismiss,
}: {
  message: ChatMessage;
  triage: Triage;
  onDismiss: () => void;
}) {
  const heading = triage.severity === 'emergency' ? 'Dental emergency' : 'Urgent dental problem';
  return (
    <div className="emergency-banner" role="alert" aria-labelledby={`emergency-${message.id}`}>
      <div className="emergency-icon" aria-hidden="true">
        !
      </div>
      <div className="emergency-content">
        <h3 id={`emergency-${message.id}`}>{heading}</h3>
        <p className="emergency-action">Contact the clinic now.</p>
        <div className="emergency-text">{message.content}</div>
        <p className="emergency-meta">
          <time dateTime={message.createdAt}>{formatDateTime(message.createdAt)}</time>
        </p>
      </div>
      <button type="button" className="btn btn-small btn-on-danger" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}

function MessageItem({ message }: { message: ChatMessage }) {
  const emergency = emergencyOf(message);
  const mine = message.role === 'user';
  return (
    <li className={`msg ${mine ? 'msg-user' : 'msg-assistant'}${emergency ? ' msg-emergency' : ''}`} data-id={message.id}>
      <div className="msg-meta">
        <span className="msg-author">{mine ? 'You' : 'Assistant'}</span>
        <time dateTime={message.createdAt} title={formatDateTime(message.createdAt)}>
          {formatTime(message.createdAt)}
        </time>
        {emergency && <span className="badge badge-danger">{emergency.severity === 'emergency' ? 'Emergency' : 'Urgent'}</span>}
      </div>
      <div className="msg-body">{message.content}</div>
    </li>
  );
}

function PendingItems({ pending }: { pending: PendingTurn }) {
  const streaming = pending.status === 'sending' || pending.status === 'streaming' || pending.status === 'retrying';
  return (
    <>
      <li className={`msg msg-user${pending.status === 'failed' ? ' msg-failed' : ''}`}>
        <div className="msg-meta">
          <span className="msg-author">You</span>
          {pending.status === 'sending' && <span className="muted">Sending…</span>}
          {pending.status === 'failed' && <span className="badge badge-warning">Not answered</span>}
        </div>
        <div className="msg-body">{pending.content}</div>
      </li>
      {streaming && (
        <li className="msg msg-assistant msg-streaming" aria-busy="true">
          <div className="msg-meta">
            <span className="msg-author">Assistant</span>
            <span className="muted">{pending.text ? 'Writing…' : 'Thinking…'}</span>
          </div>
          <div className="msg-body">
            {pending.text}
            <span className="cursor" aria-hidden="true" />
          </div>
        </li>
      )}
    </>
  );
}

/** The assistant conversation about one patient. */
export function ChatPanel({ patientId }: { patientId: string }) {
  const { state, send, retry, loadOlder, reload, dismissEmergency } = useChat(patientId);
  const [draft, setDraft] = useState('');
  const [composerError, setComposerError] = useState<string | null>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const stickToBottom = useRef(true);
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const busy = !!state.pending && state.pending.status !== 'failed';
  const emergency = activeEmergency(state);

  const requestOlder = () => {
    const el = scrollRef.current;
    if (el) anchor.current = { height: el.scrollHeight, top: el.scrollTop };
    void loadOlder();
  };

  // Keep the view where it was when older messages are added above; follow new messages when at the bottom.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    if (anchor.current && state.history !== 'loading-older') {
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
      return;
    }
    if (stickToBottom.current) el.scrollTop = el.scrollHeight;
  }, [state.messages, state.pending, state.history]);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_THRESHOLD_PX;
    if (el.scrollTop < TOP_THRESHOLD_PX && state.nextBefore && state.history === 'idle') requestOlder();
  };

  // When a reply has finished, put the cursor back in the message box for the next question.
  const wasBusy = useRef(false);
  useEffect(() => {
    if (wasBusy.current && !busy && state.pending?.status !== 'failed') inputRef.current?.focus({ preventScroll: true });
    wasBusy.current = busy;
  }, [busy, state.pending?.status]);

  const submit = async () => {
    const problem = validateMessage(draft);
    setComposerError(problem);
    if (problem || busy) return;
    const content = draft.trim();
    setDraft('');
    stickToBottom.current = true;
    const result = await send(content);
    if (!result.ok) {
      setDraft(content);
      setComposerError(result.error);
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void submit();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void submit();
    }
  };

  const count = charCount(draft.trim());

  return (
    <section className="chat card" aria-labelledby="chat-title">
      <div className="chat-header">
        <h2 id="chat-title">Assistant</h2>
        <p className="muted small">Answers are guidance for clinic staff, not a diagnosis.</p>
      </div>

      {emergency && (
        <EmergencyBanner
          message={emergency.message}
          triage={emergency.triage}
          onDismiss={() => dismissEmergency(emergency.message.id)}
        />
      )}

      <div
        className="chat-scroll"
        ref={scrollRef}
        onScroll={onScroll}
        tabIndex={0}
        role="log"
        aria-label="Conversation"
        aria-busy={state.history === 'loading'}
      >
        {state.nextBefore && (
          <div className="chat-older">
            <button
              type="button"
              className="btn btn-link"
              onClick={requestOlder}
              disabled={state.history === 'loading-older'}
            >
              {state.history === 'loading-older' ? 'Loading older messages…' : 'Load older messages'}
            </button>
          </div>
        )}
        {state.history === 'loading' && <Loading label="Loading conversation…" />}
        {state.history === 'error' && (
          <div className="chat-older">
            <Alert kind="error">{state.historyError}</Alert>
            <button type="button" className="btn btn-secondary btn-small" onClick={() => void reload()}>
              Try again
            </button>
          </div>
        )}
        {state.history !== 'loading' && state.messages.length === 0 && !state.pending && (
          <p className="chat-empty">No messages yet. Ask the assistant about this patient’s symptoms or care.</p>
        )}
        <ol className="chat-log">
          {state.messages.map((m) => (
            <MessageItem key={m.id} message={m} />
          ))}
          {state.pending && <PendingItems pending={state.pending} />}
        </ol>
      </div>

      {state.pending?.status === 'failed' && (
        <div className="chat-failure" role="alert">
          <p>{state.pending.error}</p>
          <button type="button" className="btn btn-primary btn-small" onClick={() => void retry()}>
            Retry
          </button>
        </div>
      )}

      <form className="composer" onSubmit={onSubmit} noValidate>
        <label htmlFor="chat-input">Message</label>
        <p id="chat-input-hint" className="field-hint">
          Enter sends, Shift+Enter adds a new line.
        </p>
        <div className="composer-row">
          <textarea
            id="chat-input"
            ref={inputRef}
            rows={2}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={onKeyDown}
            aria-describedby={`chat-input-hint${composerError ? ' chat-input-error' : ''}`}
            aria-invalid={composerError ? true : undefined}
            placeholder="Describe the symptoms or ask a question"
          />
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Sending…' : 'Send'}
          </button>
        </div>
        <div className="composer-foot">
          {composerError ? (
            <p id="chat-input-error" className="field-error">
              {composerError}
            </p>
          ) : (
            <span />
          )}
          <span className={`field-counter${count > MESSAGE_MAX ? ' over' : ''}`}>
            {count.toLocaleString('en')} / {MESSAGE_MAX.toLocaleString('en')}
          </span>
        </div>
      </form>
    </section>
  );
}
