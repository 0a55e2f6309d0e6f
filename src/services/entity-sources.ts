import type { Knex } from 'knex';
import type { SourceRecord } from '../cache/read-through.js';

/** Loads the current rows of one entity type; inside `trx` when given. */
export type EntitySource = (ids: readonly string[], trx?: Knex.Transaction) => Promise<ReadonlyMap<string, SourceRecord<unknown>>>;

/** How to load each cached entity type, by name, for repairs and consistency checks. */
export type EntitySources = ReadonlyMap<string, EntitySource>;
