// The run's backends, one of each kind made on first use; a cell's kernel
// machine says which one runs it (`backend:` of its machine definition).
import type { MachineDef } from '../machines.js';
import type { Backend } from './backend.js';
import { QemuBackend } from './qemu.js';
import { VagrantBackend } from './vagrant.js';

export class Backends {
  private made = new Map<MachineDef['backend'], Backend>();
  constructor(private opts: { note?: (message: string) => void | Promise<void>; pidDir?: string } = {}) {}

  for(machine: MachineDef): Backend {
    let b = this.made.get(machine.backend);
    if (!b) this.made.set(machine.backend, (b = machine.backend === 'vagrant' ? new VagrantBackend() : new QemuBackend(this.opts.note, this.opts.pidDir)));
    return b;
  }

  abort(): void {
    for (const b of this.made.values()) b.abort();
  }

  async close(): Promise<void> {
    for (const b of this.made.values()) await b.close();
  }

  /** Each backend's summary (QEMU's acceleration per machine). */
  async summary(): Promise<string> {
    const parts = await Promise.all([...this.made.values()].map((b) => b.summary()));
    return parts.filter((p) => p && p !== 'none').join(',') || 'none';
  }
}
