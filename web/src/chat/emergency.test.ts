import { describe, expect, it } from 'vitest';
import type { ChatMessage, Triage } from '../api/types';
import { announcementText, categoryText, dismissalStore, emergencyAdvice, shouldAnnounce } from './emergency';

const triage = (over: Partial<Triage>): Triage => ({
  detected: true,
  category: 'avulsion',
  severity: 'urgent',
  source: 'triage',
  language: 'en',
  ...over,
});
const message = (id: string): ChatMessage => ({ id, role: 'assistant', content: 'first aid', metadata: {}, createdAt: '2024-06-15T10:00:00Z' });

/** An in-memory Storage. */
function memoryStorage(): Storage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    get length() {
      return data.size;
    },
    clear: () => data.clear(),
    getItem: (k) => data.get(k) ?? null,
    key: (i) => [...data.keys()][i] ?? null,
    removeItem: (k) => void data.delete(k),
    setItem: (k, v) => void data.set(k, String(v)),
  };
}

describe('the staff banner', () => {
  it('says to call emergency services for an emergency', () => {
    const a = emergencyAdvice(triage({ severity: 'emergency', category: 'airway_threatening_swelling' }));
    expect(a.title).toBe('Dental emergency');
    expect(a.what).toBe('Swelling that affects breathing or swallowing');
    expect(a.action).toMatch(/call emergency services now/i);
    expect(a.action).not.toMatch(/same-day/i);
  });

  it('says to book a same-day appointment for an urgent problem', () => {
    const a = emergencyAdvice(triage({ severity: 'urgent', category: 'avulsion' }));
    expect(a.title).toBe('Urgent dental problem');
    expect(a.what).toBe('Knocked-out tooth');
    expect(a.action).toMatch(/same-day appointment/i);
    expect(a.action).not.toMatch(/emergency services/i);
  });

  it('names who flagged it, also for rows from before the source existed', () => {
    expect(emergencyAdvice(triage({ source: 'model' })).source).toBe('The assistant flagged this as urgent.');
    expect(emergencyAdvice(triage({ source: 'triage' })).source).toMatch(/emergency check/);
    expect(emergencyAdvice(triage({ source: null })).source).toMatch(/assistant/);
    const legacy: Triage = { detected: true, category: 'dry_socket', severity: 'urgent' };
    expect(emergencyAdvice(legacy).what).toBe('Dry socket after an extraction');
  });

  it('puts categories in plain words, new ones included', () => {
    expect(categoryText('uncontrolled_bleeding')).toBe('Bleeding that will not stop');
    expect(categoryText('tooth_on_fire')).toBe('Tooth on fire');
    expect(categoryText(null)).toBeNull();
    expect(emergencyAdvice(triage({ category: null })).what).toBeNull();
  });

  it('announces the essentials in one sentence', () => {
    expect(announcementText(triage({ severity: 'emergency', category: 'facial_trauma' }))).toBe(
      'Dental emergency: Injury to the face or jaw. Call emergency services now (911 / 999 / 112), or tell the patient to.',
    );
  });
});

describe('announcing', () => {
  it('only an emergency that arrived while the screen was open', () => {
    expect(shouldAnnounce({ message: message('a2') }, ['a1', 'a2'])).toBe(true);
    // Found in the history on opening the patient, or after a reload: shown, not announced.
    expect(shouldAnnounce({ message: message('a2') }, [])).toBe(false);
    expect(shouldAnnounce(null, ['a2'])).toBe(false);
  });
});

describe('remembered dismissals', () => {
  it('are kept per user, as message ids only', () => {
    const storage = memoryStorage();
    const ada = dismissalStore(storage, 'user-ada');
    const bob = dismissalStore(storage, 'user-bob');
    ada.add('m1');
    ada.add('m2');
    ada.add('m1');
    expect(ada.load()).toEqual(['m2', 'm1']);
    expect(bob.load()).toEqual([]);
    expect([...storage.data.keys()]).toEqual(['dental-assistant:dismissed-emergencies:user-ada']);
    expect(storage.data.get('dental-assistant:dismissed-emergencies:user-ada')).toBe('["m2","m1"]');
  });

  it('keep the newest 200', () => {
    const store = dismissalStore(memoryStorage(), 'u');
    for (let i = 0; i < 250; i++) store.add(`m${i}`);
    const ids = store.load();
    expect(ids).toHaveLength(200);
    expect(ids[0]).toBe('m50');
    expect(ids[199]).toBe('m249');
  });

  it('survive broken or missing storage (the banner just comes back)', () => {
    const storage = memoryStorage();
    storage.setItem('dental-assistant:dismissed-emergencies:u', '{not json');
    expect(dismissalStore(storage, 'u').load()).toEqual([]);
    storage.setItem('dental-assistant:dismissed-emergencies:u', '[1, "m1", null]');
    expect(dismissalStore(storage, 'u').load()).toEqual(['m1']);
    const full = { ...memoryStorage(), setItem: () => { throw new Error('QuotaExceededError'); } } as unknown as Storage;
    expect(dismissalStore(full, 'u').add('m1')).toEqual(['m1']);
    expect(dismissalStore(null, 'u').add('m1')).toEqual(['m1']);
  });
});
