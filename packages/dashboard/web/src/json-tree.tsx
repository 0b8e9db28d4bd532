import type { Json } from './api.ts';

function preview(value: Json): string {
  if (Array.isArray(value)) return `[${value.length} item${value.length === 1 ? '' : 's'}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).length;
    return `{${keys} key${keys === 1 ? '' : 's'}}`;
  }
  return JSON.stringify(value);
}

function Leaf({ value }: { value: Json }) {
  const kind = value === null ? 'null' : typeof value;
  return <span class={`json-${kind}`}>{JSON.stringify(value)}</span>;
}

/**
 * A JSON value as a tree of native disclosure widgets (`<details>`): keyboard and screen-reader usable
 * without any script of ours. Levels below `openDepth` start open.
 */
export function JsonTree({
  value,
  name,
  depth = 0,
  openDepth = 1,
}: {
  value: Json;
  name?: string;
  depth?: number;
  openDepth?: number;
}) {
  const label = name === undefined ? null : <span class="json-key">{name}: </span>;
  if (value === null || typeof value !== 'object') {
    return (
      <div class="json-row">
        {label}
        <Leaf value={value} />
      </div>
    );
  }
  const entries: [string, Json][] = Array.isArray(value)
    ? value.map((item, index) => [String(index), item])
    : Object.entries(value);
  if (entries.length === 0) {
    return (
      <div class="json-row">
        {label}
        <span class="json-empty">{Array.isArray(value) ? '[]' : '{}'}</span>
      </div>
    );
  }
  return (
    <details class="json-node" open={depth < openDepth}>
      <summary>
        {label}
        <span class="json-preview">{preview(value)}</span>
      </summary>
      <div class="json-children">
        {entries.map(([key, child]) => (
          <JsonTree key={key} value={child} name={key} depth={depth + 1} openDepth={openDepth} />
        ))}
      </div>
    </details>
  );
}
