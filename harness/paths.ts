// Where the project's own files are, from dist/harness or harness alike.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const projectRoot = path.resolve(here, here.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');
export const GUEST_INIT = path.join(projectRoot, 'images', 'guest', 'init.sh');
