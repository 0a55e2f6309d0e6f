import type { Knex } from 'knex';
import { rowsOf } from './rows.js';

export interface ShapeRegistryOptions {
  /** This instance's shape of each kind of cached value, by kind. */
  readonly shapes: ReadonlyMap<string, string>;
  /** How often the newest shapes are read again. @default 5000 */
  readonly refreshMs?: number;
  readonly onError?: (err: unknown) => void;
}

/**
 * Which shape of each kind of cached value fills the cache: the one whose
 * instance started last (cache_shapes). While a deploy rolls a changed type
 * out, the older instances learn within `refreshMs` that theirs is no longer
 * the newest, and read that type from the database without filling it (they
 * still write what they change, in their shape: a reader of the newer shape
 * reads that as a miss and fills its own). A rollback is a start too: the
 * shape that started last wins again.
 */
export class ShapeRegistry {
  private outdated: ReadonlySet<string> = new Set();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly knex: Knex,
    private readonly options: ShapeRegistryOptions,
  ) {}

  /** Records this instance's shapes as the newest, reads which are, and keeps reading them. */
  async start(): Promise<void> {
    const shapes = [...this.options.shapes];
    if (shapes.length > 0) {
      await this.knex.raw(
        `insert into cache_shapes (kind, shape, started_at) select k, s, clock_timestamp() from unnest(?::text[], ?::text[]) as t(k, s)
         on conflict (kind, shape) do update set started_at = excluded.started_at`,
        [shapes.map(([kind]) => kind), shapes.map(([, shape]) => shape)],
      );
    }
    await this.refresh();
    const loop = () => {
      this.timer = setTimeout(() => {
        this.refresh()
          .catch((err: unknown) => this.options.onError?.(err))
          .finally(() => {
            if (this.timer !== undefined) loop();
          });
      }, this.options.refreshMs ?? 5000);
      this.timer.unref();
    };
    loop();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Whether this instance's shape of `kind` is the newest (it may fill the cache). */
  isCurrent(kind: string): boolean {
    return !this.outdated.has(kind);
  }

  /** Reads which of this instance's shapes another, later started instance has replaced. */
  async refresh(): Promise<void> {
    const result = await this.knex.raw(
      `select distinct on (kind) kind, shape from cache_shapes where kind = any(?::text[]) order by kind, started_at desc, shape`,
      [[...this.options.shapes.keys()]],
    );
    const outdated = new Set<string>();
    for (const row of rowsOf(result)) {
      const kind = String(row['kind']);
      if (this.options.shapes.get(kind) !== String(row['shape'])) outdated.add(kind);
    }
    this.outdated = outdated;
  }
}
