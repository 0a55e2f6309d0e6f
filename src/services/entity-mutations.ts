import type { ChangeScope } from '../db/change-scope.js';
import { deleteStatement, insertRow, lockByIds, lockReferencing, updateStatement } from '../db/entity-sql.js';
import { classifyDbError } from '../db/pg-errors.js';
import type { EntityDefinition } from '../entities/define.js';
import type { ListDefinition } from '../entities/lists.js';
import { AppError, alreadyExists, badInput, inUse, notFound, versionConflict } from '../errors.js';
import { newId } from '../ids.js';
import { requireKey, requireNonNegative } from '../validation.js';
import type { Writes } from './write-through.js';

/**
 * The create, update and delete mutations a definition asks for
 * (`mutations: { create, update, delete }`), through the same write path as
 * every hand-written service: one transaction, version + 1, the outbox row and
 * the lists' versions in the same statement, the cache written after the
 * commit. Values arrive as GraphQL coerced them (the scalars check their
 * form); the table's own rules (NOT NULL, CHECK, UNIQUE, foreign keys) answer
 * with coded errors, and nothing is changed.
 */

type Values = Readonly<Record<string, unknown>>;

/** Which of a definition's fields a client's object names (own properties only), as values by field. */
function valuesOf(entity: EntityDefinition<unknown>, given: Values, argument: string): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const field of Object.keys(given)) {
    const column = entity.fields.find((f) => f.field === field);
    if (column === undefined || column === entity.version) throw badInput(`${argument}.${field} is not a field of ${entity.type} a client may set`, `${argument}.${field}`);
    const value = given[field];
    if (value === null && !column.nullable) throw badInput(`${argument}.${field} cannot be null`, `${argument}.${field}`);
    values[field] = column.id && value !== null ? idValue(entity, column.field, value, `${argument}.${field}`) : value;
    try {
      // What the column's encode refuses (a smallint out of range, text with U+0000) never reaches SQL.
      column.encode(values[field]);
    } catch (err) {
      if (!(err instanceof TypeError)) throw err;
      throw badInput(`${argument}.${field}: ${err.message}`, `${argument}.${field}`);
    }
  }
  return values;
}

/**
 * The fields a failure without a column (a value too long for varchar(n), a
 * numeric(p, s) overflow) can be about: those of the changed ones whose type
 * Postgres names. Only the table knows n, p and s.
 */
function suspects(entity: EntityDefinition<unknown>, changed: readonly string[], err: unknown): string[] {
  const message = err instanceof Error ? err.message : '';
  const fields = entity.fields.filter((f) => changed.includes(f.field));
  const of = (test: (f: (typeof fields)[number]) => boolean) => fields.filter(test).map((f) => f.field);
  if (/character varying/.test(message)) return of((f) => f.sqlType.startsWith('varchar'));
  if (/type character\(/.test(message)) return of((f) => f.sqlType.startsWith('bpchar'));
  if (/numeric field overflow/.test(message)) return of((f) => f.kind === 'numeric');
  if (/out of range/.test(message)) return of((f) => ['smallint', 'integer', 'bigint', 'real', 'double', 'numeric', 'date', 'timestamp', 'timestamptz'].includes(f.kind));
  return [];
}

/** A key (or a column holding one) as the SQL wants it: the canonical text of what the client sent. */
function idValue(entity: EntityDefinition<unknown>, field: string, value: unknown, path: string): string {
  const column = entity.fields.find((f) => f.field === field);
  if (typeof value !== 'string' && typeof value !== 'number') throw badInput(`${path} is not a valid id`, path);
  const canonical = column === entity.key ? entity.parseKey(String(value)) : String(value);
  if (canonical === undefined) throw badInput(`${path} is not a valid ${entity.type} id`, path);
  return canonical;
}

/** A failed statement as the client sees it: the table's rules as coded errors naming the field. */
function mapFailure(entity: EntityDefinition<unknown>, operation: 'create' | 'update' | 'delete', id: string | undefined, changed: readonly string[]) {
  const fieldOf = (column: string | undefined): string | undefined => entity.fields.find((f) => f.column === column)?.field;
  const about = (err: unknown, message: string, column: string | undefined) => {
    const field = fieldOf(column);
    if (field !== undefined) return badInput(message, field);
    const fields = suspects(entity, changed, err);
    return badInput(fields.length > 0 ? `${fields.join(' or ')}: ${message}` : message, fields.length === 1 ? fields[0] : undefined);
  };
  return (err: unknown): unknown => {
    if (err instanceof AppError) return err;
    const failure = classifyDbError(err);
    if (failure.kind === 'unique-violation') {
      const fields = failure.columns.map((c) => fieldOf(c) ?? c);
      return alreadyExists(entity.type, fields.join(', ') || 'unique value');
    }
    if (failure.kind === 'foreign-key-violation') {
      if (operation === 'delete') return inUse(entity.type, id ?? '', 'other rows still refer to it');
      const field = fieldOf(failure.columns[0]);
      return badInput(`${field ?? failure.columns.join(', ')} names a row that does not exist`, field);
    }
    if (failure.kind === 'invalid-value') return about(err, failure.message, failure.column);
    if (failure.kind === 'out-of-range') return about(err, 'A value is out of range for its column', undefined);
    return err;
  };
}

export async function createEntity<Row>(writes: Writes, entity: EntityDefinition<Row>, input: Values): Promise<Row> {
  const values = valuesOf(entity as EntityDefinition<unknown>, input, 'input');
  // A uuid key the client did not choose is chosen here (time-ordered); other keys come from the table (a sequence, an identity).
  if (values[entity.key.field] === undefined && entity.key.kind === 'uuid') values[entity.key.field] = newId();
  return commit(writes, entity, 'create', undefined, Object.keys(values), (scope) => insertRow(scope, entity, values));
}

export async function updateEntity<Row>(writes: Writes, entity: EntityDefinition<Row>, rawId: string, patch: Values, expectedVersion?: number | null): Promise<Row> {
  const id = requireKey(entity, rawId);
  const changes = valuesOf(entity as EntityDefinition<unknown>, patch, 'patch');
  if (Object.keys(changes).length === 0) throw badInput('patch must change at least one field', 'patch');
  if (entity.key.field in changes) throw badInput(`patch.${entity.key.field} cannot change: it is the key`, `patch.${entity.key.field}`);
  const expected = expectedVersion === undefined || expectedVersion === null ? undefined : requireNonNegative(expectedVersion, 'expectedVersion');
  return commit(writes, entity, 'update', id, Object.keys(changes), async (scope) => {
    const [before] = await lockByIds(scope.trx, entity, [id]);
    if (before === undefined) throw notFound(entity.type, id);
    checkVersion(entity, id, before, expected);
    const [row] = await scope.change(entity, 'update', updateStatement(scope.trx, entity as EntityDefinition<unknown>, id, changes, { touch: entity.mutations.touch }));
    return row as Row;
  });
}

/**
 * Deletes the row (false when there is none). Members whose foreign key names
 * it go first as the foreign key says (`onDelete` of the owner's lists), through
 * the scope, so their tombstones and lists reach the cache with the owner's;
 * a member the foreign key keeps (restrict) makes it IN_USE.
 */
export async function deleteEntity<Row>(writes: Writes, entity: EntityDefinition<Row>, lists: readonly ListDefinition[], rawId: string, expectedVersion?: number | null): Promise<boolean> {
  const id = requireKey(entity, rawId);
  const expected = expectedVersion === undefined || expectedVersion === null ? undefined : requireNonNegative(expectedVersion, 'expectedVersion');
  return commit(writes, entity, 'delete', id, [], async (scope) => {
    const [before] = await lockByIds(scope.trx, entity, [id]);
    if (before === undefined) return false;
    checkVersion(entity, id, before, expected);
    await removeOrDetachMembers(scope, entity as EntityDefinition<unknown>, lists, id, 0);
    const [deleted] = await scope.change(entity, 'delete', deleteStatement(scope.trx, entity as EntityDefinition<unknown>, id));
    return deleted !== undefined;
  });
}

const MAX_CASCADE_DEPTH = 8;

async function removeOrDetachMembers(scope: ChangeScope, owner: EntityDefinition<unknown>, lists: readonly ListDefinition[], key: string, depth: number): Promise<void> {
  if (depth > MAX_CASCADE_DEPTH) throw badInput(`deleting ${owner.type} ${key} would cascade more than ${MAX_CASCADE_DEPTH} levels deep`);
  for (const list of lists) {
    const { source, member } = list;
    if (list.owner !== owner || source.kind !== 'foreign-key' || source.onDelete === 'restrict') continue;
    const members = await lockReferencing(scope.trx, member, source.column.field, key);
    for (const row of members) {
      const memberKey = String((row as Values)[member.key.field]);
      if (source.onDelete === 'cascade') {
        await removeOrDetachMembers(scope, member, lists, memberKey, depth + 1);
        await scope.change(member, 'delete', deleteStatement(scope.trx, member, memberKey));
      } else {
        await scope.change(member, 'update', updateStatement(scope.trx, member, memberKey, { [source.column.field]: null }));
      }
    }
  }
}

function checkVersion(entity: EntityDefinition<unknown>, id: string, row: unknown, expected: number | undefined): void {
  const current = Number((row as Values)[entity.version.field]);
  if (expected !== undefined && current !== expected) throw versionConflict(entity.type, id, expected, current);
}

async function commit<R>(
  writes: Writes,
  entity: EntityDefinition<unknown>,
  operation: 'create' | 'update' | 'delete',
  id: string | undefined,
  changed: readonly string[],
  work: (scope: ChangeScope) => Promise<R>,
): Promise<R> {
  const map = mapFailure(entity, operation, id, changed);
  try {
    return await writes.commit(async (scope) => {
      try {
        return await work(scope);
      } catch (err) {
        // Mapped here, inside the attempt, so a retryable failure is still retried (db/transaction.ts).
        const failure = classifyDbError(err);
        if (failure.kind === 'retryable' || failure.kind === 'unavailable') throw err;
        throw map(err);
      }
    });
  } catch (err) {
    throw map(err);
  }
}
