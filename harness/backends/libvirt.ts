// A private libvirt for the Vagrant backend: a network namespace the harness
// creates (so vagrant-libvirt's NAT addresses exist only inside it and nothing
// leaves loopback and that namespace), and inside it virtlogd + libvirtd with
// the harness's own configuration, state and socket (no systemd here; the
// host's /etc/libvirt, /var/lib/libvirt… are never touched: a private mount
// namespace binds the session's own directories over them). Ending a session
// ends every process in the namespace (libvirtd, dnsmasq, QEMU) and removes it.
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Directories libvirtd (as root) always uses; the session binds its own over them. */
export const LIBVIRT_DIRS: Record<string, string> = {
  etc: '/etc/libvirt',
  run: '/run/libvirt',
  lib: '/var/lib/libvirt',
  log: '/var/log/libvirt',
  cache: '/var/cache/libvirt',
};

export interface SessionPlan {
  /** The network namespace (`ip netns`), e.g. kmatrix-vg-12345. */
  netns: string;
  /** The session's own directory (configuration, state, socket, logs). */
  dir: string;
  socket: string;
  /** The libvirt URI vagrant-libvirt and virsh use. */
  uri: string;
  /** Files written before start: path → content. */
  files: Record<string, string>;
  /** Commands run on the host, in order, to set the namespace up. */
  setup: string[][];
  /** The script run inside the namespace (private mount namespace): binds, virtlogd, then exec libvirtd. */
  daemonScript: string;
  /** Commands that remove the namespace (after its processes are ended). */
  teardown: string[][];
}

/**
 * What a session does, as data (unit-tested): a namespace with only loopback,
 * libvirt's configuration (root's QEMU without cgroups, security drivers or
 * the libvirt-qemu user the Debian daemon packages would create — that user is
 * added to a private copy of passwd/group inside the mount namespace only).
 */
export function sessionPlan(id: string, dir: string): SessionPlan {
  const netns = `kmatrix-vg-${id}`;
  const sock = path.join(dir, 'sock');
  const socket = path.join(sock, 'libvirt-sock');
  const d = (k: string) => path.join(dir, k);
  const files: Record<string, string> = {
    [path.join(d('etc'), 'libvirtd.conf')]: [
      `unix_sock_dir = "${sock}"`,
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      `log_outputs = "3:file:${path.join(d('log'), 'libvirtd.log')}"`,
      '',
    ].join('\n'),
    [path.join(d('etc'), 'virtlogd.conf')]: `log_outputs = "3:file:${path.join(d('log'), 'virtlogd.log')}"\n`,
    [path.join(d('etc'), 'qemu.conf')]: [
      'user = "root"',
      'group = "root"',
      'dynamic_ownership = 0',
      'remember_owner = 0',
      'security_driver = "none"',
      'cgroup_controllers = [ ]',
      '',
    ].join('\n'),
  };
  const binds = Object.entries(LIBVIRT_DIRS).map(([k, target]) => `mount --bind ${d(k)} ${target}`);
  const daemonScript = [
    'set -e',
    'mount --make-rprivate /',
    ...binds,
    `mount --bind ${d('passwd')} /etc/passwd`,
    `mount --bind ${d('group')} /etc/group`,
    `virtlogd -d -f ${path.join(d('etc'), 'virtlogd.conf')} -p ${path.join(dir, 'virtlogd.pid')}`,
    `exec libvirtd -f ${path.join(d('etc'), 'libvirtd.conf')} -p ${path.join(dir, 'libvirtd.pid')}`,
    '',
  ].join('\n');
  return {
    netns,
    dir,
    socket,
    uri: `qemu:///system?socket=${socket}`,
    files,
    setup: [
      ['ip', 'netns', 'add', netns],
      ['ip', '-n', netns, 'link', 'set', 'lo', 'up'],
    ],
    daemonScript,
    teardown: [['ip', 'netns', 'delete', netns]],
  };
}

/** passwd/group with libvirt's QEMU user added (the daemon refuses to start without it). */
export function withLibvirtUser(passwd: string, group: string): { passwd: string; group: string } {
  const add = (text: string, line: string) => (new RegExp(`^${line.split(':')[0]}:`, 'm').test(text) ? text : `${text.replace(/\n?$/, '\n')}${line}\n`);
  return {
    passwd: add(passwd, 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin'),
    group: add(add(group, 'libvirt-qemu:x:64055:'), 'kvm:x:64056:'),
  };
}

const live = new Set<LibvirtSession>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // however the harness ends, no namespace, libvirtd or QEMU of ours stays
  process.on('exit', () => live.forEach((s) => s.endNow()));
}

export class LibvirtSession {
  /** The process starting the daemons (ended first, so that it starts nothing after the namespace is emptied). */
  starter?: number;
  constructor(readonly plan: SessionPlan) {}

  /** Create the namespace and start virtlogd + libvirtd in it; resolves when libvirtd answers. */
  static async start(dir: string, id = String(process.pid)): Promise<LibvirtSession> {
    const plan = sessionPlan(id, dir);
    await rm(dir, { recursive: true, force: true });
    for (const k of [...Object.keys(LIBVIRT_DIRS), 'sock']) await mkdir(path.join(dir, k), { recursive: true });
    for (const [f, text] of Object.entries(plan.files)) await writeFile(f, text);
    const users = withLibvirtUser(readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'));
    await writeFile(path.join(dir, 'passwd'), users.passwd);
    await writeFile(path.join(dir, 'group'), users.group);
    await writeFile(path.join(dir, 'daemons.sh'), plan.daemonScript);
    // the bind targets must exist (the daemon packages create them; without libvirt-daemon-system they may not)
    for (const target of Object.values(LIBVIRT_DIRS)) await mkdir(target, { recursive: true });
    hookExit();
    reapDeadSessions(path.dirname(dir));
    const session = new LibvirtSession(plan);
    // a namespace left by a killed run of the same id
    if (existsSync(`/run/netns/${plan.netns}`)) session.endNow();
    live.add(session);
    try {
      for (const cmd of plan.setup) await execa(cmd[0]!, cmd.slice(1));
      const daemon = execa('ip', ['netns', 'exec', plan.netns, 'unshare', '-m', '--', 'sh', path.join(dir, 'daemons.sh')], {
        reject: false,
        stdin: 'ignore',
        stdout: { file: path.join(dir, 'log', 'daemons.out') },
        stderr: { file: path.join(dir, 'log', 'daemons.err') },
        detached: true,
      });
      daemon.unref();
      session.starter = daemon.pid;
      for (let i = 0; i < 120; i++) {
        if (existsSync(plan.socket) && (await session.virsh(['version'])).ok) return session;
        if (daemon.exitCode !== null || daemon.signalCode !== null) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const log = path.join(dir, 'log', 'libvirtd.log');
      const err = path.join(dir, 'log', 'daemons.err');
      const why =
        (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => / error : /.test(l)).pop() : undefined) ??
        (existsSync(err) ? readFileSync(err, 'utf8').trim().split('\n').pop() : undefined);
      throw new Error(`libvirtd did not start in the namespace ${plan.netns}${why ? `: ${why.replace(/^.* error : /, '')}` : ''}`);
    } catch (e) {
      session.endNow();
      throw e;
    }
  }

  async virsh(args: string[]): Promise<{ ok: boolean; out: string }> {
    const r = await execa('virsh', ['-q', '-c', this.plan.uri, ...args], { reject: false, stdin: 'ignore', all: true });
    return { ok: r.exitCode === 0, out: r.all ?? '' };
  }

  /** A command inside the namespace (vagrant up/ssh/destroy). */
  inNetns(cmd: string[]): string[] {
    return ['ip', 'netns', 'exec', this.plan.netns, ...cmd];
  }

  /** Processes in the namespace (libvirtd, virtlogd, dnsmasq, QEMU, vagrant…). */
  pids(): number[] {
    try {
      return execFileSync('ip', ['netns', 'pids', this.plan.netns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  }

  /** Remove what the harness created in libvirt (domains and their volumes, networks), then end the session. */
  async close(): Promise<void> {
    if (!live.has(this)) return;
    for (const name of (await this.virsh(['list', '--all', '--name'])).out.split('\n').map((s) => s.trim()).filter(Boolean)) {
      await this.virsh(['destroy', name]);
      await this.virsh(['undefine', name, '--remove-all-storage', '--nvram']);
    }
    for (const net of (await this.virsh(['net-list', '--all', '--name'])).out.split('\n').map((s) => s.trim()).filter(Boolean)) {
      await this.virsh(['net-destroy', net]);
      await this.virsh(['net-undefine', net]);
    }
    this.endNow();
  }

  /** Synchronous end (also from the exit hook): every process in the namespace, then the namespace. */
  endNow(): void {
    live.delete(this);
    if (this.starter) {
      try {
        process.kill(this.starter, 'SIGKILL');
      } catch {
        /* it became libvirtd (exec) and is ended below, or is gone */
      }
    }
    for (let round = 0; round < 20; round++) {
      const pids = this.pids();
      if (!pids.length) break;
      for (const pid of pids) {
        try {
          process.kill(pid, round < 3 ? 'SIGTERM' : 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      execFileSync('sleep', ['0.2']);
    }
    for (const cmd of this.plan.teardown) {
      try {
        execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore' });
      } catch {
        /* not there */
      }
    }
    rmSync(this.plan.dir, { recursive: true, force: true });
  }
}

/** Sessions of harness processes that no longer exist (killed with SIGKILL): end their namespace, daemons, QEMU and state. */
export function reapDeadSessions(parent: string): string[] {
  let names: string[] = [];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').map((l) => l.split(' ')[0]!);
  } catch {
    return [];
  }
  const reaped: string[] = [];
  for (const name of names) {
    const pid = /^kmatrix-vg-(\d+)$/.exec(name)?.[1];
    if (!pid || isAlive(Number(pid))) continue;
    new LibvirtSession(sessionPlan(pid, path.join(parent, `kmatrix-libvirt-${pid}`))).endNow();
    reaped.push(name);
  }
  return reaped;
}

/** Is a process (a harness that started a session or made a volume) still running? */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
