/**
 * The child side of the benchmark's IPC (no dependencies, so that it adds nothing to a
 * child's memory): announces the port, answers `{ id, type }` requests from the parent.
 * `rss` (bytes) and `cpu` (milliseconds of CPU used so far) are always handled; a parent disconnect ends the process.
 */
export function serveParent(
  ready: Record<string, unknown>,
  handlers: Record<string, (message: Record<string, unknown>) => unknown> = {},
): void {
  process.on('message', (m: { id: number; type: string }) => {
    const cpu = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    };
    const handler =
      m.type === 'rss'
        ? () => process.memoryUsage().rss
        : m.type === 'cpu'
          ? cpu
          : (handlers[m.type] ?? (() => null));
    void Promise.resolve(handler(m)).then((result) => process.send?.({ id: m.id, result }));
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', ...ready });
}
