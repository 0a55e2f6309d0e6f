/**
 * Cache key layout: `<prefix>:{<Type>:<id>}`. The braces are a Redis Cluster
 * hash tag, so every auxiliary key of one entity (its fill lease) shares a
 * slot with it and one script can touch both.
 */
export interface KeySpace {
  readonly prefix: string;
  entity(type: string, id: string): string;
  /** A secondary lookup (e.g. a product by sku) that points at an entity id. */
  lookup(type: string, field: string, value: string): string;
}

export function createKeySpace(prefix: string): KeySpace {
  return {
    prefix,
    entity: (type, id) => `${prefix}:{${type}:${encodeKeyPart(id)}}`,
    lookup: (type, field, value) => `${prefix}:{${type}.${field}:${encodeKeyPart(value)}}`,
  };
}

/** The fill lease of a key: same hash tag, so the CAS scripts can check and cancel it atomically. */
export const leaseKeyOf = (key: string): string => `${key}:lease`;

/**
 * Ids and lookup values are user-influenced text: percent-encoding keeps braces
 * (which would move the hash tag) and whitespace out of keys. Plain ids stay readable.
 */
function encodeKeyPart(value: string): string {
  return /^[A-Za-z0-9_.:-]*$/.test(value) ? value : encodeURIComponent(value);
}
