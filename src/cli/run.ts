import { isJumpgateError } from "../api/errors.ts";

/**
 * The CLIs' one edge for errors: a JumpgateError prints its message as one
 * line; anything else is a bug and says so (with the stack under --debug).
 */
export function printError(e: unknown, debug: boolean): void {
  if (isJumpgateError(e)) {
    process.stderr.write(`ERROR: ${e.message}\n`);
    if (debug && e.detail) process.stderr.write(`${e.detail}\n`);
  } else if (e instanceof Error && e.name === "CommanderError") {
    // commander already printed it
  } else {
    process.stderr.write(`ERROR: ${e instanceof Error ? e.message : String(e)}\n`);
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  }
}

export async function main(fn: () => Promise<void>): Promise<void> {
  const debug = process.argv.includes("--debug") || process.argv.includes("-d");
  try {
    await fn();
    process.exitCode = process.exitCode ?? 0;
  } catch (e) {
    if (e instanceof Error && e.name === "CommanderError") {
      process.exitCode = (e as Error & { exitCode?: number }).exitCode ?? 1;
      return;
    }
    printError(e, debug);
    // An error may ask for its own code: a refused host key exits 255, as OpenSSH does.
    const own = isJumpgateError(e) ? (e as { exitCode?: unknown }).exitCode : undefined;
    process.exitCode = typeof own === "number" ? own : 1;
  }
}
