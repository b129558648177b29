// The report's chart: per-request overhead as a ratio to the bare client, for each adapter
// and peer, at each concurrency. A plain SVG, written by hand so the report needs no
// plotting dependency and renders on GitHub.
import { REFERENCE_LAYERS, REFERENCE_WRAPPER, type OverheadReport } from './overhead.js';

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Bars of median wall-time ratios (1.00 = the bare client), with the target drawn as a line. */
export function overheadChart(reports: OverheadReport[], target: number): string {
  const rows: { label: string; ratio: number; peer: boolean; floor: boolean; concurrency: number }[] = [];
  for (const report of reports) {
    for (const { results } of report.families) {
      for (const r of results.slice(1)) {
        rows.push({
          label: r.name,
          ratio: r.wallRatio.median,
          peer: !r.name.startsWith('@authrail/'),
          floor:
            r.name.includes('noise floor') || r.name === REFERENCE_WRAPPER || r.name === REFERENCE_LAYERS,
          concurrency: report.concurrency,
        });
      }
    }
  }
  const left = 330;
  const width = 760;
  const barHeight = 16;
  const gap = 6;
  const top = 64;
  const plotWidth = width - left - 70;
  const max = Math.max(1.3, target + 0.05, ...rows.map((r) => r.ratio));
  const min = 0.9;
  const x = (ratio: number) => left + ((Math.max(min, ratio) - min) / (max - min)) * plotWidth;
  const groups = [...new Set(rows.map((r) => r.concurrency))];
  let y = top;
  const parts: string[] = [];
  for (const concurrency of groups) {
    parts.push(`<text x="8" y="${y + 12}" font-weight="bold">concurrency ${concurrency}</text>`);
    y += barHeight + gap;
    for (const row of rows.filter((r) => r.concurrency === concurrency)) {
      const fill = row.floor ? '#e2e8f0' : row.peer ? '#9aa5b1' : row.ratio <= target ? '#2f855a' : '#c05621';
      parts.push(
        `<text x="${left - 8}" y="${y + 12}" text-anchor="end">${escape(row.label)}</text>`,
        `<rect x="${x(min)}" y="${y}" width="${Math.max(1, x(row.ratio) - x(min))}" height="${barHeight}" fill="${fill}"/>`,
        `<text x="${x(row.ratio) + 4}" y="${y + 12}">${row.ratio.toFixed(3)}</text>`,
      );
      y += barHeight + gap;
    }
    y += gap * 2;
  }
  const height = y + 30;
  // The bare client's line is labelled below the bars, the target's above: they are close.
  const axis = [1, target]
    .map((value) => {
      const bare = value === 1;
      const line = `<line x1="${x(value)}" y1="${top - 8}" x2="${x(value)}" y2="${y}" stroke="${bare ? '#333' : '#c53030'}"${bare ? '' : ' stroke-dasharray="4 3"'}/>`;
      const label = bare
        ? `<text x="${x(value)}" y="${y + 16}" text-anchor="middle">1.00 = the bare client</text>`
        : `<text x="${x(value)}" y="${top - 12}" text-anchor="start" fill="#c53030">target ${value.toFixed(2)}</text>`;
      return line + label;
    })
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    '<text x="8" y="20" font-size="14" font-weight="bold">Per-request time over the bare client, cached token (median of interleaved rounds)</text>',
    '<text x="8" y="38" fill="#555">green: authrail within the target · orange: authrail over it · grey: peer libraries · light: the bare client against itself (noise) and the references</text>',
    ...parts,
    axis,
    '</svg>',
    '',
  ].join('\n');
}
