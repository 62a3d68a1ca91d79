import { describe, expect, it } from 'vitest';
import type { DayStats } from '../api/types';
import { emergenciesByWeek, fillDays, fillMonths, messagesSummary, niceMax, OTHER_CATEGORY, overview, rangeFor, topCategories, weekStart } from './stats';

describe('stats for the overview charts', () => {
  it('weeks start on Monday, in UTC', () => {
    expect(weekStart('2025-04-14')).toBe('2025-04-14'); // a Monday
    expect(weekStart('2025-04-20')).toBe('2025-04-14'); // the Sunday after
    expect(weekStart('2025-04-13')).toBe('2025-04-07');
    expect(weekStart('2025-01-01')).toBe('2024-12-30'); // across a year
  });

  it('ranges end today and stay within 366 days', () => {
    expect(rangeFor('30d', '2025-04-12')).toEqual({ from: '2025-03-14', to: '2025-04-12' });
    expect(rangeFor('90d', '2025-04-12')).toEqual({ from: '2025-01-13', to: '2025-04-12' });
    expect(rangeFor('12m', '2025-04-12')).toEqual({ from: '2024-05-01', to: '2025-04-12' });
    expect(rangeFor('12m', '2024-03-31')).toEqual({ from: '2023-04-01', to: '2024-03-31' });
  });

  it('fills missing days and months with zero', () => {
    const days = fillDays([{ date: '2025-04-02', messages: 3, emergencies: { avulsion: 1 } }], '2025-04-01', '2025-04-03');
    expect(days.map((d) => [d.date, d.messages])).toEqual([
      ['2025-04-01', 0],
      ['2025-04-02', 3],
      ['2025-04-03', 0],
    ]);
    expect(fillMonths([{ month: '2025-01', inputTokens: 5, outputTokens: 7 }], '2024-11-15', '2025-02-01').map((m) => [m.month, m.inputTokens])).toEqual([
      ['2024-11', 0],
      ['2024-12', 0],
      ['2025-01', 5],
      ['2025-02', 0],
    ]);
  });

  it('sums emergencies per week by category, the rarest folded into "other"', () => {
    const days: DayStats[] = [
      { date: '2025-04-07', messages: 1, emergencies: { avulsion: 2, abscess: 1 } },
      { date: '2025-04-13', messages: 1, emergencies: { abscess: 1 } },
      { date: '2025-04-14', messages: 1, emergencies: { dry_socket: 1, trismus: 1, pulpitis: 1, luxation: 1 } },
    ];
    const cats = topCategories(days, 5);
    expect(cats).toEqual(['abscess', 'avulsion', 'dry_socket', 'luxation', OTHER_CATEGORY]);
    const weeks = emergenciesByWeek(days, cats);
    expect(weeks).toEqual([
      { week: '2025-04-07', counts: { abscess: 2, avulsion: 2, dry_socket: 0, luxation: 0, other: 0 }, total: 4 },
      { week: '2025-04-14', counts: { abscess: 0, avulsion: 0, dry_socket: 1, luxation: 1, other: 2 }, total: 4 },
    ]);
    expect(topCategories([{ date: '2025-04-01', messages: 0, emergencies: { a: 0 } }])).toEqual([]);
  });

  it('summarises the messages and rounds axis tops', () => {
    const s = messagesSummary([
      { date: '2025-04-01', messages: 2, emergencies: {} },
      { date: '2025-04-02', messages: 5, emergencies: {} },
      { date: '2025-04-03', messages: 5, emergencies: {} },
    ]);
    expect(s).toMatchObject({ total: 12, days: 3, averagePerDay: 4 });
    expect(s.busiest?.date).toBe('2025-04-02');
    expect(messagesSummary([]).busiest).toBeNull();
    expect([0, 1, 3, 7, 12, 240, 1001].map(niceMax)).toEqual([1, 1, 5, 10, 20, 250, 2000]);
  });

  it('puts it together', () => {
    const v = overview(
      { days: [{ date: '2025-04-02', messages: 4, emergencies: { avulsion: 1 } }], months: [{ month: '2025-04', inputTokens: 100, outputTokens: 50 }] },
      '2025-04-01',
      '2025-04-07',
    );
    expect(v.days).toHaveLength(7);
    expect(v.messages.total).toBe(4);
    expect(v.emergencies).toBe(1);
    expect(v.tokens).toEqual({ input: 100, output: 50 });
  });
});
