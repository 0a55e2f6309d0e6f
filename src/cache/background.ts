/** Background work (fills, early refreshes) that shutdown and tests wait for. */
export class BackgroundTasks {
  private readonly running = new Set<Promise<unknown>>();

  /** Keeps `task` visible to idle(); returns it unchanged. */
  track<T>(task: Promise<T>): Promise<T> {
    const settled = task.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
    return task;
  }

  /** Resolves once every task started so far (and any they started) has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
