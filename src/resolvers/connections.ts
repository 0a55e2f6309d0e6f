import type { RequestContext } from '../context.js';
import { CONNECTION_DEFAULT_FIRST, CONNECTION_MAX_FIRST, type ListDefinition } from '../entities/lists.js';
import { badInput } from '../errors.js';
import { readPage } from '../loaders/list-pages.js';
import { decodeCursor, encodeCursor } from './cursors.js';

type Row = Readonly<Record<string, unknown>>;

/** What a connection field resolves to; `edges` and `nodes` load the page's members when asked for (one batch for both). */
export interface ConnectionValue {
  readonly totalCount: number;
  readonly pageInfo: () => Promise<PageInfoValue>;
  readonly edges: () => Promise<{ cursor: string; node: Row }[]>;
  readonly nodes: () => Promise<Row[]>;
}

export interface PageInfoValue {
  readonly hasNextPage: boolean;
  readonly hasPreviousPage: boolean;
  readonly startCursor: string | null;
  readonly endCursor: string | null;
}

/** `first` as the spec has it: absent or null means the default; 0 to the maximum, else BAD_USER_INPUT. */
export function firstOf(raw: unknown): number {
  if (raw === undefined || raw === null) return CONNECTION_DEFAULT_FIRST;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > CONNECTION_MAX_FIRST) {
    throw badInput(`first must be between 0 and ${CONNECTION_MAX_FIRST}`, 'first');
  }
  return raw;
}

/**
 * A page of a list served as a connection. Members deleted between reading the
 * list and reading them are left out (the page then holds fewer than `first`).
 */
export async function connection(list: ListDefinition, owner: string, args: Readonly<Record<string, unknown>>, { loaders }: RequestContext): Promise<ConnectionValue> {
  const first = firstOf(args['first']);
  const rawAfter = args['after'];
  if (rawAfter !== undefined && rawAfter !== null && typeof rawAfter !== 'string') throw badInput('after must be a string', 'after');
  const after = typeof rawAfter === 'string' ? decodeCursor(rawAfter, list, owner) : undefined;
  const page = await readPage(loaders, list, owner, first, after);
  let members: Promise<{ id: string; row: Row }[]> | undefined;
  const load = () =>
    (members ??= loaders
      .of(list.member)
      .loadMany(page.ids)
      .then((rows) =>
        rows.flatMap((row, i) => {
          if (row instanceof Error) throw row;
          return row === null ? [] : [{ id: page.ids[i] as string, row: row as Row }];
        }),
      ));
  const cursorOf = (m: { id: string; row: Row }) => encodeCursor(list, owner, m.id, list.order.map((o) => m.row[o.column.field]));
  return {
    totalCount: page.total,
    edges: async () => (await load()).map((m) => ({ cursor: cursorOf(m), node: m.row })),
    nodes: async () => (await load()).map((m) => m.row),
    pageInfo: async () => {
      const loaded = await load();
      const [head] = loaded;
      const tail = loaded.at(-1);
      return {
        hasNextPage: page.hasNext,
        hasPreviousPage: after !== undefined,
        startCursor: head === undefined ? null : cursorOf(head),
        endCursor: tail === undefined ? null : cursorOf(tail),
      };
    },
  };
}

/** A small bounded list served whole, as a plain GraphQL list (its declared maximum). */
export async function plainList(list: ListDefinition, owner: string, max: number, { loaders }: RequestContext): Promise<Row[]> {
  const page = await readPage(loaders, list, owner, max, undefined);
  const rows = await loaders.of(list.member).loadMany(page.ids);
  return rows.flatMap((row) => {
    if (row instanceof Error) throw row;
    return row === null ? [] : [row as Row];
  });
}
