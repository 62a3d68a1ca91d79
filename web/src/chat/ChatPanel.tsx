import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import { emergencyOf, replyStatus } from '../api/chat';
import type { ChatMessage, Triage } from '../api/types';
import { useUser } from '../auth/AuthContext';
import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { formatDateTime, formatTime } from '../lib/format';
import { useCoarsePointer } from '../lib/hooks';
import { charCount, MESSAGE_MAX, validateMessage } from '../lib/rules';
import { activeEmergency, stoppableMessageId, unansweredTail, type PendingTurn } from './chatState';
import { announcementText, emergencyAdvice, shouldAnnounce } from './emergency';
import { composerHint, enterAction } from './keys';
import { useChat } from './useChat';

const TOP_THRESHOLD_PX = 48;
const BOTTOM_THRESHOLD_PX = 80;

const messageDomId = (id: string) => `msg-${id}`;

/**
 * What staff do now: severity, the problem in plain words, emergency services or a same-day appointment. The
 * first aid itself is the assistant's reply in the conversation (not repeated here); "Show the first aid" goes
 * to it. Not a live region: the announcement of a new emergency is made once, by the panel.
 */
function EmergencyBanner({
  message,
  triage,
  onShow,
  onDismiss,
}: {
  message: ChatMessage;
  triage: Triage;
  onShow: () => void;
  onDismiss: () => void;
}) {
  const advice = emergencyAdvice(triage);
  const titleId = `emergency-${message.id}`;
  return (
    <section
      className={`emergency-banner severity-${triage.severity === 'emergency' ? 'emergency' : 'urgent'}`}
      aria-labelledby={titleId}
    >
      <div className="emergency-icon" aria-hidden="true">
        !
      </div>
      <div className="emergency-content">
        <h3 id={titleId}>
          {advice.title}
          {advice.what && <span className="emergency-what">: {advice.what}</span>}
        </h3>
        <p className="emergency-action">{advice.action}</p>
        <p className="emergency-then">
          {advice.then}{' '}
          <button type="button" className="btn-link btn-inline" onClick={onShow}>
            Show the first aid
          </button>
        </p>
        <p className="emergency-meta">
          {advice.source} <time dateTime={message.createdAt}>{formatDateTime(message.createdAt)}</time>
        </p>
      </div>
      <button type="button" className="btn btn-small btn-on-danger" onClick={onDismiss} aria-label="Dismiss this alert">
        Dismiss
      </button>
    </section>
  );
}

type Unanswered = 'no' | 'yes' | 'retrying' | 'following';

function MessageItem({ message, unanswered }: { message: ChatMessage; unanswered: Unanswered }) {
  const emergency = emergencyOf(message);
  const status = replyStatus(message);
  const mine = message.role === 'user';
  return (
    <li
      id={messageDomId(message.id)}
      tabIndex={-1}
      className={`msg ${mine ? 'msg-user' : 'msg-assistant'}${emergency ? ' msg-emergency' : ''}${unanswered === 'yes' ? ' msg-failed' : ''}`}
      data-id={message.id}
    >
      <div className="msg-meta">
        <span className="msg-author">{mine ? 'You' : 'Assistant'}</span>
        {!mine && <span className="msg-relay">To tell the patient</span>}
        <time dateTime={message.createdAt} title={formatDateTime(message.createdAt)}>
          {formatTime(message.createdAt)}
        </time>
        {emergency && <span className="badge badge-danger">{emergency.severity === 'emergency' ? 'Emergency' : 'Urgent'}</span>}
        {unanswered === 'yes' && <span className="badge badge-warning">Not answered</span>}
        {unanswered === 'retrying' && <span className="muted">Asking again…</span>}
        {status === 'stopped' && <span className="badge badge-warning">Stopped</span>}
        {status === 'failed' && <span className="badge badge-warning">Incomplete</span>}
      </div>
      <div className="msg-body">{message.content}</div>
      {status && (
        <p className="msg-note">
          {status === 'stopped'
            ? 'Stopped before the end: this reply is incomplete.'
            : 'The assistant could not finish this reply: it is incomplete.'}
        </p>
      )}
    </li>
  );
}

function ThinkingItem({ text, status }: { text: string; status?: string }) {
  return (
    <li className="msg msg-assistant msg-streaming" aria-busy="true">
      <div className="msg-meta">
        <span className="msg-author">Assistant</span>
        <span className="msg-relay">To tell the patient</span>
        <span className="muted">{status ?? (text ? 'Writing…' : 'Thinking…')}</span>
      </div>
      <div className="msg-body">
        {text}
        <span className="cursor" aria-hidden="true" />
      </div>
    </li>
  );
}

function PendingItems({ pending, stopping }: { pending: PendingTurn; stopping: boolean }) {
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
      {streaming && <ThinkingItem text={pending.text} status={stopping ? 'Stopping…' : undefined} />}
    </>
  );
}

/** The assistant conversation about one patient. */
export function ChatPanel({ patientId }: { patientId: string }) {
  const user = useUser();
  const { state, send, retry, loadOlder, reload, dismissEmergency, stop } = useChat(patientId, user.id);
  const touch = useCoarsePointer();
  const [draft, setDraft] = useState('');
  const [composerError, setComposerError] = useState<string | null>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const stickToBottom = useRef(true);
  const [atBottom, setAtBottom] = useState(true);
  const [unseen, setUnseen] = useState(false);
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const busy = (!!state.pending && state.pending.status !== 'failed') || (!!state.reply && state.reply.status !== 'failed');
  const stoppable = stoppableMessageId(state) !== null;
  const following = state.reply?.status === 'attaching' || state.reply?.status === 'streaming';
  const emergency = activeEmergency(state);
  const announcement = emergency && shouldAnnounce(emergency, state.fresh) ? announcementText(emergency.triage) : '';
  const tail = state.history === 'idle' ? unansweredTail(state.messages) : [];
  const newestUnanswered = tail[tail.length - 1];
  const tailIds = new Set(tail.map((m) => m.id));

  const requestOlder = () => {
    const el = scrollRef.current;
    if (el) anchor.current = { height: el.scrollHeight, top: el.scrollTop };
    void loadOlder();
  };

  const scrollToNewest = () => {
    const el = scrollRef.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    stickToBottom.current = true;
    setAtBottom(true);
    setUnseen(false);
  };

  // Keep the view where it was when older messages are added above; follow new messages (and a reply as it
  // streams) while the user is at the bottom; otherwise note that there is something new below.
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    if (anchor.current && state.history !== 'loading-older') {
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
      return;
    }
    if (stickToBottom.current) el.scrollTop = el.scrollHeight;
    else if (state.history === 'idle') setUnseen(true);
  }, [state.messages, state.pending, state.history, state.reply]);

  const stopRef = useRef<HTMLButtonElement>(null);
  const onStop = async () => {
    setComposerError(null);
    const problem = await stop();
    if (problem) setComposerError(problem);
  };

  // The panel changes height (the banner comes or goes, the phone's keyboard opens): stay at the newest.
  useEffect(() => {
    const el = scrollRef.current;
    if (!el || typeof ResizeObserver === 'undefined') return undefined;
    const observer = new ResizeObserver(() => {
      if (stickToBottom.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_THRESHOLD_PX;
    stickToBottom.current = bottom;
    setAtBottom(bottom);
    if (bottom) setUnseen(false);
    if (el.scrollTop < TOP_THRESHOLD_PX && state.nextBefore && state.history === 'idle') requestOlder();
  };

  const jumpToNewest = () => {
    scrollToNewest();
    scrollRef.current?.focus({ preventScroll: true });
  };

  const showFirstAid = (id: string) => {
    const item = document.getElementById(messageDomId(id));
    if (!item) return;
    item.scrollIntoView({ block: 'start' });
    item.focus({ preventScroll: true });
    onScroll();
  };

  // When a reply has finished, put the cursor back in the message box for the next question (not on touch
  // screens, where that would pop the keyboard up over the answer).
  const wasBusy = useRef(false);
  useEffect(() => {
    if (wasBusy.current && !busy && state.pending?.status !== 'failed' && !touch) {
      inputRef.current?.focus({ preventScroll: true });
    }
    wasBusy.current = busy;
  }, [busy, state.pending?.status, touch]);

  const submit = async () => {
    const problem = validateMessage(draft);
    setComposerError(problem);
    if (problem || busy) return;
    const content = draft.trim();
    setDraft('');
    stickToBottom.current = true;
    setAtBottom(true);
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
    const action = enterAction({ ...e, isComposing: e.nativeEvent.isComposing }, touch);
    if (action === 'send') {
      e.preventDefault();
      void submit();
    }
  };

  const onRetry = () => {
    stickToBottom.current = true;
    void retry();
  };

  const count = charCount(draft.trim());
  const unansweredState = (m: ChatMessage): Unanswered => {
    if (!tailIds.has(m.id)) return 'no';
    if (state.reply?.status === 'retrying') return 'retrying';
    if (following) return 'following';
    return 'yes';
  };

  let notice: ReactNode = null;
  if (state.pending?.status === 'failed') {
    notice = (
      <div className="chat-failure" role="alert">
        <p>{state.pending.error}</p>
        <button type="button" className="btn btn-primary btn-small" onClick={onRetry}>
          Retry
        </button>
      </div>
    );
  } else if (state.reply?.status === 'failed') {
    notice = (
      <div className="chat-failure" role="alert">
        <p>{state.reply.error}</p>
        <button type="button" className="btn btn-primary btn-small" onClick={onRetry}>
          Retry
        </button>
      </div>
    );
  } else if (newestUnanswered && !state.pending && !state.reply && state.history === 'idle') {
    notice = (
      <div className="chat-failure chat-unanswered">
        <p>
          {tail.length === 1
            ? 'The assistant has not answered the last message.'
            : `The assistant has not answered the last ${tail.length} messages.`}
        </p>
        <button type="button" className="btn btn-primary btn-small" onClick={onRetry}>
          Retry
        </button>
      </div>
    );
  }

  return (
    <section className="chat card" aria-labelledby="chat-title">
      <div className="chat-header">
        <h2 id="chat-title">Assistant</h2>
        <p className="muted small">
          Replies are written for the patient: read them out or pass them on. Guidance, not a diagnosis.
        </p>
      </div>

      {/* Announces an emergency that arrives while the screen is open; empty otherwise (old ones stay quiet). */}
      <div className="visually-hidden" aria-live="assertive" aria-atomic="true">
        {/* Keyed by message, so a second emergency with the same words is a new node and is announced too. */}
        {announcement && emergency && <span key={emergency.message.id}>{announcement}</span>}
      </div>

      {emergency && (
        <EmergencyBanner
          message={emergency.message}
          triage={emergency.triage}
          onShow={() => showFirstAid(emergency.message.id)}
          onDismiss={() => dismissEmergency(emergency.message.id)}
        />
      )}

      <div className="chat-body">
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
              <MessageItem key={m.id} message={m} unanswered={unansweredState(m)} />
            ))}
            {state.reply?.status === 'retrying' && <ThinkingItem text="" />}
            {following && state.reply && (
              <ThinkingItem
                text={state.reply.text}
                status={
                  state.stopping
                    ? 'Stopping…'
                    : state.reply.status === 'attaching'
                      ? 'Checking for a reply in progress…'
                      : 'Writing… (resumed)'
                }
              />
            )}
            {state.pending && <PendingItems pending={state.pending} stopping={state.stopping} />}
          </ol>
        </div>
        {!atBottom && (
          <button type="button" className="btn btn-secondary btn-small jump-newest" onClick={jumpToNewest}>
            {unseen ? 'New reply below: jump to newest' : 'Jump to newest'}
            <span aria-hidden="true"> ↓</span>
          </button>
        )}
      </div>

      {notice}

      <form className="composer" onSubmit={onSubmit} noValidate>
        <label htmlFor="chat-input">Message</label>
        <p id="chat-input-hint" className="field-hint">
          {composerHint(touch)}
        </p>
        <div className="composer-row">
          <textarea
            id="chat-input"
            ref={inputRef}
            rows={2}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={onKeyDown}
            enterKeyHint={touch ? 'enter' : 'send'}
            aria-describedby={`chat-input-hint${composerError ? ' chat-input-error' : ''}`}
            aria-invalid={composerError ? true : undefined}
            placeholder="Describe the symptoms or ask a question"
          />
          {stoppable || state.stopping ? (
            <button
              ref={stopRef}
              type="button"
              className="btn btn-secondary btn-stop"
              onClick={() => void onStop()}
              disabled={state.stopping}
            >
              {state.stopping ? 'Stopping…' : 'Stop'}
              <span className="visually-hidden"> the reply</span>
            </button>
          ) : (
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? 'Sending…' : 'Send'}
            </button>
          )}
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
