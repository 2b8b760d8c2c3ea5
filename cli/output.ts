import { redact } from "./redact.js";

// All CLI output goes through these, so nothing escapes redaction. Results go to stdout;
// progress, notices and errors to stderr, so `--json` output stays parseable.

export function out(text = ""): void {
  process.stdout.write(redact(text) + "\n");
}

export function note(text: string): void {
  process.stderr.write(redact(text) + "\n");
}

/**
 * Progress of a long operation on stderr: rewritten in place on a terminal, one line per
 * update elsewhere (CI logs, pipes), so logs show how far it got.
 */
export function progress(text: string, done = false): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${redact(text)}${done ? "\n" : ""}`);
  else process.stderr.write(redact(text) + "\n");
}

/**
 * `sidetrack jobs list | head` closes stdout early: that is the reader's choice, not an
 * error, so end quietly instead of crashing with EPIPE.
 */
export function endQuietlyWhenStdoutCloses(): void {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}
