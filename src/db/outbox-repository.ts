import type { Knex } from 'knex';
import { toInt } from '../entities/define.js';
import { TRIGGER_RECORDED } from './outbox-triggers.js';
import { rowsOf } from './rows.js';

/** One cache write a committed mutation owes: the entity and the version it must reach. */
export interface OutboxEntry {
  readonly entity: string;
  readonly id: string;
  readonly version: number;
}

export interface OutboxRow extends OutboxEntry {
  readonly outboxId: string;
  /** Recorded by a trigger: another program changed the row, and only a repair brings it to the cache. */
  readonly external: boolean;
}

/** All SQL about the cache outbox. Row ids are bigint, handled as strings. */
export class OutboxRepository {
  constructor(private readonly knex: Knex) {}

  async deleteIds(ids: readonly string[], trx?: Knex.Transaction): Promise<void> {
    if (ids.length === 0) return;
    await (trx ?? this.knex).raw('delete from cache_outbox where id = any(?::bigint[])', [[...ids]]);
  }

  /**
   * Locks up to `limit` rows that are older than `olderThanMs`, named in `ids`
   * or recorded by a trigger (no API instance is writing those: they are due at
   * once), skipping rows another instance is repairing right now.
   */
  async claim(trx: Knex.Transaction, olderThanMs: number, ids: readonly string[], limit: number): Promise<OutboxRow[]> {
    const result = await trx.raw(
      `select id, entity, entity_id, version, recorded_by from cache_outbox
       where created_at < now() - make_interval(secs => ?::float8 / 1000) or id = any(?::bigint[]) or recorded_by = ?
       order by id limit ? for update skip locked`,
      [olderThanMs, [...ids], TRIGGER_RECORDED, limit],
    );
    return rowsOf(result).map(outboxRowOf);
  }

  /** Rows older than `olderThanMs`, oldest first, with their age; no locks. */
  async listOlderThan(olderThanMs: number, limit: number): Promise<(OutboxRow & { readonly ageMs: number })[]> {
    const result = await this.knex.raw(
      `select id, entity, entity_id, version, recorded_by, (extract(epoch from (now() - created_at)) * 1000)::float8 as age_ms
       from cache_outbox where created_at < now() - make_interval(secs => ?::float8 / 1000)
       order by id limit ?`,
      [olderThanMs, limit],
    );
    return rowsOf(result).map((r) => ({ ...outboxRowOf(r), ageMs: Number(r['age_ms']) }));
  }

  /** Deletes up to `limit` rows older than `olderThanMs`, oldest first; resolves to how many. */
  async deleteOlderThan(olderThanMs: number, limit: number): Promise<number> {
    const result = await this.knex.raw(
      `delete from cache_outbox where id in (
         select id from cache_outbox where created_at < now() - make_interval(secs => ?::float8 / 1000) order by id limit ?)`,
      [olderThanMs, limit],
    );
    return (result as { rowCount?: number; affectedRows?: number }).rowCount ?? (result as { affectedRows?: number }).affectedRows ?? 0;
  }

  /** Which of `ids` are still waiting for repair. */
  async pending(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const result = await this.knex.raw('select id from cache_outbox where id = any(?::bigint[])', [[...ids]]);
    return new Set(rowsOf(result).map((r) => String(r['id'])));
  }

  /**
   * Moves rows the repair worker cannot apply to `cache_outbox_rejected`, each
   * with its reason, so that they hold up no other row; one statement. Returns
   * the rows moved (a row another instance removed meanwhile is not among them).
   */
  async setAside(trx: Knex.Transaction, rejects: readonly { readonly outboxId: string; readonly reason: string }[]): Promise<OutboxRow[]> {
    if (rejects.length === 0) return [];
    const result = await trx.raw(
      `with why as (select * from unnest(?::bigint[], ?::text[]) as w(id, reason)),
            moved as (delete from cache_outbox o using why where o.id = why.id
                      returning o.id, o.entity, o.entity_id, o.version, o.recorded_by, o.created_at, why.reason)
       insert into cache_outbox_rejected (id, entity, entity_id, version, recorded_by, created_at, reason)
       select * from moved
       returning id, entity, entity_id, version, recorded_by`,
      [rejects.map((r) => r.outboxId), rejects.map((r) => r.reason)],
    );
    return rowsOf(result).map(outboxRowOf);
  }

  /**
   * How many rows wait, and how many were set aside, counting no further than
   * `cap` in either (a large backlog is not scanned whole); one statement.
   */
  async count(cap = Number.MAX_SAFE_INTEGER): Promise<{ readonly pending: number; readonly rejected: number }> {
    const result = await this.knex.raw(
      `select (select count(*) from (select 1 from cache_outbox limit ?) as waiting) as pending,
              (select count(*) from (select 1 from cache_outbox_rejected limit ?) as aside) as rejected`,
      [cap, cap],
    );
    const row = rowsOf(result)[0] as Record<string, unknown>;
    return { pending: toInt(row['pending']), rejected: toInt(row['rejected']) };
  }
}

const outboxRowOf = (r: Readonly<Record<string, unknown>>): OutboxRow => ({
  outboxId: String(r['id']),
  entity: String(r['entity']),
  id: String(r['entity_id']),
  version: toInt(r['version']),
  external: r['recorded_by'] === TRIGGER_RECORDED,
});
