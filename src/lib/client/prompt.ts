import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { badParameter } from "../../api/errors.ts";

let stdinLines: string[] | undefined;

/** Non-interactive callers may pipe answers, one per line, in the order asked. */
function nextStdinLine(): string | undefined {
  stdinLines ??= readFileSync(0, "utf8").split(/\r?\n/);
  return stdinLines.shift();
}

/** Asks on the terminal without echo; reads a line of stdin when it is not a terminal. */
export async function ask(question: string, secret: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    const line = nextStdinLine();
    if (line === undefined) throw badParameter(`${question.replace(/:\s*$/, "")} is needed, and stdin has no more lines`);
    return line;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (secret) {
    const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WritableStream };
    out._writeToOutput = (s: string) => {
      if (s.includes(question)) process.stderr.write(question);
    };
  }
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    if (secret) process.stderr.write("\n");
    rl.close();
  }
}
