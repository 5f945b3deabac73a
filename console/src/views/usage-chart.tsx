// One uPlot time-series chart. uPlot draws to a canvas and sets sizes through element.style (the CSSOM, which the
// CSP allows); it is created once and fed new data in place, so auto-refresh does not flicker or leak.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';
import type { SeriesDef } from '../usage-series';

export interface UsageChartProps {
  id: string;
  title: string;
  x: number[];
  defs: SeriesDef[];
  columns: number[][];
  /** Text alternative for the canvas: the totals in words. */
  summary: string;
}

const heightFor = (width: number): number => (width < 500 ? 200 : 260);

export function UsageChart({ id, title, x, defs, columns, summary }: UsageChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const width = Math.max(240, el.clientWidth);
    const opts: uPlot.Options = {
      width,
      height: heightFor(width),
      series: [{}, ...defs.map((d) => ({ label: d.label, stroke: d.color, width: 2, fill: `${d.color}14`, points: { show: false } }))],
      axes: [{}, { size: 50 }],
      scales: { x: { time: true } },
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    };
    const p = new uPlot(opts, [x, ...columns] as uPlot.AlignedData, el);
    plot.current = p;
    // uPlot's legend is a table; name it for assistive technology (the totals table below has the numbers).
    p.root.querySelector('table')?.setAttribute('aria-label', `${title}: legend`);
    // Follow the container's width (phone rotation, window resizes).
    const observer = new ResizeObserver(() => {
      const w = Math.max(240, el.clientWidth);
      if (Math.abs(w - p.width) > 1) p.setSize({ width: w, height: heightFor(w) });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      p.destroy();
      plot.current = null;
    };
    // The series definitions are fixed per chart; data changes go through setData below.
  }, [defs]);

  useEffect(() => {
    plot.current?.setData([x, ...columns] as uPlot.AlignedData);
  }, [x, columns]);

  return (
    <figure class="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`}>{title}</figcaption>
      <div ref={box} class="chart-canvas" id={id} role="img" aria-label={`${title}: ${summary}`} />
    </figure>
  );
}
