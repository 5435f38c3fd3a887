import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isJumpgateError } from "../errors.ts";
import { formatDuration, parseDuration, tryParseDuration } from "./duration.ts";

const H = 3_600_000;
const M = 60_000;

describe("parseDuration", () => {
  const rows: Array<[string, number]> = [
    ["30h", 30 * H],
    ["8h0m0s", 8 * H],
    ["90m", 90 * M],
    ["1h30m", 90 * M],
    ["8h30m", 8.5 * H],
    ["1.5h", 1.5 * H],
    ["45s", 45_000],
    ["1.5s", 1500],
    ["500ms", 500],
    ["2000us", 2],
    ["3000000ns", 3],
    ["0", 0],
    ["0s", 0],
    ["-5m", -5 * M],
    [".5s", 500],
  ];
  for (const [text, ms] of rows) {
    it(`${text} → ${ms}`, () => assert.equal(parseDuration(text), ms));
  }

  for (const bad of ["", "3 days", "10", "1d", "h", "1hh", "1.h2", ".s", "--1h", "1h 30m"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.equal(tryParseDuration(bad), undefined);
      assert.throws(
        () => parseDuration(bad),
        (e) => isJumpgateError(e, "bad-parameter") && e.message.startsWith(`invalid duration ${JSON.stringify(bad)}`),
      );
    });
  }
});

describe("formatDuration", () => {
  const rows: Array<[number, string]> = [
    [0, "0s"],
    [12 * H, "12h0m0s"],
    [30 * H, "30h0m0s"],
    [90 * M, "1h30m0s"],
    [90_000, "1m30s"],
    [1500, "1.5s"],
    [500, "500ms"],
    [-5 * M, "-5m0s"],
  ];
  for (const [ms, text] of rows) {
    it(`${ms} → ${text}`, () => {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseDuration(text), ms, "formats back to the same value");
    });
  }
});
