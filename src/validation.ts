import { badInput } from './errors.js';
import { canonicalId } from './ids.js';

/** Longest list of ids (or changes, or entity representations) one request may name. */
export const MAX_LIST_LENGTH = 500;
export const MAX_SKU_LENGTH = 64;
export const MAX_NAME_LENGTH = 200;
export const MAX_OWNER_LENGTH = 200;
export const MAX_SLUG_LENGTH = 64;

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

// C0 and C1 control characters, and U+2028/2029, break logs and displays and are never meant.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const WHITESPACE = /\s/;

export function requireId(raw: string, field = 'id'): string {
  const id = canonicalId(raw);
  if (id === undefined) throw badInput(`${field} is not a valid id`, field);
  return id;
}

/** A key of `entity` as a client sent it, in its canonical form; BAD_USER_INPUT when it cannot be one. */
export function requireKey(entity: { readonly parseKey: (raw: string) => string | undefined; readonly type: string }, raw: string, field = 'id'): string {
  const key = entity.parseKey(raw);
  if (key === undefined) throw badInput(`${field} is not a valid ${entity.type} id`, field);
  return key;
}

export function requireKeys(entity: { readonly parseKey: (raw: string) => string | undefined; readonly type: string }, raw: readonly string[], field = 'ids'): string[] {
  if (raw.length > MAX_LIST_LENGTH) {
    throw badInput(`${field} names ${raw.length} ids; at most ${MAX_LIST_LENGTH} are allowed`, field);
  }
  return raw.map((id, i) => requireKey(entity, id, `${field}[${i}]`));
}

export function requireIds(raw: readonly string[], field = 'ids'): string[] {
  if (raw.length > MAX_LIST_LENGTH) {
    throw badInput(`${field} names ${raw.length} ids; at most ${MAX_LIST_LENGTH} are allowed`, field);
  }
  return raw.map((id, i) => requireId(id, `${field}[${i}]`));
}

function requireText(value: string, field: string, max: number): string {
  if (value.trim().length === 0) throw badInput(`${field} must not be empty`, field);
  if ([...value].length > max) throw badInput(`${field} is longer than ${max} characters`, field);
  if (CONTROL.test(value)) throw badInput(`${field} contains control characters`, field);
  return value;
}

export function requireSku(value: string, field = 'sku'): string {
  requireText(value, field, MAX_SKU_LENGTH);
  if (WHITESPACE.test(value)) throw badInput(`${field} must not contain whitespace`, field);
  return value;
}

/** Lower-case letters and digits in dash-separated words: `kitchen-tools`. */
export function requireSlug(value: string, field = 'slug'): string {
  if (value.length === 0) throw badInput(`${field} must not be empty`, field);
  if (value.length > MAX_SLUG_LENGTH) throw badInput(`${field} is longer than ${MAX_SLUG_LENGTH} characters`, field);
  if (!SLUG.test(value)) throw badInput(`${field} must be lower-case letters and digits in words joined by single dashes (kitchen-tools)`, field);
  return value;
}

export const requireName = (value: string, field = 'name'): string => requireText(value, field, MAX_NAME_LENGTH);
export const requireOwner = (value: string, field = 'owner'): string => requireText(value, field, MAX_OWNER_LENGTH);

export function requireNonNegative(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw badInput(`${field} must be 0 or more`, field);
  return value;
}

export function requirePositive(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw badInput(`${field} must be more than 0`, field);
  return value;
}

export function requireNonZero(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value === 0) throw badInput(`${field} must not be 0`, field);
  return value;
}
