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

/** A member's role inside a clinic (CONTRACT.md, "Clinics, roles and records"). */
export type ClinicRole = 'owner' | 'clinician' | 'reception';

/** The active clinic as a session names it, and each of the user's clinics. */
export interface ClinicRef {
  id: Uuid;
  name: string;
  role: ClinicRole;
}

export interface User {
  id: Uuid;
  email: string;
  fullName: string;
  /** The platform role (administration only, no patient access of its own). */
  role: Role;
  isActive: boolean;
  createdAt: Timestamp;
  /** The active clinic (second wave; absent from an api without clinics). */
  clinic?: ClinicRef | null;
  /** Every clinic the user belongs to (second wave). */
  clinics?: ClinicRef[];
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
  /** The active clinic (second wave). */
  clinic?: ClinicRef | null;
}

/** `POST /auth/login` when the account has two-step sign-in on: no session yet, a code is needed. */
export interface MfaChallenge {
  mfaRequired: true;
  mfaToken: string;
  /** Seconds the `mfaToken` stays valid. */
  expiresIn: number;
}

export interface LoginMfaRequest {
  mfaToken: string;
  /** A 6-digit code from the authenticator app, or an unused recovery code. */
  code: string;
}

export interface RegisterRequest {
  email: string;
  password: string;
  fullName: string;
  /** The new clinic's name (default "<fullName>'s clinic"); ignored with an invitation. */
  clinicName?: string;
  /** Joins the invitation's clinic in its role instead of creating one. */
  invitationToken?: string;
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
  /** Who added the patient (second wave). */
  createdBy?: Uuid | null;
  /** Only in the trash: when the patient was deleted. */
  deletedAt?: Timestamp | null;
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
  /** `stopped`: the user stopped the reply, `content` is what was generated until then; `failed`: cut off. */
  status?: 'stopped' | 'failed' | string;
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
  /** The existing patients a create looks like; only on a 409 `possible_duplicate`. */
  duplicates?: Uuid[];
  /** On a refused sign-in (401): wrong attempts left before signing in is paused, once three or fewer remain. */
  remainingAttempts?: number;
}

// ---- Clinics, roles and records (second wave) ----

export interface Clinic {
  id: Uuid;
  name: string;
  requireMfa: boolean;
  /** ISO 3166-1 alpha-2: the region of phone numbers typed without a country code. */
  country: string;
  createdAt: Timestamp;
  myRole: ClinicRole;
}

export interface UpdateClinicRequest {
  name?: string;
  requireMfa?: boolean;
  country?: string;
}

export interface Member {
  userId: Uuid;
  email: string;
  fullName: string;
  role: ClinicRole;
  joinedAt: Timestamp;
  mfaEnabled: boolean;
}

export interface MemberList {
  items: Member[];
}

export interface UpdateMemberRequest {
  role: ClinicRole;
}

export interface CreateInvitationRequest {
  email: string;
  role: ClinicRole;
}

export interface Invitation {
  id: Uuid;
  email: string;
  role: ClinicRole;
  createdAt: Timestamp;
  expiresAt: Timestamp;
  /** Only in the answer that created it: shown once. */
  token?: string | null;
}

export interface InvitationList {
  items: Invitation[];
}

export interface SwitchClinicRequest {
  clinicId: Uuid;
}

/** `GET /patients/trash`: a page of deleted patients, each with `deletedAt`. */
/** A patient in the trash: when it was deleted is always known. */
export interface TrashedPatient extends Patient {
  deletedAt: Timestamp;
}

export interface TrashPage extends Page<TrashedPatient> {
  /** How long a deleted patient stays restorable (the api's `PATIENT_RETENTION_DAYS`). */
  retentionDays: number;
}

export type AccessAction =
  | 'patient.read'
  | 'patient.update'
  | 'patient.delete'
  | 'patient.restore'
  | 'message.list'
  | 'message.send'
  | 'patient.export'
  | 'access.denied';

export interface AccessEvent {
  at: Timestamp;
  userId: Uuid | null;
  userName: string | null;
  action: AccessAction | string;
  requestId: string | null;
}

/** A page of a patient's access log, newest first: numbered pages with `total`, or keyset pages with `nextCursor`. */
export interface AccessEventPage {
  items: AccessEvent[];
  page: number;
  limit: number;
  total?: number;
  /** Whether older events exist. */
  hasMore: boolean;
  nextCursor?: string | null;
}

export interface DayStats {
  /** `YYYY-MM-DD`. */
  date: string;
  messages: number;
  /** Flagged replies that day by triage category (categories with none may be absent). */
  emergencies: Record<string, number>;
}

export interface MonthStats {
  /** `YYYY-MM`. */
  month: string;
  inputTokens: number;
  outputTokens: number;
}

export interface ClinicStats {
  days: DayStats[];
  months: MonthStats[];
}

// ---- Accounts (second wave) ----

export interface SessionInfo {
  id: Uuid;
  createdAt: Timestamp;
  lastUsedAt: Timestamp | null;
  userAgent: string | null;
  ip: string | null;
  /** The session this browser is using. */
  current: boolean;
}

export interface SessionList {
  items: SessionInfo[];
}

export interface ChangePasswordRequest {
  currentPassword: string;
  newPassword: string;
}

export interface MfaSetup {
  /** Base32, for typing into an authenticator app by hand. */
  secret: string;
  otpauthUri: string;
  /** The QR code of `otpauthUri`, as an SVG document (rendered after sanitising, never as HTML). */
  qrSvg: string;
}

export interface MfaRecoveryCodes {
  recoveryCodes: string[];
}

// ---- Import / export (second wave) ----

export interface ImportError {
  /** Data row, from 1 (a CSV header line is not a row); 0 or absent for a problem with the whole file. */
  row: number;
  field: string | null;
  code: string;
  message: string;
}

export interface ImportReport {
  rows: number;
  valid: number;
  invalid: number;
  errors: ImportError[];
  /** 0 on a dry run or a refused import. */
  created: number;
}
