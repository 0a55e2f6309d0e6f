import { createHash } from 'node:crypto';
import type { EntityDefinition } from './define.js';
import type { ListDefinition } from './lists.js';

/**
 * The shape of a cached value: a short hash of everything in a definition
 * that decides what a value holds (each field's name, column, type,
 * nullability and enum labels; a list's members, source and order). Written
 * into every envelope, so an instance whose definition differs (a deploy that
 * added, removed, renamed or retyped a column, while older instances still
 * run) reads the other's envelopes as misses and never serves a missing or
 * mistyped field. The same definitions give the same shapes on every instance.
 */
const hash = (parts: unknown): string => createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);

export function entityShape(entity: EntityDefinition<unknown>): string {
  return hash([
    'entity',
    entity.type,
    entity.key.field,
    entity.fields.map((f) => [f.field, f.column, f.kind, f.sqlType, f.array, f.nullable, f.id, f.enumNames === undefined ? null : [...f.enumNames]]),
  ]);
}

/** A lookup hint holds the key of the entity holding the value. */
export function lookupShape(entity: EntityDefinition<unknown>, field: string): string {
  const column = entity.lookups.get(field)?.column;
  return hash(['lookup', entity.type, field, column?.column, column?.sqlType, entity.key.field, entity.key.sqlType]);
}

export function listShape(list: ListDefinition): string {
  return hash([
    'list',
    list.name,
    list.member.type,
    list.member.key.sqlType,
    list.source.kind === 'foreign-key' ? ['fk', list.source.column.column] : list.source.kind === 'join' ? ['join', list.source.table, list.source.ownerColumn, list.source.memberColumn] : ['table'],
    list.order.map((o) => [o.column.column, o.direction]),
  ]);
}

/** The registry's name of a lookup's hints (entity types and list names are their own). */
export const lookupKind = (entity: EntityDefinition<unknown>, field: string): string => `lookup:${entity.type}.${field}`;

/** Every kind of cached value the definitions declare, with its shape, by the registry's name for it. */
export function shapesOf(entities: readonly EntityDefinition<unknown>[], lists: readonly ListDefinition[]): Map<string, string> {
  const shapes = new Map<string, string>();
  for (const entity of entities) {
    shapes.set(entity.type, entityShape(entity));
    for (const field of entity.lookups.keys()) shapes.set(lookupKind(entity, field), lookupShape(entity, field));
  }
  for (const list of lists) shapes.set(list.name, listShape(list));
  return shapes;
}
