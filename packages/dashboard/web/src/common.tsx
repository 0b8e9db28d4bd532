import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from './api.ts';
import { exact, relative } from './format.ts';

/** The state of one request: loading, its value, or the message of its failure. */
export type Loaded<T> =
  | { status: 'loading' }
  | { status: 'ok'; value: T }
  | { status: 'failed'; message: string };

const describe = (error: unknown) =>
  error instanceof ApiFailure ? error.message : 'the dashboard server did not answer';

/** Runs `load` whenever `key` changes; a stale answer never overwrites a newer one. */
export function useLoad<T>(load: () => Promise<T>, key: string): [Loaded<T>, () => void] {
  const [state, setState] = useState<Loaded<T>>({ status: 'loading' });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setState({ status: 'ok', value }),
      (error: unknown) => current && setState({ status: 'failed', message: describe(error) }),
    );
    return () => {
      current = false;
    };
  }, [key, generation]);
  return [state, () => setGeneration((g) => g + 1)];
}

export function Failure({ message }: { message: string }) {
  return (
    <p class="failure" role="alert">
      {message}
    </p>
  );
}

/** A time as "5 min ago", with the exact UTC time as its tooltip and machine-readable value. */
export function Time({ at, now }: { at: number | null; now: number }) {
  if (at === null) return <span class="muted">never</span>;
  return (
    <time dateTime={new Date(at).toISOString()} title={exact(at)}>
      {relative(at, now)}
    </time>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}

/**
 * A modal confirmation (the native `<dialog>`: focus moves into it, Escape cancels). Nothing changes
 * until the operator presses the confirming button.
 */
export function Confirm(props: {
  open: boolean;
  title: string;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  children: ComponentChildren;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (props.open && !element.open) element.showModal();
    if (!props.open && element.open) element.close();
  }, [props.open]);
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-title" onClose={props.onCancel}>
      <h2 id="confirm-title">{props.title}</h2>
      {props.children}
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
