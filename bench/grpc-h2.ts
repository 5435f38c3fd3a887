/**
 * A minimal gRPC client for unary calls over `node:http2` with mutual TLS: the
 * same bytes on the wire as the Connect client (`src/api/authclient.ts`), at a
 * fraction of its CPU cost, so that a benchmark on a small machine measures the
 * server rather than its own client. Benchmarks only.
 */
import http2 from "node:http2";
import { type DescMessage, type MessageInitShape, type MessageShape, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AUTH_SERVER_NAME } from "../src/api/constants.ts";

export interface H2Identity {
  key: string;
  cert: string;
  cas: string[];
}

export class GrpcH2Client {
  private readonly session: http2.ClientHttp2Session;

  constructor(addr: string, id: H2Identity) {
    this.session = http2.connect(`https://${addr}`, {
      key: id.key,
      cert: id.cert,
      ca: id.cas,
      servername: AUTH_SERVER_NAME,
      ALPNProtocols: ["h2"],
    });
    this.session.on("error", () => undefined);
  }

  unary<I extends DescMessage, O extends DescMessage>(path: string, input: I, output: O, req: MessageInitShape<I>): Promise<MessageShape<O>> {
    const body = toBinary(input, create(input, req));
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc+proto",
        te: "trailers",
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = "";
      const onMeta = (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) {
          status = String(h["grpc-status"]);
          message = decodeURIComponent(String(h["grpc-message"] ?? ""));
        }
      };
      stream.on("response", onMeta);
      stream.on("trailers", onMeta);
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("error", reject);
      stream.on("end", () => {
        if (status !== "0") return reject(new Error(`grpc-status ${status ?? "missing"}: ${message}`));
        const all = Buffer.concat(chunks);
        if (all.length < 5 || all[0] !== 0 || all.readUInt32BE(1) !== all.length - 5) return reject(new Error("malformed gRPC response"));
        resolve(fromBinary(output, all.subarray(5)));
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}
