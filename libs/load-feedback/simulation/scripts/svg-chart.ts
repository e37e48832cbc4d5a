/**
 * A hand-written SVG line chart of a closed-loop run: no dependency, so the chart can be redrawn on
 * any machine that runs the tests. Two panels over the same tick axis: load (offered demand and
 * utilization against the target band) above, multipliers per priority below.
 */
export interface ChartPoint {
  readonly tick: number;
  /** Credits/s asked for, over capacity. */
  readonly demandRatio: number;
  /** The fleet's utilization (admitted over capacity). */
  readonly utilization: number;
  /** Mean multiplier over the plans of each priority. */
  readonly critical: number;
  readonly standard: number;
  readonly batch: number;
}

export interface ChartOptions {
  readonly title: string;
  readonly subtitle: string;
  readonly target: number;
  /** Half-width of the shaded band around the target. */
  readonly band: number;
  /** Ticks at which demand steps, drawn as vertical markers with their labels. */
  readonly markers: readonly { readonly tick: number; readonly label: string }[];
}

const width = 1000;
const height = 740;
const margin = { left: 70, right: 190, top: 88 };
const panelHeight = 260;
const panelGap = 70;
const colors = {
  demand: '#7f7f7f',
  utilization: '#1f77b4',
  band: '#2ca02c',
  critical: '#d62728',
  standard: '#ff7f0e',
  batch: '#9467bd',
  grid: '#e5e5e5',
  axis: '#333333',
};

export function renderClosedLoopChart(points: readonly ChartPoint[], options: ChartOptions): string {
  const frame = layout(points);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(margin.left, 28, options.title, { size: 18, weight: 'bold' }),
    text(margin.left, 48, options.subtitle, { size: 12, fill: '#555555' }),
    ...loadPanel(points, options, frame),
    ...multiplierPanel(points, frame),
    ...tickAxis(frame),
    ...legend(options, frame),
    '</svg>',
  ];
  return parts.join('\n') + '\n';
}

/** Where things go: the tick axis shared by both panels, and each panel's top and value scale. */
interface Frame {
  readonly plotWidth: number;
  readonly tickMin: number;
  readonly tickMax: number;
  readonly x: (tick: number) => number;
  readonly loadTop: number;
  readonly loadMax: number;
  readonly yLoad: (v: number) => number;
  readonly multTop: number;
  readonly multMax: number;
  readonly yMult: (v: number) => number;
}

function layout(points: readonly ChartPoint[]): Frame {
  const plotWidth = width - margin.left - margin.right;
  const ticks = points.map((p) => p.tick);
  const tickMin = Math.min(...ticks);
  const tickMax = Math.max(...ticks);
  const x = (tick: number) => margin.left + ((tick - tickMin) / Math.max(1, tickMax - tickMin)) * plotWidth;

  const loadTop = margin.top;
  const loadMax = Math.max(2.2, Math.ceil(Math.max(...points.map((p) => p.demandRatio)) * 5) / 5);
  const yLoad = (v: number) => loadTop + panelHeight - (v / loadMax) * panelHeight;
  const multTop = loadTop + panelHeight + panelGap;
  const multMax = 1.6;
  const yMult = (v: number) => multTop + panelHeight - (v / multMax) * panelHeight;
  return { plotWidth, tickMin, tickMax, x, loadTop, loadMax, yLoad, multTop, multMax, yMult };
}

/** The upper panel: demand and utilization against the target band, and the demand steps' markers across both panels. */
function loadPanel(points: readonly ChartPoint[], options: ChartOptions, frame: Frame): string[] {
  const { plotWidth, x, loadTop, loadMax, yLoad, multTop } = frame;
  return [
    `<rect x="${margin.left}" y="${fmt(yLoad(options.target + options.band))}" width="${plotWidth}" height="${fmt(yLoad(options.target - options.band) - yLoad(options.target + options.band))}" fill="${colors.band}" fill-opacity="0.15"/>`,
    line(margin.left, yLoad(options.target), margin.left + plotWidth, yLoad(options.target), colors.band, { dash: '6 4' }),
    ...grid(margin.left, plotWidth, loadMax, 0.2, yLoad, (v) => `${Math.round(v * 100)}%`),
    ...markers(options.markers, x, loadTop, multTop + panelHeight),
    polyline(points.map((p) => [x(p.tick), yLoad(p.demandRatio)]), colors.demand, { dash: '5 3', width: 2 }),
    polyline(points.map((p) => [x(p.tick), yLoad(p.utilization)]), colors.utilization, { width: 2.5 }),
    axes(margin.left, loadTop, plotWidth, panelHeight),
    text(margin.left, loadTop - 10, 'share of capacity', { fill: '#555555' }),
  ];
}

/** The lower panel: the mean multiplier of each priority. */
function multiplierPanel(points: readonly ChartPoint[], frame: Frame): string[] {
  const { plotWidth, x, multTop, multMax, yMult } = frame;
  return [
    ...grid(margin.left, plotWidth, multMax, 0.25, yMult, (v) => v.toFixed(2)),
    // Widest first: where the multipliers coincide (all at 1 or at the borrowing cap) the lines show as
    // nested stripes instead of the last one hiding the others.
    polyline(points.map((p) => [x(p.tick), yMult(p.critical)]), colors.critical, { width: 6 }),
    polyline(points.map((p) => [x(p.tick), yMult(p.standard)]), colors.standard, { width: 3.5 }),
    polyline(points.map((p) => [x(p.tick), yMult(p.batch)]), colors.batch, { width: 1.5 }),
    axes(margin.left, multTop, plotWidth, panelHeight),
    text(margin.left, multTop - 10, 'load multiplier (mean over the plans of each priority)', { fill: '#555555' }),
  ];
}

/** Tick axis labels under the lower panel. */
function tickAxis(frame: Frame): string[] {
  const { plotWidth, tickMin, tickMax, x, multTop } = frame;
  const parts: string[] = [];
  const step = niceStep(tickMax - tickMin);
  for (let t = Math.ceil(tickMin / step) * step; t <= tickMax; t += step) {
    parts.push(text(x(t), multTop + panelHeight + 18, String(t), { anchor: 'middle' }));
    parts.push(line(x(t), multTop + panelHeight, x(t), multTop + panelHeight + 5, colors.axis));
  }
  parts.push(text(margin.left + plotWidth / 2, multTop + panelHeight + 40, 'controller tick', { anchor: 'middle', fill: '#555555' }));
  return parts;
}

/** Each panel's legend, right of it. */
function legend(options: ChartOptions, frame: Frame): string[] {
  const { plotWidth, loadTop, multTop } = frame;
  const parts: string[] = [];
  const legendX = margin.left + plotWidth + 20;
  const loadLegend: [string, string, string | undefined][] = [
    ['offered demand', colors.demand, '5 3'],
    ['utilization', colors.utilization, undefined],
    [`target ± ${Math.round(options.band * 100)}%`, colors.band, '6 4'],
  ];
  loadLegend.forEach(([label, color, dash], i) => parts.push(...legendRow(legendX, loadTop + 10 + i * 22, label, color, dash)));
  const multLegend: [string, string][] = [
    ['critical', colors.critical],
    ['standard', colors.standard],
    ['batch', colors.batch],
  ];
  multLegend.forEach(([label, color], i) => parts.push(...legendRow(legendX, multTop + 10 + i * 22, label, color, undefined, [6, 3.5, 1.5][i])));
  return parts;
}

function grid(left: number, plotWidth: number, max: number, every: number, y: (v: number) => number, label: (v: number) => string): string[] {
  const out: string[] = [];
  for (let v = 0; v <= max + 1e-9; v += every) {
    out.push(line(left, y(v), left + plotWidth, y(v), colors.grid));
    out.push(text(left - 8, y(v) + 4, label(v), { anchor: 'end', fill: '#555555' }));
  }
  return out;
}

function markers(list: ChartOptions['markers'], x: (t: number) => number, top: number, bottom: number): string[] {
  return list.flatMap((m) => [
    line(x(m.tick), top, x(m.tick), bottom, '#999999', { dash: '2 3' }),
    text(x(m.tick) + 4, top + 14, m.label, { fill: '#555555' }),
  ]);
}

function axes(left: number, top: number, plotWidth: number, plotHeight: number): string {
  return `<path d="M${left},${top} V${top + plotHeight} H${left + plotWidth}" fill="none" stroke="${colors.axis}" stroke-width="1"/>`;
}

function legendRow(x: number, y: number, label: string, color: string, dash: string | undefined, width = 2.5): string[] {
  return [line(x, y, x + 28, y, color, { width, ...(dash === undefined ? {} : { dash }) }), text(x + 36, y + 4, label)];
}

function line(x1: number, y1: number, x2: number, y2: number, color: string, style: { width?: number; dash?: string } = {}): string {
  const dash = style.dash === undefined ? '' : ` stroke-dasharray="${style.dash}"`;
  return `<line x1="${fmt(x1)}" y1="${fmt(y1)}" x2="${fmt(x2)}" y2="${fmt(y2)}" stroke="${color}" stroke-width="${style.width ?? 1}"${dash}/>`;
}

function polyline(points: readonly (readonly [number, number])[], color: string, style: { width?: number; dash?: string }): string {
  const dash = style.dash === undefined ? '' : ` stroke-dasharray="${style.dash}"`;
  const coords = points.map(([px, py]) => `${fmt(px)},${fmt(py)}`).join(' ');
  return `<polyline points="${coords}" fill="none" stroke="${color}" stroke-width="${style.width ?? 1.5}" stroke-linejoin="round"${dash}/>`;
}

function text(x: number, y: number, content: string, style: { size?: number; weight?: string; fill?: string; anchor?: string } = {}): string {
  const attrs = [
    `x="${fmt(x)}"`,
    `y="${fmt(y)}"`,
    style.size === undefined ? '' : `font-size="${style.size}"`,
    style.weight === undefined ? '' : `font-weight="${style.weight}"`,
    `fill="${style.fill ?? colors.axis}"`,
    style.anchor === undefined ? '' : `text-anchor="${style.anchor}"`,
  ].filter((a) => a !== '');
  return `<text ${attrs.join(' ')}>${escapeXml(content)}</text>`;
}

function niceStep(range: number): number {
  const raw = range / 10;
  const magnitude = Math.pow(10, Math.floor(Math.log10(Math.max(1, raw))));
  const candidates = [1, 2, 5, 10].map((c) => c * magnitude);
  return candidates.find((c) => c >= raw) ?? 10 * magnitude;
}

function fmt(value: number): string {
  return value.toFixed(1);
}

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
