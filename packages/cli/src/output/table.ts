/** One column of a table. */
export interface Column<Row> {
  /** Header text, printed in capitals. */
  header: string;
  /** The cell text of a row. */
  cell: (row: Row) => string;
  /** Right-align (numbers). */
  right?: boolean;
  /** Cut longer cells to this many characters, ending them with `…`. */
  maxWidth?: number;
}

/**
 * Renders rows as a plain-text table: a header line, then one line per row, columns separated by two
 * spaces and padded to the widest cell. No borders, so the output greps and cuts cleanly.
 */
export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((column) => clip(column.cell(row), column.maxWidth)));
  const headers = columns.map((column) => column.header.toUpperCase());
  const widths = columns.map((_, i) =>
    Math.max(headers[i]?.length ?? 0, ...cells.map((line) => line[i]?.length ?? 0)),
  );
  const format = (line: readonly string[]) =>
    line
      .map((text, i) => {
        const width = widths[i] ?? 0;
        return columns[i]?.right ? text.padStart(width) : text.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [format(headers), ...cells.map(format)].join('\n');
}

/** Shortens `text` to `max` characters, marking the cut with `…`. */
export function clip(text: string, max: number | undefined): string {
  if (max === undefined || text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Aligned `label  value` lines for detail views. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}
