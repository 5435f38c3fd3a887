import https from "node:https";
import { connectionProblem, type ErrorKind, JumpgateError } from "../../api/errors.ts";

export interface WebClientOptions {
  proxy: string;
  insecure: boolean;
  cas?: string[];
  timeoutMs?: number;
}

/** JSON calls to the proxy's web API; errors come back as the JumpgateError the proxy sent. */
export async function webCall<T>(o: WebClientOptions, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const url = new URL(path, `https://${o.proxy}`);
  return new Promise<T>((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        headers: {
          accept: "application/json",
          ...(data ? { "content-type": "application/json", "content-length": data.length } : {}),
        },
        rejectUnauthorized: !o.insecure,
        ...(o.cas ? { ca: o.cas } : {}),
        timeout: o.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            reject(connectionProblem(`the proxy at ${o.proxy} answered ${res.statusCode} with something that is not JSON`));
            return;
          }
          if ((res.statusCode ?? 500) >= 400) {
            const err = (json as { error?: { kind?: ErrorKind; message?: string } }).error;
            reject(new JumpgateError(err?.kind ?? "connection-problem", err?.message ?? `proxy answered ${res.statusCode}`));
            return;
          }
          resolve(json as T);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (e: NodeJS.ErrnoException) => {
      const hint =
        e.code === "DEPTH_ZERO_SELF_SIGNED_CERT" || e.code === "SELF_SIGNED_CERT_IN_CHAIN" || e.code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
          ? " (the proxy's certificate is not trusted; for a self-signed demo proxy add --insecure)"
          : "";
      reject(connectionProblem(`cannot reach the proxy at ${o.proxy}: ${e.message}${hint}`, e));
    });
    if (data) req.write(data);
    req.end();
  });
}
