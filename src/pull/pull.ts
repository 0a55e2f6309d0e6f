import type { Knex } from 'knex';
import { readCatalog } from '../db/catalog.js';
import { planPull, type TablePlan } from './plan.js';
import { outputsOf, pulledBefore, readExisting, writeOutputs, type Output } from './project.js';

/**
 * One run of `npm run pull` on the checkout at `root`: the tables named and
 * those pulled before, in name order (so that pulling the same tables again
 * writes the same files), planned from one catalog read and written. Throws
 * PullRefusal or RegionEdited, having written nothing.
 */
export async function pull(root: string, db: Knex, named: readonly string[]): Promise<{ plans: TablePlan[]; outputs: Output[] }> {
  const tables = [...new Set([...pulledBefore(root), ...named])].sort();
  const plans = planPull(await readCatalog(db, tables), tables, readExisting(root));
  const outputs = outputsOf(root, plans);
  writeOutputs(root, outputs);
  return { plans, outputs };
}
