/** A location for one conformance case, and the clean-up that removes what the case wrote there. */
export interface FreshLocation {
  location: string;
  cleanup(): unknown;
}

/** The `location` and `destroy` options of `runStoreConformance` (from `@mcp-session/test-suite`). */
export interface ConformanceLocations {
  location(): string;
  destroy(location: string): Promise<void>;
}

/**
 * `location` and `destroy` for `runStoreConformance` from a `fresh…` helper: each case's location comes
 * from `fresh`, and `destroy` runs the clean-up that came with that location, so nothing has to be worked
 * back out of the location string.
 */
export function conformanceLocations(fresh: () => FreshLocation): ConformanceLocations {
  const cleanups = new Map<string, () => unknown>();
  return {
    location: () => {
      const { location, cleanup } = fresh();
      cleanups.set(location, cleanup);
      return location;
    },
    destroy: async (location) => {
      const cleanup = cleanups.get(location);
      if (cleanup === undefined) throw new Error(`${location} is not a location this run made`);
      cleanups.delete(location);
      await cleanup();
    },
  };
}
