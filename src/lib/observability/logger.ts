import { type DestinationStream, type Level, type Logger, pino } from "pino";
import { CENSOR, censorSecrets, SECRET_KEYS } from "./secrets.ts";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** Names the part of the daemon: "auth", "proxy", "ssh", "db", … */
  component: string;
  /** Shorthand for level "debug". */
  debug?: boolean;
  /** Default "info" ("debug" with `debug`). */
  level?: Level | "silent";
  /** "json" (default) or "text" (one human line per record). */
  format?: "json" | "text";
  /** Default: stderr, written synchronously so the last lines before a crash are kept. */
  destination?: DestinationStream | NodeJS.WritableStream;
}

const key = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`);

/** pino redact paths: each secret key at the top level, one level down, and in headers. */
export const REDACT_PATHS: string[] = SECRET_KEYS.flatMap((k) => {
  const p = key(k);
  const dot = p.startsWith("[") ? p : `.${p}`;
  return [p, `*${dot}`, `*.headers${dot}`];
});

function levelOf(opts: LoggerOptions): Level | "silent" {
  if (opts.level !== undefined) return opts.level;
  return opts.debug === true ? "debug" : "info";
}

/**
 * The daemon logger: structured JSON on stderr, secrets censored. Use
 * `childLogger(log, "proxy")` for each component.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const dest = opts.destination ?? pino.destination({ dest: 2, sync: true });
  const out: DestinationStream | NodeJS.WritableStream = opts.format === "text" ? textDestination(dest) : dest;
  const root = pino(
    {
      level: levelOf(opts),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: {
        level: (label) => ({ level: label }),
        // Redact paths cover known spots; this catches secret-named fields at any depth.
        log: (obj) => censorSecrets(obj) as Record<string, unknown>,
      },
    },
    out,
  );
  const log = root.child({ component: opts.component });
  roots.set(log, root);
  return log;
}

/** Each logger made here, to its pino root: children are made from the root so keys are not repeated. */
const roots = new WeakMap<Logger, Logger>();

/**
 * A child logger for one component (or sub-component: "proxy.mux"); it keeps
 * the parent's other bindings, and its line has one `component` field.
 */
export function childLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  const root = roots.get(parent);
  if (root === undefined) return parent.child({ ...bindings, component });
  const rootKeys = new Set(Object.keys(root.bindings()));
  const inherited = Object.fromEntries(Object.entries(parent.bindings()).filter(([k]) => k !== "component" && !rootKeys.has(k)));
  const child = root.child({ ...inherited, ...bindings, component });
  child.level = parent.level;
  roots.set(child, root);
  return child;
}

const SKIP_TEXT = new Set(["level", "time", "msg", "pid", "component"]);

/** Turns pino's JSON lines into "TIME LEVEL [component] message k=v" lines. */
export function textDestination(out: DestinationStream | NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string): void {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const fields = Object.entries(rec)
        .filter(([k]) => !SKIP_TEXT.has(k))
        .map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? "undefined")}`);
      const level = String(rec.level ?? "")
        .toUpperCase()
        .padEnd(5);
      const comp = rec.component === undefined ? "" : ` [${String(rec.component)}]`;
      out.write(`${String(rec.time ?? "")} ${level}${comp} ${String(rec.msg ?? "")}${fields.length ? ` ${fields.join(" ")}` : ""}\n`);
    },
  };
}
