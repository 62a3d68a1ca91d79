/**
 * The owner's overview from `GET /clinic/stats` (CONTRACT.md): messages per day, emergencies flagged per week by
 * category, model tokens per month. Pure functions, so the charts and their table fallbacks show the same numbers.
 * Dates are calendar days (`YYYY-MM-DD`, the api's UTC days), computed in UTC so no time zone shifts a day.
 */
import type { ClinicStats, DayStats, MonthStats } from '../api/types';

const DAY_MS = 86_400_000;

function parseDay(iso: string): number {
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  return Date.UTC(y, m - 1, d);
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(iso: string, n: number): string {
  return isoDay(parseDay(iso) + n * DAY_MS);
}

/** The Monday of `iso`'s week (ISO 8601 weeks start on Monday). */
export function weekStart(iso: string): string {
  const ms = parseDay(iso);
  const weekday = (new Date(ms).getUTCDay() + 6) % 7; // Monday 0 ... Sunday 6
  return isoDay(ms - weekday * DAY_MS);
}

export type RangePreset = '30d' | '90d' | '12m';

export const RANGE_LABELS: Record<RangePreset, string> = {
  '30d': 'Last 30 days',
  '90d': 'Last 90 days',
  '12m': 'Last 12 months',
};

/** `from`/`to` for a preset, ending today; the api takes at most 366 days. */
export function rangeFor(preset: RangePreset, today: string): { from: string; to: string } {
  if (preset === '30d') return { from: addDays(today, -29), to: today };
  if (preset === '90d') return { from: addDays(today, -89), to: today };
  const [y, m] = today.split('-').map(Number) as [number, number];
  const first = new Date(Date.UTC(y, m - 1 - 11, 1));
  return { from: isoDay(first.getTime()), to: today };
}

/** Every day from `from` to `to`, with the api's figures where it sent them and zero elsewhere. */
export function fillDays(days: readonly DayStats[], from: string, to: string): DayStats[] {
  const byDate = new Map(days.map((d) => [d.date, d]));
  const out: DayStats[] = [];
  for (let ms = parseDay(from), end = parseDay(to); ms <= end; ms += DAY_MS) {
    const date = isoDay(ms);
    const d = byDate.get(date);
    out.push({ date, messages: d?.messages ?? 0, emergencies: { ...(d?.emergencies ?? {}) } });
  }
  return out;
}

export interface WeekEmergencies {
  /** The week's Monday. */
  week: string;
  counts: Record<string, number>;
  total: number;
}

export const OTHER_CATEGORY = 'other';

/** The categories to draw (the most frequent first), the rest folded into "other". */
export function topCategories(days: readonly DayStats[], max = 5): string[] {
  const totals = new Map<string, number>();
  for (const d of days) for (const [c, n] of Object.entries(d.emergencies)) totals.set(c, (totals.get(c) ?? 0) + n);
  const ranked = [...totals.entries()].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (ranked.length <= max) return ranked.map(([c]) => c);
  return [...ranked.slice(0, max - 1).map(([c]) => c), OTHER_CATEGORY];
}

/** Emergencies per week (Monday to Sunday) by category, the categories limited to `categories`. */
export function emergenciesByWeek(days: readonly DayStats[], categories: readonly string[]): WeekEmergencies[] {
  const keep = new Set(categories);
  const weeks = new Map<string, WeekEmergencies>();
  for (const d of days) {
    const week = weekStart(d.date);
    let w = weeks.get(week);
    if (!w) {
      w = { week, counts: Object.fromEntries(categories.map((c) => [c, 0])), total: 0 };
      weeks.set(week, w);
    }
    for (const [c, n] of Object.entries(d.emergencies)) {
      if (!n) continue;
      const key = keep.has(c) ? c : OTHER_CATEGORY;
      if (!keep.has(key)) continue;
      w.counts[key] = (w.counts[key] ?? 0) + n;
      w.total += n;
    }
  }
  return [...weeks.values()].sort((a, b) => a.week.localeCompare(b.week));
}

export interface MessagesSummary {
  total: number;
  days: number;
  busiest: DayStats | null;
  averagePerDay: number;
}

export function messagesSummary(days: readonly DayStats[]): MessagesSummary {
  let busiest: DayStats | null = null;
  let total = 0;
  for (const d of days) {
    total += d.messages;
    if (d.messages > 0 && (!busiest || d.messages > busiest.messages)) busiest = d;
  }
  return { total, days: days.length, busiest, averagePerDay: days.length ? total / days.length : 0 };
}

export function emergencyTotal(weeks: readonly WeekEmergencies[]): number {
  return weeks.reduce((s, w) => s + w.total, 0);
}

/** Every month of the range with the api's figures, zero where it sent none. */
export function fillMonths(months: readonly MonthStats[], from: string, to: string): MonthStats[] {
  const byMonth = new Map(months.map((m) => [m.month, m]));
  const out: MonthStats[] = [];
  let [y, m] = from.split('-').map(Number) as [number, number];
  const [ey, em] = to.split('-').map(Number) as [number, number];
  while (y < ey || (y === ey && m <= em)) {
    const key = `${y}-${String(m).padStart(2, '0')}`;
    const got = byMonth.get(key);
    out.push({ month: key, inputTokens: got?.inputTokens ?? 0, outputTokens: got?.outputTokens ?? 0 });
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
  }
  return out;
}

export function tokenTotals(months: readonly MonthStats[]): { input: number; output: number } {
  return months.reduce((t, m) => ({ input: t.input + m.inputTokens, output: t.output + m.outputTokens }), { input: 0, output: 0 });
}

/** A "nice" upper bound for an axis (1, 2, 5 x 10^n), at least 1. */
export function niceMax(value: number): number {
  if (value <= 1) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * exp) return step * exp;
  return 10 * exp;
}

/** The whole overview, ready to draw. */
export function overview(stats: ClinicStats, from: string, to: string) {
  const days = fillDays(stats.days, from, to);
  const categories = topCategories(days);
  const weeks = emergenciesByWeek(days, categories);
  const months = fillMonths(stats.months, from, to);
  return {
    days,
    messages: messagesSummary(days),
    categories,
    weeks,
    emergencies: emergencyTotal(weeks),
    months,
    tokens: tokenTotals(months),
  };
}
