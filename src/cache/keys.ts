/**
 * Cache key layout: `<prefix>:{<Type>:<id>}`. The braces are a Redis Cluster
 * hash tag, so every auxiliary key of one entity (its fill lease, its lists)
 * shares a slot with it and one script can touch both.
 */
export interface KeySpace {
  readonly prefix: string;
  entity(type: string, id: string): string;
  /** A secondary lookup (e.g. a product by sku) that points at an entity id. */
  lookup(type: string, field: string, value: string): string;
  /**
   * A list owned by an entity (`<prefix>:{Account:<id>}.orders`), under its
   * owner's hash tag; or, with `ownerId` undefined, a list over a whole type
   * (`<prefix>:{Product}.productCatalog`), tagged by that type.
   */
  list(ownerType: string, ownerId: string | undefined, name: string): string;
  /** The cache's epoch on one Redis (redis-store.ts): which run wrote the values, and since when they are trusted. */
  readonly epoch: string;
}

export function createKeySpace(prefix: string): KeySpace {
  return {
    prefix,
    entity: (type, id) => `${prefix}:{${type}:${encodeKeyPart(id)}}`,
    lookup: (type, field, value) => `${prefix}:{${type}.${field}:${encodeKeyPart(value)}}`,
    list: (ownerType, ownerId, name) =>
      ownerId === undefined ? `${prefix}:{${ownerType}}.${name}` : `${prefix}:{${ownerType}:${encodeKeyPart(ownerId)}}.${name}`,
    epoch: `${prefix}:epoch`,
  };
}

/** The fill lease of a key: same hash tag, so the CAS scripts can check and cancel it atomically. */
export const leaseKeyOf = (key: string): string => `${key}:lease`;

const PLAIN = /^[A-Za-z0-9_.:-]*$/;
const LONE_SURROGATE = /\p{Cs}/u;
// A lone surrogate, or a run of well-formed text (with the `u` flag a pair is one code point).
const RUNS = /\p{Cs}|\P{Cs}+/gu;

/**
 * Ids and lookup values are user-influenced text: percent-encoding keeps braces
 * (which would move the hash tag) and whitespace out of keys. Plain ids stay readable.
 * Never throws: a lone surrogate, which encodeURIComponent refuses, becomes `%uD800`,
 * which no percent-encoded text can produce (its `%` would be `%25`), so different
 * values still get different keys. (The API refuses such text before it gets here.)
 */
function encodeKeyPart(value: string): string {
  if (PLAIN.test(value)) return value;
  if (!LONE_SURROGATE.test(value)) return encodeURIComponent(value);
  return value.replace(RUNS, (run) =>
    LONE_SURROGATE.test(run) ? `%u${run.charCodeAt(0).toString(16).toUpperCase()}` : encodeURIComponent(run),
  );
}
