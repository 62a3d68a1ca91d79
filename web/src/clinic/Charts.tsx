/**
 * The overview's charts, drawn as SVG with visx (scales, axes and shapes from Airbnb's visx: small modules over
 * d3, no chart-wide state, and the markup stays ours, so each chart is one labelled image with a written summary
 * and a table of the same figures beside it). Loaded only with the overview page.
 */
import { useId, useLayoutEffect, useRef, useState, type ReactNode, type RefObject } from 'react';
import { AxisBottom, AxisLeft } from '@visx/axis';
import { Group } from '@visx/group';
import { scaleBand, scaleLinear } from '@visx/scale';
import { Bar } from '@visx/shape';
import { niceMax } from '../lib/stats';

export interface Series {
  key: string;
  label: string;
  /** At least 3:1 against the white background (WCAG 1.4.11), told apart by the legend and the table too. */
  color: string;
}

export interface Column {
  key: string;
  /** Axis label (short). */
  label: string;
  /** The label in the table and the bar's tooltip (long). */
  longLabel: string;
  values: Record<string, number>;
}

/** Colours at 3:1 or more against white, distinct in hue and lightness. */
export const PALETTE = ['#1d4ed8', '#b45309', '#047857', '#7e22ce', '#be123c', '#374151'];

function useWidth(fallback: number): [RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(fallback);
  // Measured before the first paint, so the chart never draws wider than its column (and widens the page).
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    setWidth(Math.floor(el.getBoundingClientRect().width) || fallback);
    if (typeof ResizeObserver === 'undefined') return undefined;
    const observer = new ResizeObserver((entries) => {
      const w = entries[0]?.contentRect.width;
      if (w) setWidth((old) => (Math.abs(w - old) > 1 ? Math.floor(w) : old));
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

const fmt = (n: number) => n.toLocaleString('en');

interface ChartProps {
  title: string;
  /** One or two sentences that say what the chart shows (the image's description). */
  summary: string;
  series: readonly Series[];
  columns: readonly Column[];
  /** Header of the first table column ("Day", "Week of", "Month"). */
  columnHeader: string;
  /** Stacked (one bar per column) or grouped (a bar per series). */
  layout: 'stacked' | 'grouped';
  /** Write large numbers short on the axis (12k). */
  compact?: boolean;
  /** Show the legend even for one series (its name is the category). */
  legend?: boolean;
  empty?: ReactNode;
}

/** A bar chart with its summary, legend and a table of the figures (for screen readers, keyboards and print). */
export function BarChart({ title, summary, series, columns, columnHeader, layout, compact, legend, empty }: ChartProps) {
  const [ref, width] = useWidth(320);
  const titleId = useId();
  const descId = useId();
  const height = 240;
  const margin = { top: 12, right: 12, bottom: 44, left: compact ? 48 : 40 };
  const innerW = Math.max(60, width - margin.left - margin.right);
  const innerH = height - margin.top - margin.bottom;
  const totals = columns.map((c) =>
    layout === 'stacked' ? series.reduce((s, x) => s + (c.values[x.key] ?? 0), 0) : Math.max(0, ...series.map((x) => c.values[x.key] ?? 0)),
  );
  const max = niceMax(Math.max(0, ...totals));
  const x = scaleBand<string>({ domain: columns.map((c) => c.key), range: [0, innerW], padding: 0.2 });
  const y = scaleLinear<number>({ domain: [0, max], range: [innerH, 0] });
  const inner = scaleBand<string>({ domain: series.map((s) => s.key), range: [0, x.bandwidth()], padding: 0.1 });
  // At most ~8 labels on the axis, so they never overlap at 390 px.
  const every = Math.max(1, Math.ceil(columns.length / Math.max(2, Math.floor(innerW / 70))));
  const labelOf = new Map(columns.map((c) => [c.key, c.label]));
  const tickFormat = (v: { valueOf(): number }) => {
    const n = Number(v);
    if (!compact || n < 1000) return fmt(n);
    return n >= 1_000_000 ? `${+(n / 1_000_000).toFixed(1)}M` : `${+(n / 1000).toFixed(1)}k`;
  };
  const nothing = totals.every((t) => t === 0);
  // Counts are whole numbers: no 0.5 on the axis.
  const ticks = y.ticks(Math.min(4, max)).filter((t) => Number.isInteger(t));

  return (
    <figure className="chart">
      <figcaption className="chart-title">{title}</figcaption>
      <p className="chart-summary">{summary}</p>
      {(series.length > 1 || legend) && (
        <ul className="chart-legend" aria-label={`Legend: ${title}`}>
          {series.map((s) => (
            <li key={s.key}>
              <span className="swatch" aria-hidden="true">
                <svg width="14" height="14" focusable="false">
                  <rect width="14" height="14" fill={s.color} />
                </svg>
              </span>
              {s.label}
            </li>
          ))}
        </ul>
      )}
      <div className="chart-area" ref={ref}>
        {nothing && empty ? (
          <p className="muted chart-empty">{empty}</p>
        ) : (
          <svg width={width} height={height} role="img" aria-labelledby={`${titleId} ${descId}`} focusable="false">
            <title id={titleId}>{title}</title>
            <desc id={descId}>{summary}</desc>
            <Group left={margin.left} top={margin.top} aria-hidden="true">
              {ticks.map((t) => (
                <line key={t} x1={0} x2={innerW} y1={y(t)} y2={y(t)} className="chart-grid" />
              ))}
              {columns.map((c) => {
                const x0 = x(c.key) ?? 0;
                if (layout === 'grouped') {
                  return series.map((s) => {
                    const v = c.values[s.key] ?? 0;
                    const top = y(v);
                    return (
                      <Bar key={`${c.key}-${s.key}`} x={x0 + (inner(s.key) ?? 0)} y={top} width={inner.bandwidth()} height={innerH - top} fill={s.color}>
                        <title>{`${c.longLabel}, ${s.label}: ${fmt(v)}`}</title>
                      </Bar>
                    );
                  });
                }
                let acc = 0;
                return series.map((s) => {
                  const v = c.values[s.key] ?? 0;
                  if (!v) return null;
                  const top = y(acc + v);
                  const bottom = y(acc);
                  acc += v;
                  return (
                    <Bar key={`${c.key}-${s.key}`} x={x0} y={top} width={x.bandwidth()} height={bottom - top} fill={s.color} className="chart-bar">
                      <title>{`${c.longLabel}${series.length > 1 ? `, ${s.label}` : ''}: ${fmt(v)}`}</title>
                    </Bar>
                  );
                });
              })}
              <AxisLeft scale={y} tickValues={ticks} tickFormat={tickFormat} hideAxisLine tickStroke="#5b6472" tickLabelProps={{ fill: '#374151', fontSize: 11, textAnchor: 'end', dx: -4, dy: 3 }} />
              <AxisBottom
                top={innerH}
                scale={x}
                stroke="#5b6472"
                tickStroke="#5b6472"
                tickValues={columns.filter((_, i) => i % every === 0).map((c) => c.key)}
                tickFormat={(k) => labelOf.get(k) ?? k}
                tickLabelProps={{ fill: '#374151', fontSize: 11, textAnchor: 'middle' }}
              />
            </Group>
          </svg>
        )}
      </div>
      <details className="chart-table">
        <summary>Show the figures as a table</summary>
        <div className="table-wrap">
          <table className="table table-compact">
            <caption className="visually-hidden">{title}</caption>
            <thead>
              <tr>
                <th scope="col">{columnHeader}</th>
                {series.map((s) => (
                  <th scope="col" key={s.key} className="num">
                    {s.label}
                  </th>
                ))}
                {layout === 'stacked' && series.length > 1 && (
                  <th scope="col" className="num">
                    Total
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {columns.map((c, i) => (
                <tr key={c.key}>
                  <th scope="row">{c.longLabel}</th>
                  {series.map((s) => (
                    <td key={s.key} className="num">
                      {fmt(c.values[s.key] ?? 0)}
                    </td>
                  ))}
                  {layout === 'stacked' && series.length > 1 && <td className="num">{fmt(totals[i] ?? 0)}</td>}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
