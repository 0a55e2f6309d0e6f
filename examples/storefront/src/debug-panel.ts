import type { CacheStats, RequestRecord } from './client.js';
import { formatTime, h } from './dom.js';

const KEEP = 12;

export interface DebugPanel {
  add(record: RequestRecord): void;
}

/** The cache's own account of each request (`extensions.cache`), newest first. */
export function createDebugPanel(container: HTMLElement): DebugPanel {
  const list = h('ol', { class: 'requests', reversed: true });
  const hint = h(
    'p',
    { class: 'hint', hidden: true },
    'The server sends no debug view: start it with ',
    h('code', {}, 'DEBUG_EXTENSIONS=true'),
    ' (never on when NODE_ENV=production).',
  );
  let count = 0;
  container.replaceChildren(h('h2', {}, 'Cache, per request'), hint, list);

  return {
    add(record) {
      count += 1;
      hint.hidden = record.cache !== undefined;
      const { cache } = record;
      const item = h(
        'li',
        {
          class: 'request',
          'data-seq': count,
          'data-operation': record.operationName,
          'data-hits': cache?.hits,
          'data-misses': cache?.misses,
          'data-redis-round-trips': cache?.redisRoundTrips,
          'data-sql-statements': cache?.sqlStatements,
          'data-error-codes': record.errorCodes.join(' ') || undefined,
        },
        h(
          'div',
          { class: 'head' },
          h('span', { class: 'at' }, formatTime(record.at)),
          h('span', { class: 'op' }, `${record.operationType} ${record.operationName}`),
          verdictOf(record),
        ),
        cache && statsOf(cache),
        cache && record.operationType === 'mutation' && h('div', { class: 'note' }, "the view counts reads; a write's own SQL and Redis calls are not in it"),
        record.errorCodes.length > 0 && h('div', { class: 'codes' }, ...record.errorCodes.map((code) => h('code', {}, code))),
      );
      list.prepend(item);
      while (list.children.length > KEEP) list.lastElementChild?.remove();
    },
  };
}

function statsOf(cache: CacheStats): HTMLElement {
  const stat = (label: string, value: number) => h('span', { class: 'stat' }, h('b', {}, value), ` ${label}`);
  return h(
    'div',
    { class: 'stats' },
    stat('hits', cache.hits),
    stat('misses', cache.misses),
    stat('Redis round trips', cache.redisRoundTrips),
    stat('SQL statements', cache.sqlStatements),
  );
}

function verdictOf({ cache, operationType, errorCodes }: RequestRecord): HTMLElement | null {
  if (errorCodes.length > 0) return h('span', { class: 'badge refused' }, 'refused');
  if (cache === undefined) return null;
  // A mutation's own statements (transaction, write-through) are not counted by the debug view.
  if (operationType === 'mutation') return h('span', { class: 'badge write' }, 'written through');
  if (cache.hits + cache.misses === 0) return null;
  return cache.misses === 0 && cache.sqlStatements === 0
    ? h('span', { class: 'badge hit' }, 'all from cache')
    : h('span', { class: 'badge miss' }, `${cache.misses} missed the cache`);
}
