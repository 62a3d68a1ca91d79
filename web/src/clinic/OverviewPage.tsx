import { useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router';
import { messageOf } from '../api';
import { getClinicStats } from '../api/clinic';
import type { ClinicStats } from '../api/types';
import { categoryText } from '../chat/emergency';
import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { formatDate } from '../lib/format';
import { useDocumentTitle } from '../lib/hooks';
import { OTHER_CATEGORY, overview, RANGE_LABELS, rangeFor, type RangePreset } from '../lib/stats';
import { BarChart, PALETTE, type Column } from './Charts';

const fmt = (n: number) => n.toLocaleString('en');

function todayIso(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function shortDay(iso: string): string {
  return new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(new Date(`${iso}T00:00:00Z`));
}

function monthName(month: string, style: 'short' | 'long'): string {
  return new Intl.DateTimeFormat(undefined, { month: style, year: 'numeric', timeZone: 'UTC' }).format(
    new Date(`${month}-01T00:00:00Z`),
  );
}

/** Owners: the clinic's activity: messages per day, emergencies flagged per week by category, model tokens per month. */
export function OverviewPage() {
  useDocumentTitle('Overview');
  const [preset, setPreset] = useState<RangePreset>('30d');
  const range = useMemo(() => rangeFor(preset, todayIso()), [preset]);
  const [stats, setStats] = useState<ClinicStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    getClinicStats(range.from, range.to, controller.signal)
      .then((s) => {
        setStats(s);
        setLoading(false);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setError(messageOf(e));
        setLoading(false);
      });
    return () => controller.abort();
  }, [range]);

  const view = useMemo(() => (stats ? overview(stats, range.from, range.to) : null), [stats, range]);

  const messageColumns: Column[] = useMemo(
    () => (view?.days ?? []).map((d) => ({ key: d.date, label: shortDay(d.date), longLabel: formatDate(d.date), values: { messages: d.messages } })),
    [view],
  );
  const categorySeries = useMemo(
    () =>
      (view?.categories ?? []).map((c, i) => ({
        key: c,
        label: c === OTHER_CATEGORY ? 'Other' : (categoryText(c) ?? c),
        color: PALETTE[i % PALETTE.length] as string,
      })),
    [view],
  );
  const weekColumns: Column[] = useMemo(
    () => (view?.weeks ?? []).map((w) => ({ key: w.week, label: shortDay(w.week), longLabel: `Week of ${formatDate(w.week)}`, values: w.counts })),
    [view],
  );
  const monthColumns: Column[] = useMemo(
    () =>
      (view?.months ?? []).map((m) => ({
        key: m.month,
        label: monthName(m.month, 'short'),
        longLabel: monthName(m.month, 'long'),
        values: { input: m.inputTokens, output: m.outputTokens },
      })),
    [view],
  );

  const busiest = view?.messages.busiest;
  return (
    <div className="page">
      <div className="page-header">
        <h1>Overview</h1>
        <nav aria-label="Clinic pages" className="subnav">
          <Link to="/clinic">Clinic</Link>
          <Link to="/trash">Trash</Link>
        </nav>
      </div>
      <form className="range-form" onSubmit={(e) => e.preventDefault()}>
        <fieldset className="segmented">
          <legend>Period</legend>
          {(Object.keys(RANGE_LABELS) as RangePreset[]).map((p) => (
            <span key={p} className="segment">
              <input type="radio" id={`range-${p}`} name="range" value={p} checked={preset === p} onChange={() => setPreset(p)} />
              <label htmlFor={`range-${p}`}>{RANGE_LABELS[p]}</label>
            </span>
          ))}
        </fieldset>
      </form>
      <p className="result-count" role="status">
        {loading ? 'Loading…' : view ? `${formatDate(range.from)} to ${formatDate(range.to)}.` : ''}
      </p>
      {error && <Alert kind="error">{error}</Alert>}
      {loading && !view && <Loading label="Loading the overview…" />}
      {view && (
        <div className="stack" aria-busy={loading}>
          <section className="card" aria-labelledby="ov-messages">
            <h2 id="ov-messages">Messages</h2>
            <BarChart
              title="Messages to the assistant per day"
              summary={
                view.messages.total === 0
                  ? 'No messages in this period.'
                  : `${fmt(view.messages.total)} message${view.messages.total === 1 ? '' : 's'} in ${view.messages.days} days, ${view.messages.averagePerDay.toFixed(1)} a day on average${busiest ? `; the busiest day was ${formatDate(busiest.date)} with ${fmt(busiest.messages)}` : ''}.`
              }
              series={[{ key: 'messages', label: 'Messages', color: PALETTE[0] as string }]}
              columns={messageColumns}
              columnHeader="Day"
              layout="stacked"
              empty="No messages in this period."
            />
          </section>
          <section className="card" aria-labelledby="ov-emergencies">
            <h2 id="ov-emergencies">Emergencies flagged</h2>
            <BarChart
              title="Emergencies flagged per week, by category"
              summary={
                view.emergencies === 0
                  ? 'No emergencies were flagged in this period.'
                  : `${fmt(view.emergencies)} ${view.emergencies === 1 ? 'emergency' : 'emergencies'} flagged; most often: ${categorySeries
                      .slice(0, 3)
                      .map((s) => s.label.toLowerCase())
                      .join(', ')}.`
              }
              series={categorySeries.length ? categorySeries : [{ key: 'none', label: 'Emergencies', color: PALETTE[4] as string }]}
              columns={weekColumns}
              columnHeader="Week"
              layout="stacked"
              legend
              empty="No emergencies were flagged in this period."
            />
          </section>
          <section className="card" aria-labelledby="ov-tokens">
            <h2 id="ov-tokens">Model use</h2>
            <BarChart
              title="Model tokens per month"
              summary={`${fmt(view.tokens.input)} input and ${fmt(view.tokens.output)} output tokens in this period (what a cloud model bills by).`}
              series={[
                { key: 'input', label: 'Input tokens', color: PALETTE[0] as string },
                { key: 'output', label: 'Output tokens', color: PALETTE[1] as string },
              ]}
              columns={monthColumns}
              columnHeader="Month"
              layout="grouped"
              compact
              empty="The model was not used in this period."
            />
          </section>
        </div>
      )}
    </div>
  );
}
