import { emergencyOf } from '../api/chat';
import type { ChatMessage, MessagePage, Triage } from '../api/types';

/** The message being sent: shown at once, kept visible when the reply fails so it can be retried. */
export interface PendingTurn {
  localId: string;
  content: string;
  /** The saved user message, once the server has sent it (`user` event) or it was found after a failure. */
  userMessage: ChatMessage | null;
  /** The id the stream names for reattaching and stopping (the saved user message's, from the `user` event). */
  messageId: string | null;
  /** The reply so far. */
  text: string;
  status: 'sending' | 'streaming' | 'failed' | 'retrying';
  error: string | null;
}

/**
 * The reply to a saved message that has none in the history (the unanswered tail, e.g. after a reload):
 * `attaching` while asking whether the server is still generating it, `streaming` while following it there
 * (`GET .../messages/{id}/stream`), `retrying` while asking for a new one (`POST .../reply`), `failed`.
 */
export interface ReplyRequest {
  messageId: string;
  status: 'attaching' | 'streaming' | 'retrying' | 'failed';
  error: string | null;
  /** The reply so far, while `streaming`. */
  text: string;
}

export interface ChatState {
  /** Saved messages, oldest first. */
  messages: ChatMessage[];
  nextBefore: string | null;
  history: 'loading' | 'loading-older' | 'idle' | 'error';
  historyError: string | null;
  pending: PendingTurn | null;
  reply: ReplyRequest | null;
  /** Emergency replies the user dismissed (remembered across visits, see emergency.ts). */
  dismissed: string[];
  /** Assistant replies that arrived while this screen was open: only these are announced. */
  fresh: string[];
  /** Stop was pressed and the server accepted it: the stream is about to end with the partial reply. */
  stopping: boolean;
}

export type ChatAction =
  | { type: 'history/loading'; older: boolean }
  | { type: 'history/loaded'; page: MessagePage; older: boolean }
  | { type: 'history/failed'; error: string }
  | { type: 'send'; localId: string; content: string }
  | { type: 'user'; message: ChatMessage; messageId?: string }
  | { type: 'delta'; text: string }
  | { type: 'done'; assistantMessage: ChatMessage; emergency: Triage | null; userMessage?: ChatMessage | null }
  | { type: 'failed'; error: string; userMessage?: ChatMessage | null }
  | { type: 'retrying' }
  | { type: 'discard' }
  | { type: 'reply/start'; messageId: string }
  | { type: 'reply/attach'; messageId: string }
  | { type: 'reply/delta'; text: string }
  | { type: 'reply/none' }
  | { type: 'stopping'; on: boolean }
  | { type: 'reply/done'; assistantMessage: ChatMessage; emergency: Triage | null }
  | { type: 'reply/failed'; error: string }
  | { type: 'reply/clear' }
  | { type: 'dismissed/loaded'; ids: string[] }
  | { type: 'dismiss-emergency'; id: string };

export const initialChatState: ChatState = {
  messages: [],
  nextBefore: null,
  history: 'loading',
  historyError: null,
  pending: null,
  reply: null,
  dismissed: [],
  fresh: [],
  stopping: false,
};

function addFresh(fresh: string[], id: string): string[] {
  return fresh.includes(id) ? fresh : [...fresh, id];
}

function appendUnique(list: ChatMessage[], add: ChatMessage[]): ChatMessage[] {
  const seen = new Set(list.map((m) => m.id));
  const fresh = add.filter((m) => !seen.has(m.id));
  return fresh.length ? [...list, ...fresh] : list;
}

/** The triage result travels in `done.emergency`; keep it on the message so history and live replies look alike. */
function withEmergency(message: ChatMessage, emergency: Triage | null): ChatMessage {
  if (!emergency || emergencyOf(message)) return message;
  const meta = message.metadata && typeof message.metadata === 'object' ? message.metadata : {};
  return { ...message, metadata: { ...meta, emergency } };
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'history/loading':
      return { ...state, history: action.older ? 'loading-older' : 'loading', historyError: null };
    case 'history/loaded': {
      const { items, nextBefore } = action.page;
      if (action.older) {
        const seen = new Set(state.messages.map((m) => m.id));
        const older = items.filter((m) => !seen.has(m.id));
        return { ...state, messages: [...older, ...state.messages], nextBefore, history: 'idle' };
      }
      return { ...state, messages: items, nextBefore, history: 'idle' };
    }
    case 'history/failed':
      return { ...state, history: 'error', historyError: action.error };
    case 'send':
      return {
        ...state,
        reply: null,
        pending: {
          localId: action.localId,
          content: action.content,
          userMessage: null,
          messageId: null,
          text: '',
          status: 'sending',
          error: null,
        },
      };
    case 'user':
      if (!state.pending) return state;
      return {
        ...state,
        pending: { ...state.pending, userMessage: action.message, messageId: action.messageId ?? action.message.id, status: 'streaming' },
      };
    case 'delta':
      if (!state.pending) return state;
      return { ...state, pending: { ...state.pending, text: state.pending.text + action.text, status: 'streaming' } };
    case 'done': {
      const pending = state.pending;
      const user = action.userMessage ?? pending?.userMessage ?? null;
      const add = [...(user ? [user] : []), withEmergency(action.assistantMessage, action.emergency)];
      return {
        ...state,
        messages: appendUnique(state.messages, add),
        pending: null,
        stopping: false,
        fresh: addFresh(state.fresh, action.assistantMessage.id),
      };
    }
    case 'failed':
      if (!state.pending) return state;
      return {
        ...state,
        stopping: false,
        pending: {
          ...state.pending,
          userMessage: action.userMessage ?? state.pending.userMessage,
          status: 'failed',
          error: action.error,
          text: '',
        },
      };
    case 'retrying':
      if (!state.pending) return state;
      return { ...state, pending: { ...state.pending, status: 'retrying', error: null, text: '' } };
    case 'discard':
      return { ...state, pending: null };
    case 'reply/start':
      return { ...state, reply: { messageId: action.messageId, status: 'retrying', error: null, text: '' } };
    case 'reply/attach':
      return { ...state, reply: { messageId: action.messageId, status: 'attaching', error: null, text: '' } };
    case 'reply/delta':
      if (!state.reply) return state;
      return { ...state, reply: { ...state.reply, status: 'streaming', text: state.reply.text + action.text } };
    case 'reply/none':
      return state.reply?.status === 'attaching' ? { ...state, reply: null } : state;
    case 'reply/done':
      return {
        ...state,
        reply: null,
        stopping: false,
        messages: appendUnique(state.messages, [withEmergency(action.assistantMessage, action.emergency)]),
        fresh: addFresh(state.fresh, action.assistantMessage.id),
      };
    case 'reply/failed':
      if (!state.reply) return state;
      return { ...state, stopping: false, reply: { ...state.reply, status: 'failed', error: action.error, text: '' } };
    case 'stopping':
      return { ...state, stopping: action.on };
    case 'reply/clear':
      return { ...state, reply: null };
    case 'dismissed/loaded':
      return { ...state, dismissed: action.ids };
    case 'dismiss-emergency':
      return state.dismissed.includes(action.id) ? state : { ...state, dismissed: [...state.dismissed, action.id] };
    default:
      return state;
  }
}

/** The message id a Stop would act on: a reply streaming now whose message the server named; else null. */
export function stoppableMessageId(state: Pick<ChatState, 'pending' | 'reply' | 'stopping'>): string | null {
  if (state.stopping) return null;
  if (state.pending?.status === 'streaming') return state.pending.messageId ?? state.pending.userMessage?.id ?? null;
  if (state.reply?.status === 'streaming') return state.reply.messageId;
  return null;
}

/**
 * The newest emergency reply in the conversation, unless the user dismissed it. Only the newest counts: once it
 * is dismissed, older ones do not come back.
 */
export function activeEmergency(state: Pick<ChatState, 'messages' | 'dismissed'>): { message: ChatMessage; triage: Triage } | null {
  for (let i = state.messages.length - 1; i >= 0; i--) {
    const message = state.messages[i] as ChatMessage;
    if (message.role !== 'assistant') continue;
    const triage = emergencyOf(message);
    if (triage) return state.dismissed.includes(message.id) ? null : { message, triage };
  }
  return null;
}

/**
 * The user messages with no assistant reply after them in the history: the trailing run of user messages.
 * (Messages carry no reply link, so "answered" means "an assistant message follows"; a reply is always saved
 * after the message it answers.) Retry answers the newest of them, which settles them all.
 */
export function unansweredTail(messages: readonly ChatMessage[]): ChatMessage[] {
  let i = messages.length;
  while (i > 0 && (messages[i - 1] as ChatMessage).role === 'user') i--;
  return messages.slice(i);
}

/** Words for a failed reply, by the stream's or the problem's `code`. */
export function failureText(code: string | null, detail?: string | null): string {
  switch (code) {
    case 'ai_unavailable':
      return 'The assistant is unavailable right now. Your message is saved; retry in a moment.';
    case 'ai_timeout':
    case 'timeout':
      return 'The assistant took too long to answer. Your message is saved; retry in a moment.';
    case 'rate_limited':
      return 'The assistant is busy. Wait a moment, then retry.';
    case 'stream_interrupted':
      return 'The connection was lost before the reply was complete.';
    default:
      return detail || 'The assistant could not answer.';
  }
}
