/** The patched ssh2 server connection lives in lib/ssh, shared with the proxy. */
export { type PatchedConnection, patched } from "../../ssh/index.ts";
