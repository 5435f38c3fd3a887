/** The daemon's process: which services run, wired in dependency order. */
export { freshKeys, hostUuid, writeIdentityFile } from "./identity.ts";
export { type ProcessOptions, type RunningProcess, startProcess } from "./process.ts";
