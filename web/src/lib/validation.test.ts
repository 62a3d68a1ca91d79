import { describe, expect, it } from 'vitest';
import {
  charCount,
  datePartsFromIso,
  EMPTY_PATIENT_FORM,
  isIsoDate,
  isValidEmail,
  mapServerErrors,
  normalizeFieldName,
  normalizePhone,
  readDateParts,
  toPatientInput,
  validateLogin,
  validateMessage,
  validatePatient,
  validateRegister,
  type PatientFormValues,
} from './validation';

const NOW = new Date(2024, 5, 15, 12, 0, 0); // 15 June 2024, local time
const form = (over: Partial<PatientFormValues>): PatientFormValues => ({ ...EMPTY_PATIENT_FORM, name: 'Ada Lovelace', ...over });

describe('patient name', () => {
  it('is required after trimming', () => {
    expect(validatePatient(form({ name: '' }), NOW).name).toBeDefined();
    expect(validatePatient(form({ name: '   \t ' }), NOW).name).toBeDefined();
  });

  it('accepts 1 to 200 characters, counted as code points after trimming', () => {
    expect(validatePatient(form({ name: 'A' }), NOW)).toEqual({});
    expect(validatePatient(form({ name: `  ${'a'.repeat(200)}  ` }), NOW)).toEqual({});
    expect(validatePatient(form({ name: 'a'.repeat(201) }), NOW).name).toMatch(/200/);
    // 200 emoji are 400 UTF-16 units but 200 characters.
    expect(validatePatient(form({ name: '😀'.repeat(200) }), NOW)).toEqual({});
    expect(validatePatient(form({ name: '😀'.repeat(201) }), NOW).name).toBeDefined();
  });
});

describe('patient email', () => {
  it('is optional', () => {
    expect(validatePatient(form({ email: '' }), NOW).email).toBeUndefined();
    expect(validatePatient(form({ email: '   ' }), NOW).email).toBeUndefined();
  });

  it.each(['ada@example.com', 'a.b+c@mail.example.co.uk', ' ada@example.com '])('accepts %s', (email) => {
    expect(validatePatient(form({ email }), NOW).email).toBeUndefined();
  });

  it.each(['ada', 'ada@', '@example.com', 'ada@example', 'ada @example.com', 'a@b@c.com', 'ada@example..com'])(
    'rejects %s',
    (email) => {
      expect(validatePatient(form({ email }), NOW).email).toBeDefined();
    },
  );

  it('rejects addresses longer than 254 characters', () => {
    expect(isValidEmail(`${'a'.repeat(250)}@example.com`)).toBe(false);
  });
});

describe('patient phone', () => {
  it.each([
    ['+44 20 7946 0958', '+442079460958'],
    ['+1 (555) 123-4567', '+15551234567'],
    ['+33.1.23.45.67.89', '+33123456789'],
    ['+12345678', '+12345678'],
    ['+123456789012345', '+123456789012345'],
    ['  +4915112345678 ', '+4915112345678'],
  ])('normalises %s to %s', (raw, e164) => {
    expect(normalizePhone(raw)).toBe(e164);
    expect(validatePatient(form({ phone: raw }), NOW).phone).toBeUndefined();
  });

  it.each([
    '020 7946 0958', // no leading +
    '+1234567', // 7 digits
    '+1234567890123456', // 16 digits
    '++441234567890',
    '+44 20 7946 095a',
    '+44/20/7946/0958',
    '44+2079460958',
  ])('rejects %s', (raw) => {
    expect(normalizePhone(raw)).toBeNull();
    expect(validatePatient(form({ phone: raw }), NOW).phone).toBeDefined();
  });

  it('is optional', () => {
    expect(validatePatient(form({ phone: '' }), NOW).phone).toBeUndefined();
  });
});

describe('patient date of birth', () => {
  it('accepts real dates from 1900-01-01 up to today', () => {
    for (const d of ['1900-01-01', '1990-05-01', '2000-02-29', '2024-06-15']) {
      expect(validatePatient(form({ dateOfBirth: d }), NOW).dateOfBirth).toBeUndefined();
    }
  });

  it('rejects the future, even tomorrow', () => {
    expect(validatePatient(form({ dateOfBirth: '2024-06-16' }), NOW).dateOfBirth).toMatch(/future/);
  });

  it('rejects dates before 1900', () => {
    expect(validatePatient(form({ dateOfBirth: '1899-12-31' }), NOW).dateOfBirth).toMatch(/1900/);
  });

  it.each(['1990-5-1', '01/05/1990', '1990-02-30', '2001-02-29', '1990-13-01', '1990-00-10', 'yesterday'])(
    'rejects the malformed %s',
    (d) => {
      expect(validatePatient(form({ dateOfBirth: d }), NOW).dateOfBirth).toMatch(/YYYY-MM-DD/);
    },
  );

  it('knows leap years', () => {
    expect(isIsoDate('2000-02-29')).toBe(true);
    expect(isIsoDate('1900-02-29')).toBe(false);
    expect(isIsoDate('2024-02-29')).toBe(true);
  });
});

describe('medical notes', () => {
  it('allow at most 10,000 characters', () => {
    expect(validatePatient(form({ medicalNotes: 'x'.repeat(10_000) }), NOW).medicalNotes).toBeUndefined();
    expect(validatePatient(form({ medicalNotes: 'x'.repeat(10_001) }), NOW).medicalNotes).toMatch(/10,000/);
  });
});

describe('toPatientInput', () => {
  const values = form({ name: '  Ada  ', email: ' ', phone: '+44 20 7946 0958', dateOfBirth: '', medicalNotes: '' });

  it('leaves empty optional fields out when creating', () => {
    expect(toPatientInput(values, 'create')).toEqual({ name: 'Ada', phone: '+442079460958' });
  });

  it('clears empty optional fields with null when editing', () => {
    expect(toPatientInput(values, 'edit')).toEqual({
      name: 'Ada',
      email: null,
      phone: '+442079460958',
      dateOfBirth: null,
      medicalNotes: null,
    });
  });
});

describe('server errors', () => {
  it('map onto the form fields, whatever the naming style', () => {
    const { fields, other } = mapServerErrors(
      [
        { field: 'dateOfBirth', code: 'future', message: 'must not be in the future' },
        { field: 'phone', code: 'invalid', message: 'not E.164' },
        { field: 'medical_notes', code: 'too_long', message: 'too long' },
        { field: '/email', code: 'invalid', message: 'bad email' },
        { field: 'nickname', code: 'unknown_field', message: 'unknown field' },
      ],
      ['name', 'email', 'phone', 'dateOfBirth', 'medicalNotes'] as const,
    );
    expect(fields).toEqual({
      dateOfBirth: 'must not be in the future',
      phone: 'not E.164',
      medicalNotes: 'too long',
      email: 'bad email',
    });
    expect(other).toEqual(['nickname: unknown field']);
  });

  it('joins two errors on the same field', () => {
    const { fields } = mapServerErrors(
      [
        { field: 'name', code: 'a', message: 'First.' },
        { field: 'name', code: 'b', message: 'Second.' },
      ],
      ['name'] as const,
    );
    expect(fields.name).toBe('First. Second.');
  });

  it('normalises field names', () => {
    expect(normalizeFieldName('date_of_birth')).toBe('dateOfBirth');
    expect(normalizeFieldName('/fullName')).toBe('fullName');
    expect(normalizeFieldName('body.email')).toBe('email');
  });
});

describe('account forms', () => {
  it('register needs an email, a name and a 12-character password', () => {
    expect(validateRegister({ email: '', fullName: '', password: '' })).toEqual({
      email: expect.any(String),
      fullName: expect.any(String),
      password: expect.stringMatching(/12/),
    });
    expect(validateRegister({ email: 'a@example.com', fullName: 'A', password: 'x'.repeat(11) }).password).toBeDefined();
    expect(validateRegister({ email: 'a@example.com', fullName: 'A', password: 'correct horse battery' })).toEqual({});
  });

  it('login needs both fields', () => {
    expect(Object.keys(validateLogin({ email: ' ', password: '' }))).toEqual(['email', 'password']);
  });
});

describe('chat message', () => {
  it('is trimmed and 1-4,000 characters', () => {
    expect(validateMessage('   ')).toBeDefined();
    expect(validateMessage(' hello ')).toBeNull();
    expect(validateMessage(`  ${'a'.repeat(4000)}  `)).toBeNull();
    expect(validateMessage('a'.repeat(4001))).toMatch(/4,000/);
  });

  it('counts code points', () => {
    expect(charCount('😀a')).toBe(2);
  });
});

describe('patient phone in the clinic’s country', () => {
  it('accepts a national number and sends it as E.164', () => {
    expect(validatePatient(form({ phone: '(555) 010-2000' }), NOW, 'US').phone).toBeUndefined();
    expect(toPatientInput(form({ phone: '(555) 010-2000' }), 'create', 'US').phone).toBe('+15550102000');
    expect(toPatientInput(form({ phone: '612 345 678' }), 'create', 'ES').phone).toBe('+34612345678');
  });

  it('refuses one that does not fit the country, naming it', () => {
    expect(validatePatient(form({ phone: '612 345 678' }), NOW, 'US').phone).toMatch(/United States/);
  });
});

describe('date of birth boxes', () => {
  it('compose YYYY-MM-DD from day, month and year', () => {
    expect(readDateParts({ day: '12', month: '4', year: '1985' })).toEqual({ ok: true, iso: '1985-04-12' });
    expect(readDateParts({ day: ' 01 ', month: '01', year: '2000' })).toEqual({ ok: true, iso: '2000-01-01' });
    expect(readDateParts({ day: '', month: '', year: '' })).toEqual({ ok: true, iso: '' });
  });

  it('say which box is missing or wrong', () => {
    expect(readDateParts({ day: '12', month: '', year: '1985' })).toMatchObject({ ok: false, part: 'month', error: 'Date of birth must include a month.' });
    expect(readDateParts({ day: '', month: '', year: '1985' })).toMatchObject({ ok: false, part: 'day', error: 'Date of birth must include a day and month.' });
    expect(readDateParts({ day: 'x', month: '4', year: '1985' })).toMatchObject({ ok: false, part: 'day' });
    expect(readDateParts({ day: '12', month: '13', year: '1985' })).toMatchObject({ ok: false, part: 'month' });
    expect(readDateParts({ day: '12', month: '4', year: '85' })).toMatchObject({ ok: false, part: 'year', error: expect.stringMatching(/4 digits/) });
    expect(readDateParts({ day: '30', month: '2', year: '2024' })).toMatchObject({ ok: false, part: 'day', error: expect.stringMatching(/real date/) });
    expect(readDateParts({ day: '29', month: '2', year: '2024' })).toEqual({ ok: true, iso: '2024-02-29' });
  });

  it('round-trip a stored date', () => {
    expect(datePartsFromIso('1985-04-12')).toEqual({ day: '12', month: '4', year: '1985' });
    expect(datePartsFromIso(null)).toEqual({ day: '', month: '', year: '' });
  });

  it('leave the range rules to validatePatient, in the display format', () => {
    expect(validatePatient(form({ dateOfBirth: '1899-12-31' }), NOW).dateOfBirth).toMatch(/before .*1900/);
  });
});
