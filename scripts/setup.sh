#!/usr/bin/env bash
# Installs what kmatrix needs on a Debian bookworm host, as root: the system
# tools it drives (from the host's own Debian packages; the host's apt sources
# are not changed) and the npm dependencies, then compiles the TypeScript.
# Idempotent: a second call installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(qemu-system-x86 qemu-system-arm mmdebstrap bubblewrap cpio util-linux dpkg apt debian-archive-keyring xz-utils zstd procps mtools dosfstools fdisk e2fsprogs binutils git)
# rpm2cpio: kernels from yum repositories (harness/kernels/rpms.ts)
packages+=(rpm2cpio)
# rpmbuild and createrepo_c: the yum tests make their repositories (test/unit/yumrepo.test.ts, test/integration/yum-repository.test.ts)
packages+=(rpm createrepo-c)
# Debian's chromium and a CJK font (the document's Chinese quotes in the report), for the report's browser test; jobs that only run the matrix skip them (KMATRIX_NO_BROWSER=1)
[ "${KMATRIX_NO_BROWSER:-}" = 1 ] || packages+=(chromium fonts-wqy-microhei)
# vendor apt repositories: gpgv checks their signature (gpg dearmors a key); the tests' own repository is built with apt-ftparchive and signed with gpg
packages+=(gpgv gpg gpg-agent apt-utils)
# The Vagrant backend: vagrant + its libvirt provider, the libvirt daemon and its
# QEMU driver (not libvirt-daemon-system: the harness starts the daemons itself,
# inside a network namespace; that package would start one on the host), and
# what libvirt's NAT network and the local box need.
packages+=(vagrant vagrant-libvirt libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-utils dnsmasq-base iptables iproute2 ruby-libvirt)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} — run this script as root (it uses apt-get)." >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
