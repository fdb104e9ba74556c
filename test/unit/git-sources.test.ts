import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setCacheDir } from '../../harness/cache/cache.js';
import { fetchDriverSource, notApplicable } from '../../harness/drivers/index.js';
import { SourceUnavailable, UserError } from '../../harness/errors.js';
import { loadMatrix } from '../../harness/matrix.js';
import type { DriverTree } from '../../harness/types.js';
import { moduleName } from '../../harness/drivers/build.js';
import { configureFile, driverVariables } from '../../harness/drivers/configure.js';
import { cellEnvFile } from '../../harness/guest.js';
import { gitCheckout, GitPinMismatch } from '../../harness/git.js';
import type { ConsumerSpec } from '../../harness/types.js';
import { tempDir } from '../tmp.js';
import { insteadOfEnv } from '../git-mirror.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' }).trim();

/** `files` (path → text) committed in a new work tree under `tmp`: the tree and its commit. */
function commitTree(tmp: string, files: Record<string, string>): { work: string; commit: string } {
  const work = path.join(tmp, 'work');
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(work, f)), { recursive: true });
    writeFileSync(path.join(work, f), text);
  }
  git(tmp, 'init', '-q', work);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', 'tree');
  return { work, commit: git(work, 'rev-parse', 'HEAD') };
}

/** The harness's cache under `tmp`, git redirected to `mirrors`; the function returned undoes both. */
function useMirrors(tmp: string, mirrors: string): () => void {
  const saved = { ...process.env };
  setCacheDir(path.join(tmp, 'cache'));
  Object.assign(process.env, insteadOfEnv(mirrors));
  return () => {
    setCacheDir(undefined);
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  };
}

describe('git driver sources', () => {
  let tmp: string;
  let mirrors: string;
  let commit: string;
  let restore: () => void;

  /** A "GitHub" repository owner/driver with a sysdig-era driver/ tree, as a bare mirror under `mirrors`. */
  before(() => {
    tmp = tempDir('kmatrix-git-');
    let work: string;
    ({ work, commit } = commitTree(tmp, {
      'driver/driver_config.h.in': '#define PROBE_VERSION "${PROBE_VERSION}"\n#define PROBE_NAME "${PROBE_NAME}"\n#define PROBE_DEVICE_NAME "${PROBE_DEVICE_NAME}"\n',
      'driver/Makefile.in': '@PROBE_NAME@-y += main.o\nobj-m += @PROBE_NAME@.o\nccflags-y := @KBUILD_FLAGS@\n',
      'driver/main.c': 'int x;\n',
    }));
    mirrors = path.join(tmp, 'mirrors');
    mkdirSync(path.join(mirrors, 'owner'), { recursive: true });
    git(tmp, 'clone', '-q', '--bare', work, path.join(mirrors, 'owner', 'driver.git'));
    git(path.join(mirrors, 'owner', 'driver.git'), 'config', 'uploadpack.allowAnySHA1InWant', 'true');
    restore = useMirrors(tmp, mirrors);
  });
  after(() => {
    restore();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('insteadOf: the public URL is read from the local mirror, by git itself', () => {
    const out = execFileSync('git', ['ls-remote', 'https://github.com/owner/driver'], { encoding: 'utf8', env: process.env });
    assert.match(out, new RegExp(`^${commit}\\s+HEAD`, 'm'));
    assert.deepEqual(insteadOfEnv('/m'), { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'url.file:///m/.insteadOf', GIT_CONFIG_VALUE_0: 'https://github.com/' });
  });

  it('fetches exactly the pinned commit, and caches it by commit id', async () => {
    const tree = await gitCheckout({ url: 'https://github.com/owner/driver', commit });
    assert.equal(git(tree, 'rev-parse', 'HEAD'), commit);
    assert.equal(git(tree, 'rev-parse', '--is-shallow-repository'), 'true');
    // cached: with the mirror gone, the same commit (from any URL) is still there
    rmSync(path.join(mirrors, 'owner', 'driver.git'), { recursive: true });
    assert.equal(await gitCheckout({ url: 'https://github.com/elsewhere/driver', commit }), tree);
    git(tmp, 'clone', '-q', '--bare', path.join(tmp, 'work'), path.join(mirrors, 'owner', 'driver.git'));
  });

  it('a commit that cannot be fetched is a skip with git\'s reason', async () => {
    await assert.rejects(gitCheckout({ url: 'https://github.com/owner/driver', commit: 'f'.repeat(40) }), (e: Error) => {
      assert.ok(e instanceof SourceUnavailable, String(e));
      assert.match(e.message, /^source unavailable: commit f{40} of https:\/\/github\.com\/owner\/driver cannot be fetched \(git fetch .*: fatal: /);
      return true;
    });
    await assert.rejects(gitCheckout({ url: 'https://github.com/owner/missing', commit: '0'.repeat(40) }), SourceUnavailable, 'no such repository');
  });

  it('a checkout that is not the pinned commit is rejected, cached or not', async () => {
    const tree = await gitCheckout({ url: 'https://github.com/owner/driver', commit });
    writeFileSync(path.join(tree, 'driver', 'main.c'), 'int y;\n');
    git(tree, 'commit', '-qam', 'moved');
    await assert.rejects(gitCheckout({ url: 'https://github.com/owner/driver', commit }), (e: Error) => {
      assert.ok(e instanceof GitPinMismatch, String(e));
      assert.ok(!(e instanceof SourceUnavailable), 'an error, not a skip');
      assert.match(e.message, new RegExp(`is at [0-9a-f]{40}, not the pinned commit ${commit}`));
      return true;
    });
    git(tree, 'reset', '-q', '--hard', commit);
  });

  it('a git source is its driver/ tree configured as its CMake does (sysdig era: no API versions)', async () => {
    const tree = await fetchDriverSource(undefined as never, { id: 'falco-0.26.0', consumer: 'c', git: { url: 'https://github.com/owner/driver', commit } });
    assert.equal(tree.version, commit);
    assert.deepEqual(tree.versions, { api: '0.0.0', schema: '0.0.0' });
    assert.equal(readFileSync(path.join(tree.dir, 'Makefile'), 'utf8'), 'sysdig-probe-y += main.o\nobj-m += sysdig-probe.o\nccflags-y := \n');
    assert.match(readFileSync(path.join(tree.dir, 'driver_config.h'), 'utf8'), /PROBE_DEVICE_NAME "sysdig"/);
    assert.ok(!existsSync(path.join(tree.dir, '.git')));
    assert.equal(tree.pdig, undefined);
  });
});

describe('driver configuration (CMake configure_file)', () => {
  it('replaces ${VAR} and @VAR@, unknown ones by nothing', () => {
    assert.equal(configureFile('a ${X} b @Y@ c ${Z} $X', { X: '1', Y: '2' }), 'a 1 b 2 c  $X');
  });
  it('libs-era trees take their API/schema versions from API_VERSION and SCHEMA_VERSION', () => {
    const dir = tempDir('kmatrix-libs-');
    writeFileSync(path.join(dir, 'API_VERSION'), '1.0.0\n');
    writeFileSync(path.join(dir, 'SCHEMA_VERSION'), '1.2.3\n');
    const v = driverVariables(dir, 'abc');
    assert.deepEqual([v.PPM_API_CURRENT_VERSION_MAJOR, v.PPM_SCHEMA_CURRENT_VERSION_MINOR, v.PPM_SCHEMA_CURRENT_VERSION_PATCH, v.DRIVER_NAME, v.DRIVER_VERSION], ['1', '2', '3', 'scap', 'abc']);
  });
  it("a driver configured the way Falco's CMake does it is named falco: module falco.ko, device /dev/falco0", () => {
    const dir = tempDir('kmatrix-libs-');
    writeFileSync(path.join(dir, 'API_VERSION'), '10.1.0\n');
    writeFileSync(path.join(dir, 'SCHEMA_VERSION'), '4.5.1\n');
    const v = driverVariables(dir, 'abc', 'falco');
    assert.deepEqual([v.DRIVER_NAME, v.DRIVER_DEVICE_NAME, v.DRIVER_PACKAGE_NAME], ['falco', 'falco', 'falco']);
    // libs' Makefile.in names the module after DRIVER_NAME; the guest inserts kmatrix/<module>.ko and removes <module>
    writeFileSync(path.join(dir, 'Makefile'), configureFile('@DRIVER_NAME@-y += main.o\nobj-m += @DRIVER_NAME@.o\n', v));
    assert.equal(moduleName(dir), 'falco');
    assert.match(cellEnvFile({ driver: 'kmod', consumer: 'sysdig', nonce: 'n', engineArgs: '', runAs: '', captureTimeout: 1, module: 'falco' }), /^KM_MODULE='falco'$/m);
  });
});

describe('pdig applicability', () => {
  const consumer: ConsumerSpec = { id: 'sysdig-0.29', kind: 'sysdig', debian: { suite: 'bookworm', package: 'sysdig' }, engines: ['kmod', 'ebpf', 'pdig'], requires: { api: '1.0.0', schema: '1.0.0' } };
  const pdigTree: DriverTree = { dir: '/x', version: 'v', versions: { api: '1.0.0', schema: '1.0.0' }, origin: 'git:pdig', pdig: { tree: '/p', libs: '/l' } };

  it('runs on amd64, and says why not on ARM', () => {
    assert.equal(notApplicable('pdig', pdigTree, consumer, 'amd64'), undefined);
    assert.match(notApplicable('pdig', pdigTree, consumer, 'arm64')!, /^pdig is x86_64 only .*: no arm64 build$/);
    assert.match(notApplicable('pdig', pdigTree, consumer, 'armhf')!, /x86_64 only/);
  });
  it('needs a consumer with the udig engine', () => {
    assert.match(notApplicable('pdig', pdigTree, { ...consumer, engines: ['kmod'] }, 'amd64')!, /has no pdig engine/);
  });
  it('a pdig source is not a kernel driver source', () => {
    assert.match(notApplicable('kmod', pdigTree, consumer, 'amd64')!, /this source is pdig's/);
  });
});

describe('sysdig built from git', () => {
  it('MINIMAL_BUILD for the module; the whole of it (eBPF engine) only for a probe consumer', async () => {
    const { sysdigBuildScript, SYSDIG_BUILD_DEPS, SYSDIG_FULL_BUILD_DEPS } = await import('../../harness/consumers/sysdig-git.js');
    assert.match(sysdigBuildScript('c0ffee'), /-DMINIMAL_BUILD=ON .*-DPROBE_VERSION=c0ffee/);
    assert.doesNotMatch(sysdigBuildScript('c0ffee', false), /MINIMAL_BUILD/);
    assert.match(sysdigBuildScript('c0ffee'), /-DluaL_reg=luaL_Reg -DluaL_getn=lua_objlen/, "Debian's LuaJIT 2.1 lacks the Lua 5.0 names");
    assert.ok(SYSDIG_FULL_BUILD_DEPS.includes('libgrpc++-dev') && !SYSDIG_BUILD_DEPS.includes('libgrpc++-dev'));
  });
});

describe('git checkouts that leave paths out (a partial clone)', () => {
  let tmp: string;
  let mirror: string;
  let commit: string;
  let pdf: string;
  let restore: () => void;

  /** owner/app: src/ and proposals/slides.pdf; its mirror has every object but the slide deck's blob. */
  before(() => {
    tmp = tempDir('kmatrix-partial-');
    let work: string;
    ({ work, commit } = commitTree(tmp, { 'src/main.c': 'int main(void) { return 0; }\n', 'proposals/slides.pdf': '%PDF-1.4 a slide deck\n' }));
    pdf = git(work, 'rev-parse', 'HEAD:proposals/slides.pdf');
    const mirrors = path.join(tmp, 'mirrors');
    mirror = path.join(mirrors, 'owner', 'app.git');
    git(tmp, 'init', '-q', '--bare', mirror);
    // few objects arrive loose: one of them can be taken away
    git(work, 'push', '-q', mirror, 'HEAD:refs/heads/main');
    for (const [k, v] of [['uploadpack.allowAnySHA1InWant', 'true'], ['uploadpack.allowFilter', 'true']]) git(mirror, 'config', k, v);
    rmSync(path.join(mirror, 'objects', pdf.slice(0, 2), pdf.slice(2)));
    restore = useMirrors(tmp, mirrors);
  });
  after(() => {
    restore();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a plain fetch of that commit fails on the missing blob: a skip with git\'s reason', async () => {
    await assert.rejects(gitCheckout({ url: 'https://github.com/owner/app', commit }), (e: unknown) => e instanceof SourceUnavailable && /cannot be fetched/.test(e.message));
  });

  it('with exclude, the checkout is the pinned commit without the left-out path, its blob never fetched', async () => {
    const tree = await gitCheckout({ url: 'https://github.com/owner/app', commit, exclude: ['proposals/'] });
    assert.equal(git(tree, 'rev-parse', 'HEAD'), commit);
    assert.ok(existsSync(path.join(tree, 'src', 'main.c')));
    assert.ok(!existsSync(path.join(tree, 'proposals')), 'proposals/ left out');
    assert.equal(git(tree, 'config', 'remote.origin.promisor'), 'true', 'a partial clone');
    assert.match(readFileSync(path.join(tree, '.git', 'info', 'sparse-checkout'), 'utf8'), /^!\/proposals\/$/m);
  });

  it('the matrix takes exclude on a git pin, and refuses a pattern in it', () => {
    const dir = mkdtempSync(path.join(tmp, 'm-'));
    const base = (exclude: string) => `kernels: { k: { arch: amd64, machine: q35, debian: { suite: bookworm, flavour: amd64 } } }
consumers: { c: { kind: sysdig, debian: { suite: bookworm, package: sysdig }, engines: [kmod], requires: { api: "1.0.0", schema: "1.0.0" } } }
sources: { s: { git: { url: https://github.com/owner/app, commit: ${commit}, exclude: [${exclude}] }, consumer: c } }
matrix: [ { kernels: [k], drivers: [kmod], sources: [s] } ]
`;
    writeFileSync(path.join(dir, 'ok.yaml'), base('proposals/'));
    assert.deepEqual(loadMatrix(path.join(dir, 'ok.yaml')).cells[0]!.source.git?.exclude, ['proposals/']);
    writeFileSync(path.join(dir, 'bad.yaml'), base('"!proposals/"'));
    assert.throws(() => loadMatrix(path.join(dir, 'bad.yaml')), (e: unknown) => e instanceof UserError && /exclude/.test(e.message));
  });
});

