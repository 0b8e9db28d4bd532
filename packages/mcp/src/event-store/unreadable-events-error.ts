/**
 * What a replay tells `onError` when entries of the session's event log did not open: they were skipped,
 * never sent. One report per replay, naming the entries by seq.
 */
export class UnreadableEventsError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'EVENTS_UNREADABLE' as const;

  constructor(
    /** Sealed entries that failed to open: altered in the store, copied from another session's log, truncated. */
    readonly failedSeqs: readonly number[],
    /**
     * Entries in clear, as versions before sealing wrote them. They are refused: accepting them would let
     * anyone who can write to the store put events into a session's replay. The cap trims them.
     */
    readonly unsealedSeqs: readonly number[],
  ) {
    const parts = [];
    if (failedSeqs.length > 0) {
      parts.push(
        `${failedSeqs.length} sealed event(s) that failed to open (seq ${failedSeqs.join(', ')}): ` +
          'altered in the store or copied from another session',
      );
    }
    if (unsealedSeqs.length > 0) {
      parts.push(
        `${unsealedSeqs.length} unsealed event(s) written before events were sealed (seq ${unsealedSeqs.join(', ')})`,
      );
    }
    super(
      `Replay skipped ${parts.join(', and ')}. The client gets the other events; if entries keep failing, ` +
        'check who writes to the session store.',
    );
    this.name = 'UnreadableEventsError';
  }
}
