/**
 * One `kubectl exec`/`attach` session: what it is (pod, container, command),
 * and the recording of what the container printed, read from the API server's
 * answer as it passes through — the HTTP 101 head, then WebSocket frames of
 * the Kubernetes channel protocol (stdout and stderr recorded, the error
 * channel read for the exit code); the client's resize messages are applied
 * to the recording. Nothing here changes a byte, and nothing here touches a
 * socket: the forwarder hands each direction's bytes in.
 */
import type { SessionRecorder } from "../../events/index.ts";
import { channelEncoding, exitCodeOfStatus, K8S_CHANNELS, K8sChannelReader, parseResize, WsFrameError, WsFrameParser } from "./codec.ts";
import type { KubeRequestInfo } from "./request.ts";

/** What the exec/attach request names. */
export interface ExecTarget {
  kind: "exec" | "attach";
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  tty: boolean;
}

/** The pod, container and command of an exec or attach request; undefined for other requests. */
export function execTarget(req: KubeRequestInfo, query: URLSearchParams): ExecTarget | undefined {
  if (!req.isResource || req.apiGroup !== "" || req.resource !== "pods" || req.name === "") return undefined;
  if (req.subresource !== "exec" && req.subresource !== "attach") return undefined;
  const tty = (query.get("tty") ?? "").toLowerCase();
  return {
    kind: req.subresource,
    namespace: req.namespace,
    pod: req.name,
    container: query.get("container") ?? "",
    command: req.subresource === "exec" ? query.getAll("command") : [],
    tty: tty === "true" || tty === "1",
  };
}

/** How the API server answered the upgrade. */
export interface UpgradeAnswer {
  status: number;
  /** `Upgrade`: `websocket` or `SPDY/3.1`. */
  upgrade: string;
  /** The negotiated `Sec-WebSocket-Protocol`. */
  subprotocol: string;
}

/** The longest response head read before giving up on recording. */
const MAX_HEAD_BYTES = 64 * 1024;
/** Error-channel and resize messages longer than this are not parsed (they are small JSON objects). */
const MAX_JSON_BYTES = 64 * 1024;

export interface ExecTapEvents {
  /** The API server answered; for a 101 the session has begun. */
  answered(a: UpgradeAnswer): void;
  /** The API server's bytes could not be read as the protocol it chose: the connection must close (its output could not be recorded). */
  broken(e: WsFrameError): void;
}

/**
 * Reads both directions of an upgraded exec/attach connection. `recorder`
 * gets stdout and stderr as the container wrote them, and the client's
 * terminal sizes; `exitCode` is what the error channel reported.
 */
export class ExecTap {
  private head = Buffer.alloc(0);
  private phase: "head" | "frames" | "passthrough" = "head";
  private server: { parser: WsFrameParser; reader: K8sChannelReader } | undefined;
  private client: { parser: WsFrameParser; reader: K8sChannelReader } | undefined;
  private errorChannel: Buffer[] = [];
  private errorBytes = 0;
  private resizeMsg: Buffer[] = [];
  private resizeBytes = 0;
  private recorder: SessionRecorder | undefined;
  /** Reported by the error channel: 0, the command's exit code, or undefined. */
  exitCode: number | undefined;
  /** Why the output could not be read (the connection was closed for it). */
  failure: string | undefined;

  constructor(private readonly events: ExecTapEvents) {}

  /** Starts recording output (called from `answered`, once the session has begun). */
  record(recorder: SessionRecorder): void {
    this.recorder = recorder;
  }

  /** Bytes the API server sent toward the client (the response head first). */
  fromServer(chunk: Buffer): void {
    if (this.phase === "passthrough" || chunk.length === 0) return;
    if (this.phase === "head") {
      this.head = Buffer.concat([this.head, chunk]);
      const end = this.head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (this.head.length > MAX_HEAD_BYTES) this.phase = "passthrough";
        return;
      }
      const rest = this.head.subarray(end + 4);
      const answer = parseHead(this.head.subarray(0, end).toString("latin1"));
      this.head = Buffer.alloc(0);
      const encoding = answer.status === 101 && answer.upgrade.toLowerCase() === "websocket" ? channelEncoding(answer.subprotocol) : undefined;
      if (encoding !== undefined) {
        this.server = {
          parser: new WsFrameParser({ from: "server" }),
          reader: new K8sChannelReader(encoding, { data: (ch, d) => this.serverData(ch, d), end: (ch) => this.serverEnd(ch) }),
        };
        this.client = {
          parser: new WsFrameParser({ from: "client" }),
          reader: new K8sChannelReader(encoding, { data: (ch, d) => this.clientData(ch, d), end: (ch) => this.clientEnd(ch) }),
        };
        this.phase = "frames";
      } else this.phase = "passthrough";
      this.events.answered(answer);
      if (rest.length > 0) this.fromServer(rest);
      return;
    }
    const s = this.server;
    if (!s) return;
    try {
      s.reader.push(s.parser.push(chunk));
    } catch (e) {
      this.phase = "passthrough";
      const err = e instanceof WsFrameError ? e : new WsFrameError(String(e));
      // Record what came before the problem.
      s.reader.push(err.before);
      this.failure = err.message;
      this.events.broken(err);
    }
  }

  /** Bytes the client sent toward the API server (after its request head). */
  fromClient(chunk: Buffer): void {
    const c = this.client;
    if (!c || chunk.length === 0) return;
    try {
      c.reader.push(c.parser.push(chunk));
    } catch {
      // The API server will refuse what the client sent; only the terminal size is read here, so stop reading.
      this.client = undefined;
    }
  }

  private serverData(channel: number, data: Buffer): void {
    if (channel === K8S_CHANNELS.stdout || channel === K8S_CHANNELS.stderr) this.recorder?.output(data);
    else if (channel === K8S_CHANNELS.error && this.errorBytes < MAX_JSON_BYTES) {
      this.errorChannel.push(data);
      this.errorBytes += data.length;
    }
  }

  private serverEnd(channel: number): void {
    if (channel !== K8S_CHANNELS.error) return;
    if (this.errorBytes <= MAX_JSON_BYTES) {
      const code = exitCodeOfStatus(Buffer.concat(this.errorChannel).toString("utf8"));
      if (code !== undefined) this.exitCode = code;
    }
    this.errorChannel = [];
    this.errorBytes = 0;
  }

  private clientData(channel: number, data: Buffer): void {
    if (channel !== K8S_CHANNELS.resize || this.resizeBytes > MAX_JSON_BYTES) return;
    this.resizeMsg.push(data);
    this.resizeBytes += data.length;
  }

  private clientEnd(channel: number): void {
    if (channel !== K8S_CHANNELS.resize) return;
    const size = this.resizeBytes <= MAX_JSON_BYTES ? parseResize(Buffer.concat(this.resizeMsg).toString("utf8")) : undefined;
    this.resizeMsg = [];
    this.resizeBytes = 0;
    if (size) this.recorder?.resize(size.cols, size.rows);
  }
}

/** The status line and the two headers that matter, from a response head. */
export function parseHead(head: string): UpgradeAnswer {
  const lines = head.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  const header = (name: string) => {
    for (const l of lines.slice(1)) {
      const at = l.indexOf(":");
      if (at > 0 && l.slice(0, at).trim().toLowerCase() === name) return l.slice(at + 1).trim();
    }
    return "";
  };
  return { status: m ? Number(m[1]) : 0, upgrade: header("upgrade"), subprotocol: header("sec-websocket-protocol") };
}
