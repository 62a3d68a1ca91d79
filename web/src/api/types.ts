/**
 * Wire types of the public API (`/api/v1`), written by hand from shared/CONTRACT.md and
 * crates/shared/src/{api,ai,problem}.rs until the api serves `GET /api/v1/openapi.json`.
 *
 * Swapping to generated types: run `npm run gen:api` (writes src/api/schema.d.ts), then replace
 * each declaration below by an alias of the generated schema, e.g.
 *
 *   import type { components } from './schema';
 *   type S = components['schemas'];
 *   export type Patient = S['Patient'];
 *
 * Every other module imports its types from this file only, so nothing else has to change.
 */

/** ISO-8601 timestamp, e.g. `2024-05-01T10:00:00Z`. */
export type Timestamp = string;
/** UUID as a string. */
export type Uuid = string;

export type Role = 'user' | 'admin';

export interface User {
  id: Uuid;
  email: string;
  fullName: string;
  role: Role;
  isActive: boolean;
  createdAt: Timestamp;
}

export interface Session {
  accessToken: string;
  /** Always `Bearer`. */
  tokenType: string;
  /** Lifetime of the access token in seconds. */
  expiresIn: number;
  /** Also set as an HttpOnly cookie; the browser app never reads or keeps this field. */
  refreshToken: string;
  user: User;
}

export interface RegisterRequest {
  email: string;
  password: string;
  fullName: string;
}

export interface LoginRequest {
  email: string;
  password: string;
}

export interface UpdateUserRequest {
  role?: Role;
  isActive?: boolean;
}

export interface Page<T> {
  items: T[];
  page: number;
  limit: number;
  total: number;
}

export type UserPage = Page<User>;

/** Body of `POST /patients`; for `PATCH` any subset, `null` clears an optional field. */
export interface PatientInput {
  name: string;
  email?: string | null;
  phone?: string | null;
  /** `YYYY-MM-DD`. */
  dateOfBirth?: string | null;
  medicalNotes?: string | null;
}

export interface Patient {
  id: Uuid;
  name: string;
  email: string | null;
  phone: string | null;
  dateOfBirth: string | null;
  medicalNotes: string | null;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  /** When the assistant last flagged one of this patient's messages as urgent (second wave; absent before). */
  lastEmergencyAt?: Timestamp | null;
}

export type PatientPage = Page<Patient>;

export type Severity = 'emergency' | 'urgent';
/** Who found the emergency: the ai service's own triage (before any model call) or the model's urgency marker. */
export type TriageSource = 'triage' | 'model';
/** The language of the message, which first aid is written in. */
export type Language = 'en' | 'es' | 'pt';

/** The triage result of the AI service. */
export interface Triage {
  detected: boolean;
  category: string | null;
  severity: Severity | null;
  /** Absent (or `null`) on messages saved before the second wave. */
  source?: TriageSource | null;
  language?: Language;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface AssistantMetadata {
  provider?: string;
  model?: string;
  usage?: Usage;
  latencyMs?: number;
  emergency?: Triage | null;
  finishReason?: string;
  [key: string]: unknown;
}

export type MessageRole = 'user' | 'assistant';

export interface ChatMessage {
  id: Uuid;
  role: MessageRole;
  content: string;
  /** For assistant messages see {@link AssistantMetadata}; free-form otherwise. */
  metadata: AssistantMetadata | Record<string, unknown>;
  createdAt: Timestamp;
}

export interface MessagePage {
  items: ChatMessage[];
  /** Pass as `before` to load the previous (older) page; `null` when there is none. */
  nextBefore: Uuid | null;
}

export interface SendMessageRequest {
  content: string;
}

export interface ReplyResponse {
  assistantMessage: ChatMessage;
  emergency: Triage | null;
}

/** `done` event of `POST /patients/{id}/messages/stream`. */
export type StreamDone = ReplyResponse;

export interface StreamDelta {
  text: string;
}

export interface StreamError {
  code: string;
  detail: string;
}

export interface FieldError {
  field: string;
  code: string;
  message: string;
}

/** RFC 9457 problem body with the contract's extensions. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId?: string;
  errors?: FieldError[];
}
