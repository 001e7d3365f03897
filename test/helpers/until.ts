/**
 * Waits until `check()` gives something truthy and returns it, checking every `stepMs`; fails
 * naming `what` after `timeoutMs`. Tests wait for conditions this way, never for a fixed time
 * (the machine's load decides how long things take).
 */
export async function until<T>(
  check: () => T | Promise<T>,
  what = 'condition',
  timeoutMs = 10_000,
  stepMs = 20,
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
