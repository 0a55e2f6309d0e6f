import { randomBytes } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A new opaque id: a UUIDv7 (RFC 9562), whose time-ordered prefix keeps the
 * primary-key index append-mostly instead of scattering inserts.
 */
export function newId(nowMs: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(nowMs, 0, 6);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The canonical (lower-case) form of a well-formed id, or undefined. */
export function canonicalId(raw: string): string | undefined {
  if (raw.length !== 36) return undefined;
  // Ids are read on every request, nearly always already canonical: test before copying.
  if (UUID.test(raw)) return raw;
  const lower = raw.toLowerCase();
  return UUID.test(lower) ? lower : undefined;
}
