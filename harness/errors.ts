// A UserError is the harness's answer to bad input or a missing tool: one
// paragraph that names the file/line or the fix. The CLI prints it without a
// stack trace; anything else is a bug and keeps its stack.
import type { ConsumerAssets } from './types.js';

export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/** The first line of an error's message, for one-line reporting. */
export function errorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n').find((l) => l.trim() !== '')?.trim() ?? msg;
}

/** A cell that cannot run here, with its reason: a skip, never a failure. */
export class CellSkip extends Error {}

/** A source (package, source package, tree) the harness cannot have. */
export class SourceUnavailable extends CellSkip {
  constructor(message: string) {
    super(`source unavailable: ${message}`);
  }
}

/** Is an apt failure the archive not having the thing (a skip), rather than a fault (an error)? */
export function isUnavailable(e: unknown): boolean {
  return /\b404\b|Not Found|Unable to find a source package|Unable to locate package|not found in|has no installation candidate|Can't select/i.test(
    e instanceof Error ? e.message : String(e),
  );
}

/**
 * The machinery failed, not the thing under test: a tool that did not start,
 * was killed, or ended without an exit code. The cell is an `error` (retried),
 * never a driver `fail`, and nothing about it is cached.
 */
export class InfraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfraError';
  }
}

/**
 * A build ran to its end and failed (the compiler's exit code, its first error
 * line): the code's own failure. Where the built thing is the driver (modern
 * eBPF lives in its consumer) the cell fails at build.
 */
export class BuildFailure extends Error {
  constructor(
    message: string,
    readonly firstError?: string,
    /** The builder root it ran in (a consumer's: the toolchain of a modern probe that did not build). */
    readonly builder?: ConsumerAssets['builder'],
  ) {
    super(message);
    this.name = 'BuildFailure';
  }
}
