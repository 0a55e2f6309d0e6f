import { EntityDefinitionError, type EntityDefinition, type FieldColumn, type OnDelete, type OrderTerm, type ServeAs } from './define.js';

/** Pages of a connection: `first` when the client gives none, and the most it may ask for. */
export const CONNECTION_DEFAULT_FIRST = 20;
export const CONNECTION_MAX_FIRST = 100;

/** Where a list's members come from, as the SQL sees it. */
export type ListSource =
  /** Members whose `column` (of the member's table) holds the owner's key; `onDelete`: what deleting the owner does to them. */
  | { readonly kind: 'foreign-key'; readonly column: FieldColumn; readonly onDelete: OnDelete }
  /** Rows of a join table: `ownerColumn` names the owner, `memberColumn` the member. */
  | { readonly kind: 'join'; readonly table: string; readonly ownerColumn: string; readonly memberColumn: string }
  /** Every row of the member's table. */
  | { readonly kind: 'table' };

export interface ListOrderColumn {
  readonly column: FieldColumn;
  readonly direction: 'asc' | 'desc';
}

/**
 * One to-many relation or root list, resolved from the declarations: everything
 * the SQL, the cache, the loaders and the resolvers need to know of it.
 */
export interface ListDefinition {
  /** Unique: names the list in the outbox and in `cache_list_versions` (`Account.orders`, `Query.productCatalog`). */
  readonly name: string;
  /** The GraphQL type (`Account`, or `Query` for a root list) and field serving it. */
  readonly on: string;
  readonly field: string;
  /** The entity whose rows own a list each; undefined for a list over the whole member table. */
  readonly owner: EntityDefinition<unknown> | undefined;
  readonly member: EntityDefinition<unknown>;
  readonly source: ListSource;
  /** Member columns in list order; always ends with the member's key, so the order is total. */
  readonly order: readonly ListOrderColumn[];
  readonly serve: ServeAs;
}

/** The owner id of a root list, where one must be written (the outbox, `cache_list_versions`). */
export const ROOT_OWNER = '';

/** Every list the definitions declare, checked: members and columns exist, orders are on non-null columns. */
export function resolveLists(entities: readonly EntityDefinition<unknown>[]): ListDefinition[] {
  const byType = new Map(entities.map((e) => [e.type, e]));
  const lists: ListDefinition[] = [];
  const fail = (where: string, message: string): never => {
    throw new EntityDefinitionError(`${where}: ${message}`);
  };
  const entityNamed = (where: string, type: string): EntityDefinition<unknown> =>
    byType.get(type) ?? fail(where, `names ${type}, which is not in ENTITIES`);
  const orderOf = (where: string, member: EntityDefinition<unknown>, terms: readonly OrderTerm[]): ListOrderColumn[] => {
    const order = terms.map((term) => {
      const column = member.fields.find((f) => f.field === term.field) ?? fail(where, `orders by ${member.type}.${term.field}, which is not a column`);
      if (column.nullable) fail(where, `orders by ${member.type}.${term.field}, which may be NULL; order by non-null columns`);
      if (column.array || column.kind === 'json' || column.kind === 'jsonb' || column.kind === 'bytea') {
        fail(where, `orders by ${member.type}.${term.field}, a ${column.sqlType} column; order by columns with a total order (numbers, text, dates, enums)`);
      }
      return { column, direction: term.direction };
    });
    if (order.at(-1)?.column !== member.key) order.push({ column: member.key, direction: order.at(-1)?.direction ?? 'asc' });
    return order;
  };
  const checkServe = (where: string, serve: ServeAs): ServeAs => {
    if (serve.kind === 'list' && (!Number.isSafeInteger(serve.max) || serve.max < 1)) fail(where, 'a plain list needs a maximum of 1 or more');
    return serve;
  };

  for (const owner of entities) {
    for (const [field, relation] of owner.lists) {
      const where = `entity ${owner.type}: list ${field}`;
      if (relation.kind === 'foreign-key') {
        const member = entityNamed(where, relation.of);
        const column = member.fields.find((f) => f.field === relation.by) ?? fail(where, `by names ${member.type}.${relation.by}, which is not a column`);
        if (column.sqlType !== owner.key.sqlType) fail(where, `${member.type}.${relation.by} is ${column.sqlType}, but ${owner.type}'s key is ${owner.key.sqlType}`);
        if (relation.onDelete === 'set-null' && !column.nullable) fail(where, `onDelete set-null needs ${member.type}.${relation.by} to allow NULL`);
        lists.push({
          name: `${owner.type}.${field}`,
          on: owner.type,
          field,
          owner,
          member,
          source: { kind: 'foreign-key', column, onDelete: relation.onDelete },
          order: orderOf(where, member, relation.order),
          serve: checkServe(where, relation.serve),
        });
      } else {
        const { join } = relation;
        const from = join.sides[relation.from] ?? fail(where, `join table ${join.table} has no side ${relation.from}`);
        const to = join.sides[relation.to] ?? fail(where, `join table ${join.table} has no side ${relation.to}`);
        if (relation.from === relation.to) fail(where, 'from and to must name different sides');
        if (from.type !== owner.type) fail(where, `side ${relation.from} of ${join.table} references ${from.type}, not ${owner.type}`);
        const member = entityNamed(where, to.type);
        lists.push({
          name: `${owner.type}.${field}`,
          on: owner.type,
          field,
          owner,
          member,
          source: { kind: 'join', table: join.table, ownerColumn: from.column, memberColumn: to.column },
          order: orderOf(where, member, relation.order),
          serve: checkServe(where, relation.serve),
        });
      }
    }
    for (const [field, root] of owner.rootLists) {
      const where = `entity ${owner.type}: root list ${field}`;
      lists.push({
        name: `Query.${field}`,
        on: 'Query',
        field,
        owner: undefined,
        member: owner,
        source: { kind: 'table' },
        order: orderOf(where, owner, root.order),
        serve: checkServe(where, root.serve ?? { kind: 'connection' }),
      });
    }
  }
  const names = new Set<string>();
  for (const list of lists) {
    if (names.has(list.name)) fail(`list ${list.name}`, 'declared twice');
    names.add(list.name);
  }
  return lists;
}

/** The join tables the lists read, each once, with the lists that read it. */
export function joinTablesOf(lists: readonly ListDefinition[]): Map<string, ListDefinition[]> {
  const tables = new Map<string, ListDefinition[]>();
  for (const list of lists) {
    if (list.source.kind !== 'join') continue;
    const using = tables.get(list.source.table);
    if (using) using.push(list);
    else tables.set(list.source.table, [list]);
  }
  return tables;
}
