// Where the project's own files are, from dist/harness or harness alike.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const projectRoot = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
export const GUEST_INIT = path.join(projectRoot, 'images', 'guest', 'init.sh');

/** The guest init: images/guest/init.sh, or KMATRIX_GUEST_INIT (developing the init; the fault-injection tests). */
export function guestInit(): string {
  return process.env.KMATRIX_GUEST_INIT || GUEST_INIT;
}
