// A UserError is the harness's answer to bad input or a missing tool: one
// paragraph that names the file/line or the fix. The CLI prints it without a
// stack trace; anything else is a bug and keeps its stack.
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
