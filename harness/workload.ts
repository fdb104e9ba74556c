// Driver overhead: a fixed syscall loop run in the guest with no driver and with
// each driver capturing; the ratio of its time to the no-driver time.
import type { Matrix } from './matrix.js';

export interface DriverOverhead {
  loop: string;
  seconds: Record<string, number>;
  ratio: Record<string, number>;
}

export async function measureDriverOverhead(_m: Matrix, _dir: string): Promise<DriverOverhead> {
  throw new Error('the guest syscall-loop workload is not there yet');
}
