import type { TestProject } from 'vitest/node';
import { createScratchDatabase } from './scratch-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

/**
 * One database per test run (`freshgraph_test_<time>_<random>`), so parallel runs
 * on one machine never share rows; dropped at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const database = await createScratchDatabase('test');
  project.provide('databaseUrl', database.url);
  return () => database.drop();
}
