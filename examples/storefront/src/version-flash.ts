export const FLASH_MS = 1500;

export interface VersionFlash {
  /** Notes the versions about to be shown; those that went up since the last call start flashing. */
  note(entities: readonly ({ readonly id: string; readonly version: number } | null)[]): void;
  has(id: string): boolean;
}

/**
 * A row whose version went up since it was last shown (a change made here or in
 * another window) is marked for a moment; `rerender` runs when the mark ends.
 */
export function createVersionFlash(rerender: () => void): VersionFlash {
  const versions = new Map<string, number>();
  const flashing = new Set<string>();
  return {
    note(entities) {
      for (const entity of entities) {
        if (entity === null) continue;
        const seen = versions.get(entity.id);
        versions.set(entity.id, entity.version);
        if (seen === undefined || seen >= entity.version) continue;
        flashing.add(entity.id);
        setTimeout(() => {
          flashing.delete(entity.id);
          rerender();
        }, FLASH_MS);
      }
    },
    has: (id) => flashing.has(id),
  };
}
