import { describe, expect, it } from 'vitest';
import { formatPhone, phoneHref, phonePreview, phoneProblem, readPhone } from './phone';

describe('phone numbers shown', () => {
  it('in national format when they are in the clinic’s country', () => {
    expect(formatPhone('+15550102000', 'US')).toBe('(555) 010-2000');
    expect(formatPhone('+12125550123', 'US')).toBe('(212) 555-0123');
    expect(formatPhone('+34612345678', 'ES')).toBe('612 34 56 78');
    expect(formatPhone('+442079460958', 'GB')).toBe('020 7946 0958');
  });

  it('in international format otherwise', () => {
    expect(formatPhone('+442079460958', 'US')).toBe('+44 20 7946 0958');
    expect(formatPhone('+15550102000', 'ES')).toBe('+1 555 010 2000');
    expect(formatPhone('+34612345678', 'US')).toBe('+34 612 34 56 78');
  });

  it('as stored when they cannot be read, and not at all when absent', () => {
    expect(formatPhone('12', 'US')).toBe('12');
    expect(formatPhone(null, 'US')).toBe('');
  });

  it('link to tel: URIs', () => {
    expect(phoneHref('+15550102000')).toBe('tel:+15550102000');
    expect(phoneHref('+442079460958')).toBe('tel:+442079460958');
  });
});

describe('phone numbers typed', () => {
  it('accept national numbers of the clinic’s country as typed, and send E.164', () => {
    expect(readPhone('(555) 010-2000', 'US')).toEqual({ ok: true, e164: '+15550102000' });
    expect(readPhone('555.010.2000', 'US')).toEqual({ ok: true, e164: '+15550102000' });
    expect(readPhone('1 555 010 2000', 'US')).toEqual({ ok: true, e164: '+15550102000' });
    expect(readPhone('612 345 678', 'ES')).toEqual({ ok: true, e164: '+34612345678' });
    expect(readPhone('020 7946 0958', 'GB')).toEqual({ ok: true, e164: '+442079460958' });
  });

  it('accept the international prefix of the clinic’s country', () => {
    expect(readPhone('011 44 20 7946 0958', 'US')).toEqual({ ok: true, e164: '+442079460958' });
    expect(readPhone('00 44 20 7946 0958', 'ES')).toEqual({ ok: true, e164: '+442079460958' });
  });

  it('keep the api’s E.164 rule for + numbers', () => {
    expect(readPhone('+44 20 7946 0958', 'US')).toEqual({ ok: true, e164: '+442079460958' });
    expect(readPhone('+12345678', 'US')).toEqual({ ok: true, e164: '+12345678' });
    expect(readPhone('+1234567', 'US')).toEqual({ ok: false, reason: 'short' });
    expect(readPhone('+1234567890123456', 'US')).toEqual({ ok: false, reason: 'long' });
  });

  it('refuse what is not a number of that country', () => {
    expect(readPhone('12345', 'US')).toEqual({ ok: false, reason: 'short' });
    expect(readPhone('612 345 678', 'US')).toEqual({ ok: false, reason: 'short' });
    expect(readPhone('020 7946 0958', 'US')).toMatchObject({ ok: false });
    expect(readPhone('555-CALL-NOW', 'US')).toEqual({ ok: false, reason: 'characters' });
    expect(readPhone('44+2079460958', 'US')).toEqual({ ok: false, reason: 'characters' });
  });

  it('explain the refusal with the clinic’s country', () => {
    expect(phoneProblem('short', 'US')).toMatch(/too short.*United States.*\+ and the country code/);
  });

  it('preview what will be saved', () => {
    expect(phonePreview('(555) 010-2000', 'US')).toBe('+1 555 010 2000');
    expect(phonePreview('12', 'US')).toBeNull();
  });
});
