/** DataLoader.loadMany answers an Error per failed slot; a list field fails as a whole instead. */
export function throwIfAnyFailed<T>(results: readonly (T | Error)[]): T[] {
  const failed = results.find((r): r is Error => r instanceof Error);
  if (failed) throw failed;
  return results as T[];
}
