import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from "prom-client";
import { badParameter } from "../../api/errors.ts";

export { Registry } from "prom-client";

export const METRIC_PREFIX = "jumpgate_";

export interface RegistryOptions {
  /** Process and Node.js metrics (process_cpu_seconds_total, nodejs_heap_…); default true. */
  defaultMetrics?: boolean;
  /** Labels added to every metric, e.g. {cluster: "example"}. */
  labels?: Record<string, string>;
}

/** A fresh registry; each daemon process makes one and serves it on the diag address. */
export function createRegistry(opts: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (opts.labels !== undefined) registry.setDefaultLabels(opts.labels);
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricSpec<L extends string> {
  /** Without or with the "jumpgate_" prefix. */
  name: string;
  help: string;
  labelNames?: readonly L[];
}

function fullName(name: string): string {
  const n = name.startsWith(METRIC_PREFIX) ? name : `${METRIC_PREFIX}${name}`;
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(n)) throw badParameter(`invalid metric name "${n}"`);
  return n;
}

/** Returns the metric already registered under `name`, checking its kind, or undefined. */
function existing<M>(registry: Registry, name: string, kind: abstract new (...args: never[]) => M): M | undefined {
  const m: Metric | undefined = registry.getSingleMetric(name);
  if (m === undefined) return undefined;
  if (!(m instanceof kind)) throw badParameter(`metric "${name}" is already registered as another kind`);
  return m;
}

/** A counter named jumpgate_<name>; asking twice for the same name returns the same counter. */
export function counter<L extends string = never>(registry: Registry, spec: MetricSpec<L>): Counter<L> {
  const name = fullName(spec.name);
  return (
    (existing(registry, name, Counter) as Counter<L> | undefined) ??
    new Counter<L>({ name, help: spec.help, labelNames: spec.labelNames ?? [], registers: [registry] })
  );
}

export function gauge<L extends string = never>(registry: Registry, spec: MetricSpec<L>): Gauge<L> {
  const name = fullName(spec.name);
  return (
    (existing(registry, name, Gauge) as Gauge<L> | undefined) ??
    new Gauge<L>({ name, help: spec.help, labelNames: spec.labelNames ?? [], registers: [registry] })
  );
}

/** Default buckets suit request latencies in seconds, 5 ms to 30 s. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function histogram<L extends string = never>(registry: Registry, spec: MetricSpec<L> & { buckets?: number[] }): Histogram<L> {
  const name = fullName(spec.name);
  return (
    (existing(registry, name, Histogram) as Histogram<L> | undefined) ??
    new Histogram<L>({
      name,
      help: spec.help,
      labelNames: spec.labelNames ?? [],
      buckets: spec.buckets ?? LATENCY_BUCKETS,
      registers: [registry],
    })
  );
}

/** jumpgate_build_info{version="…"} 1, the usual way to expose the running version. */
export function buildInfo(registry: Registry, version: string): void {
  gauge(registry, { name: "build_info", help: "Jumpgate version running in this process", labelNames: ["version"] })
    .labels({ version })
    .set(1);
}
