/**
 * What staff see and hear when the assistant flags a message: one banner that says what to do now, above the
 * conversation whose reply holds the patient-facing first aid; dismissals remembered per message; and a
 * screen-reader announcement only for an emergency that arrived while the screen was open.
 */
import type { ChatMessage, Triage } from '../api/types';

/** The ai service's triage categories in plain words (crates/ai/src/triage/rules.rs). */
const CATEGORY_WORDS: Record<string, string> = {
  allergic_swelling: 'Possible allergic reaction with swelling',
  airway_threatening_swelling: 'Swelling that affects breathing or swallowing',
  jaw_dislocation: 'Jaw stuck open or dislocated',
  uncontrolled_bleeding: 'Bleeding that will not stop',
  facial_trauma: 'Injury to the face or jaw',
  spreading_infection: 'Spreading infection with swelling or fever',
  pericoronitis: 'Infected gum around a wisdom tooth',
  infection_child: 'Dental infection in a child',
  orthodontic_wire_trauma: 'Brace wire cutting the mouth',
  denture_ulcer: 'Painful sore from a denture',
  lost_temporary_with_pain: 'Lost temporary filling or crown, with pain',
  dry_socket: 'Dry socket after an extraction',
  post_operative_complication: 'Problem after dental surgery',
  avulsion: 'Knocked-out tooth',
  knocked_out_tooth: 'Knocked-out tooth',
  luxation: 'Loosened or displaced tooth',
  fracture_pulp_exposure: 'Broken tooth with the nerve exposed',
  fracture_with_pain: 'Broken tooth with pain',
  soft_tissue_trauma: 'Cut or injury inside the mouth',
  trismus: 'Cannot open the mouth',
  severe_pain: 'Severe toothache',
  abscess: 'Dental abscess',
  facial_swelling: 'Swollen face',
  pulpitis: 'Severe toothache from an inflamed nerve',
};

/** `dry_socket` -> "Dry socket after an extraction"; an unknown category -> its words ("Some new thing"). */
export function categoryText(category: string | null | undefined): string | null {
  if (!category) return null;
  const known = CATEGORY_WORDS[category];
  if (known) return known;
  const words = category.replace(/[_-]+/g, ' ').trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : null;
}

export interface EmergencyAdvice {
  /** "Dental emergency" / "Urgent dental problem". */
  title: string;
  /** The category in plain words, when known. */
  what: string | null;
  /** What to do now, in one sentence. */
  action: string;
  /** The next step: relay the first aid. */
  then: string;
  /** Who flagged it. */
  source: string;
}

/** The banner's words for a triage result: emergency services for `emergency`, a same-day visit for `urgent`. */
export function emergencyAdvice(triage: Triage): EmergencyAdvice {
  const emergency = triage.severity === 'emergency';
  return {
    title: emergency ? 'Dental emergency' : 'Urgent dental problem',
    what: categoryText(triage.category),
    action: emergency
      ? 'Call emergency services now (911 / 999 / 112), or tell the patient to.'
      : 'Book a same-day appointment: the patient needs to be seen today.',
    then: emergency
      ? 'While help is on the way, read the patient the first aid in the assistant’s reply.'
      : 'Until then, read the patient the first aid in the assistant’s reply.',
    source:
      triage.source === 'model'
        ? 'The assistant flagged this as urgent.'
        : triage.source === 'triage'
          ? 'Flagged by the emergency check before the assistant answered.'
          : 'Flagged by the assistant.',
  };
}

/** The sentence a screen reader hears for a new emergency. */
export function announcementText(triage: Triage): string {
  const a = emergencyAdvice(triage);
  return `${a.title}${a.what ? `: ${a.what}` : ''}. ${a.action}`;
}

/**
 * Whether the banner's emergency should be announced: only one that arrived while this screen was open
 * (`fresh`), never one found in the history on opening the patient or after a reload.
 */
export function shouldAnnounce(active: { message: ChatMessage } | null, fresh: readonly string[]): boolean {
  return !!active && fresh.includes(active.message.id);
}

/** Storage of dismissed emergencies: message ids only (no tokens, no patient data), newest last, bounded. */
export interface DismissalStore {
  load(): string[];
  add(messageId: string): string[];
}

const MAX_REMEMBERED = 200;
const KEY_PREFIX = 'dental-assistant:dismissed-emergencies:';

/**
 * Dismissals kept in `storage` (the app uses localStorage, so a handled emergency stays dismissed after a reload
 * or in a new tab) under a key per signed-in user: on a shared front-desk computer each person dismisses for
 * themselves. Unavailable or full storage only means the banner comes back.
 */
export function dismissalStore(storage: Storage | null | undefined, userId: string): DismissalStore {
  const key = KEY_PREFIX + userId;
  const load = (): string[] => {
    try {
      const raw = storage?.getItem(key);
      const parsed: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
    } catch {
      return [];
    }
  };
  return {
    load,
    add(messageId) {
      const ids = [...load().filter((id) => id !== messageId), messageId].slice(-MAX_REMEMBERED);
      try {
        storage?.setItem(key, JSON.stringify(ids));
      } catch {
        // Private mode or quota: remembered for this screen only.
      }
      return ids;
    },
  };
}

/** The browser's localStorage, or null where it is blocked. */
export function browserStorage(): Storage | null {
  try {
    return typeof localStorage !== 'undefined' ? localStorage : null;
  } catch {
    return null;
  }
}
