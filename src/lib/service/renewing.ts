import type { Logger } from "pino";
import type { AuthClient } from "../../api/authclient.ts";

/**
 * An Auth API client whose host certificate is renewed before it expires: the
 * process's parts keep one object while it swaps the connection underneath.
 */
export function renewingAuthClient(initial: AuthClient, renew: () => Promise<AuthClient>, intervalMs: number, log: Logger): AuthClient {
  let current = initial;
  const timer = setInterval(() => {
    renew()
      .then((next) => {
        const old = current;
        current = next;
        // Calls in flight on the old connection finish; new ones use the new certificate.
        setTimeout(() => old.close(), 30_000).unref();
      })
      .catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, "cannot renew host certificates"));
  }, intervalMs);
  timer.unref();
  return new Proxy(initial, {
    get(_t, prop) {
      if (prop === "close") {
        return () => {
          clearInterval(timer);
          current.close();
        };
      }
      const v = Reflect.get(current, prop, current);
      return typeof v === "function" ? v.bind(current) : v;
    },
  });
}
