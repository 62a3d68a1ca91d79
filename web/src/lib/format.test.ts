import { describe, expect, it } from 'vitest';
import { ageOn, dateFieldOrder, formatDate, formatDateTime, formatRelative, formatTime } from './format';

describe('dates on screen', () => {
  it('follow the locale, one formatter for every date', () => {
    expect(formatDate('1985-04-12', 'en-US')).toBe('Apr 12, 1985');
    expect(formatDate('1985-04-12', 'en-GB')).toBe('12 Apr 1985');
    expect(formatDate('1985-04-12', 'es-ES')).toBe('12 abr 1985');
    expect(formatDate('1985-04-12', 'de-DE')).toBe('12.04.1985');
  });

  it('show a calendar date without a time-zone shift', () => {
    expect(formatDate('2000-01-01', 'en-GB')).toBe('1 Jan 2000');
    expect(formatDate('1999-12-31', 'en-GB')).toBe('31 Dec 1999');
    expect(formatDate('0099-06-01', 'en-GB')).toBe('1 Jun 99');
  });

  it('leave what is not a date alone', () => {
    expect(formatDate(null)).toBe('');
    expect(formatDate('someday', 'en-US')).toBe('someday');
    expect(formatDateTime('not a time', 'en-US')).toBe('not a time');
    expect(formatTime('not a time', 'en-US')).toBe('');
  });

  it('show timestamps with the time in the same locale', () => {
    const ts = new Date(2024, 5, 15, 14, 5).toISOString();
    expect(formatDateTime(ts, 'en-US')).toBe('Jun 15, 2024, 2:05 PM');
    expect(formatDateTime(ts, 'en-GB')).toBe('15 Jun 2024, 14:05');
    expect(formatTime(ts, 'en-GB')).toBe('14:05');
  });
});

describe('the date-of-birth boxes', () => {
  it('come in the order the display writes dates', () => {
    expect(dateFieldOrder('en-US')).toEqual(['month', 'day', 'year']);
    expect(dateFieldOrder('en-GB')).toEqual(['day', 'month', 'year']);
    expect(dateFieldOrder('ja-JP')).toEqual(['year', 'month', 'day']);
    // Swedish numeric dates are year first, but the display writes "12 apr. 1985": the boxes follow the display.
    expect(dateFieldOrder('sv-SE')).toEqual(['day', 'month', 'year']);
    expect(dateFieldOrder('en-CA')).toEqual(['month', 'day', 'year']);
  });

  it('falls back to day, month, year for an unknown locale', () => {
    expect(dateFieldOrder('zz-invalid-locale-!!')).toHaveLength(3);
  });
});

describe('ages and recent events', () => {
  it('count whole years, the birthday included', () => {
    const now = new Date(2024, 5, 15);
    expect(ageOn('1985-06-15', now)).toBe(39);
    expect(ageOn('1985-06-16', now)).toBe(38);
    expect(ageOn('2000-02-29', new Date(2024, 1, 28))).toBe(23);
    expect(ageOn('bad', now)).toBeNull();
  });

  it('say how long ago', () => {
    const now = new Date('2024-06-15T12:00:00Z');
    expect(formatRelative('2024-06-15T11:58:00Z', now, 'en-US')).toBe('2 minutes ago');
    expect(formatRelative('2024-06-15T09:00:00Z', now, 'en-US')).toBe('3 hours ago');
    expect(formatRelative('2024-06-14T12:00:00Z', now, 'en-US')).toBe('yesterday');
    expect(formatRelative('2024-06-15T11:59:50Z', now, 'en-US')).toBe('now');
    expect(formatRelative('2024-01-15T12:00:00Z', now, 'en-US')).toBe('Jan 15, 2024');
  });
});
