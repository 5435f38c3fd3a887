/**
 * Reads from Auth that a busy agent repeats for every connection (the user,
 * their roles, the locks), shared for a moment: concurrent reads of one key
 * make one call, and its result is reused for `ttlMs` (monotonic time, not the
 * cluster clock). A failed read is not kept. A change in Auth (a new lock, a
 * removed role) is seen at most `ttlMs` later.
 */
export function shortLived<V>(ttlMs: number, load: (key: string) => Promise<V>, maxKeys = 10_000): (key: string) => Promise<V> {
  const entries = new Map<string, { at: number; value: Promise<V> }>();
  return (key) => {
    const now = performance.now();
    const hit = entries.get(key);
    if (hit && now - hit.at < ttlMs) return hit.value;
    if (entries.size >= maxKeys) entries.clear();
    const value = load(key);
    const entry = { at: now, value };
    entries.set(key, entry);
    value.catch(() => {
      if (entries.get(key) === entry) entries.delete(key);
    });
    return value;
  };
}
