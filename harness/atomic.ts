// Result files are replaced whole: written beside the target, then renamed over
// it, so a reader (or a run killed mid-write) never sees half a file.
import { rename, writeFile } from 'node:fs/promises';

/** A temporary name beside `file`, unique to this process and this call (two cells of one run may write the same file at once). */
export function tmpBeside(file: string): string {
  return `${file}.tmp-${process.pid}-${++writes}`;
}
let writes = 0;

export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = tmpBeside(file);
  await writeFile(tmp, data);
  await rename(tmp, file);
}
