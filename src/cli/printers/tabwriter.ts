/**
 * Column alignment as kubectl's table printer gets it from Go's `text/tabwriter` (minimum cell
 * width 6, padding 3, padded with spaces): every column but the last is as wide as its widest
 * cell plus 3; the last column is not padded.
 */

/** kubectl's tabwriter minimum cell width. */
export const TABWRITER_MIN_WIDTH = 6;
/** kubectl's tabwriter padding between columns. */
export const TABWRITER_PADDING = 3;

// tabwriter counts runes (code points), not bytes or UTF-16 units.
function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Lays out rows (header first) into aligned lines, each ending in a newline. */
export function alignColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (let i = 0; i < row.length - 1; i++) {
      const w = Math.max(TABWRITER_MIN_WIDTH, runeCount(row[i] ?? '') + TABWRITER_PADDING);
      if (w > (widths[i] ?? 0)) widths[i] = w;
    }
  }
  let out = '';
  for (const row of rows) {
    let line = '';
    row.forEach((cell, i) => {
      if (i === row.length - 1) line += cell;
      else line += cell + ' '.repeat((widths[i] ?? 0) - runeCount(cell));
    });
    out += `${line}\n`;
  }
  return out;
}
