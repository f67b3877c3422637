/**
 * Column alignment as kubectl's table printer gets it from its elastic tabwriter (Go's
 * `text/tabwriter` semantics with minimum cell width 6, padding 3, padded with spaces, no flags
 * that change layout).
 *
 * The writer sees text, not a grid: a cell is text terminated by a tab (or vertical tab); the text
 * after the last tab of a line belongs to no column and is never padded. A column is laid out per
 * block of consecutive lines that have a terminated cell in it, as wide as its widest cell plus
 * the padding, but at least the minimum width. Widths count code points, as Go counts runes.
 */

/** kubectl's tabwriter minimum cell width (cli-runtime `tabwriterMinWidth`). */
export const TABWRITER_MIN_WIDTH = 6;
/** kubectl's tabwriter padding between columns (cli-runtime `tabwriterPadding`). */
export const TABWRITER_PADDING = 3;

// Characters that end a cell; '\v' ends a "soft" cell, which lays out the same without flags.
const CELL_TERMINATOR = /[\t\v]/;

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

interface Cell {
  readonly text: string;
  readonly width: number;
}

/**
 * Lays out tab-separated lines as the tabwriter does. `text` is what was written to it (lines
 * ending in '\n'); the result is what it writes out on flush.
 */
export function tabwrite(text: string): string {
  const rawLines = text.split('\n');
  // A trailing newline leaves an empty final piece, which is not a line of its own.
  const trailingNewline = rawLines.length > 0 && rawLines[rawLines.length - 1] === '';
  if (trailingNewline) rawLines.pop();
  const lines: Cell[][] = rawLines.map((l) =>
    l.split(CELL_TERMINATOR).map((t) => ({ text: t, width: runeCount(t) })),
  );
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const line = lines[i] ?? [];
      let s = '';
      line.forEach((cell, j) => {
        s += cell.text;
        const w = widths[j];
        if (w !== undefined) s += ' '.repeat(Math.max(0, w - cell.width));
      });
      out.push(s);
    }
  };

  const format = (from: number, to: number): void => {
    const column = widths.length;
    let start = from;
    for (let i = from; i < to; i++) {
      if (column >= (lines[i]?.length ?? 0) - 1) continue;
      // A column block begins at line i: everything before it is laid out already.
      writeLines(start, i);
      start = i;
      let width = TABWRITER_MIN_WIDTH;
      for (; i < to; i++) {
        const line = lines[i] ?? [];
        if (column >= line.length - 1) break;
        width = Math.max(width, (line[column]?.width ?? 0) + TABWRITER_PADDING);
      }
      widths.push(width);
      format(start, i);
      widths.pop();
      start = i;
      i--; // the loop's increment must look at line i again
    }
    writeLines(start, to);
  };

  format(0, lines.length);
  return out
    .map((l) => `${l}\n`)
    .join('')
    .slice(0, trailingNewline ? undefined : -1);
}

/** Lays out rows of cells (header first) as kubectl does: cells joined by tabs, one line each. */
export function alignColumns(rows: readonly (readonly string[])[]): string {
  return tabwrite(rows.map((r) => `${r.join('\t')}\n`).join(''));
}
