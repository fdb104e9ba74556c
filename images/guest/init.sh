#!/bin/busybox sh
# kmatrix guest init: runs one cell's load and capture steps and reports facts
# on the console as `KMATRIX v1 <verb> ...` lines; the host decides the verdict.
# Parameters come from /kmatrix/cell.env (written by the harness per cell).

# busybox applets go to a directory of their own, last in PATH, so they never
# replace the guest's real tools (the shell itself prefers applets: a real
# tool that shares an applet's name is called by its path).
/bin/busybox mkdir -p /kmatrix/bin
/bin/busybox --install -s /kmatrix/bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/kmatrix/bin
mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/shm && mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
. /kmatrix/cell.env

say() { echo "KMATRIX v1 $*"; }
# A log travels base64-encoded on one line with its length, so a truncated or
# interleaved line is detected on the host instead of misread.
log() { # name file [limit] (a longer one keeps its start and its end, where the final error is)
  limit=${3:-16384}
  if [ "$(wc -c < "$2" 2>/dev/null || echo 0)" -gt "$limit" ]; then
    { head -c $((limit/2)) "$2"; printf '\n[... kmatrix: middle cut ...]\n'; tail -c $((limit/2)) "$2"; } > "$2.cut"
    set -- "$1" "$2.cut"
  fi
  b=$(base64 -w0 < "$2" 2>/dev/null)
  say log "$1" "${#b}" "$b"
}
# Optional steps a run adds (e.g. the bench's timed loops): /kmatrix/hooks/<point>.
hook() { [ -f "/kmatrix/hooks/$1" ] && . "/kmatrix/hooks/$1"; }
# In a Vagrant box (KM_MODE=box) this runs chrooted over ssh: the box is not ours to power off.
finish() { dmesg | tail -n 60 > /tmp/dmesg; log dmesg /tmp/dmesg; say done; sync; [ "$KM_MODE" = box ] && exit 0; poweroff -f; sleep 30; }

# The kernel's own modules the guest needs (a vendor kernel's serial console
# driver, KMATRIX_GUEST_MODULES), before anything else: the host sent them
# decompressed (busybox's insmod may not read .ko.xz, never .ko.zst) and
# numbered in dependency order. Their reports wait until the console works:
# a serial driver loaded as a module is no kernel console (no /dev/console),
# so init then writes to the tty of console= itself.
modules_failed=0
for m in /kmatrix/modules/*.ko; do
  [ -f "$m" ] || continue
  n=${m##*/}; n=${n#*-}; n=${n%.ko}
  insmod "$m" > "/tmp/module-$n.out" 2>&1; echo "$n $?" >> /tmp/modules.rc
done
if [ -f /tmp/modules.rc ] && ! { : > /dev/console; } 2>/dev/null; then
  for a in $(cat /proc/cmdline); do case "$a" in console=*) t=${a#console=}; t=/dev/${t%%,*}; [ -c "$t" ] && exec < "$t" > "$t" 2>&1 ;; esac; done
fi
if [ -f /tmp/modules.rc ]; then
  while read -r n rc; do
    [ "$rc" = 0 ] || { log "module-$n" "/tmp/module-$n.out"; modules_failed=1; }
    say module name=$n rc=$rc
  done < /tmp/modules.rc
fi

# Boards without an RTC boot in 1970 (btime 0), which libscap rejects: take the host's clock.
for a in $(cat /proc/cmdline); do case "$a" in kmatrix.time=*) date -s "@${a#kmatrix.time=}" >/dev/null 2>&1 ;; esac; done
# the loopback (the guest's only network: -nic none), up for the battery's TCP calls
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
say boot release=$(uname -r) btime=$(awk '/^btime/{print $2}' /proc/stat) nproc=$(nproc)
[ "$KM_MODE" = probe ] && { say done; poweroff -f; }
# a module the guest needs did not load: the host ends the cell as an error at boot
[ $modules_failed = 1 ] && finish

# A Pi booted from an SD card: Debian builds the card's controller and ext4 as
# modules; load them and check that the card's root partition is this card's.
if [ "$KM_SDCARD" = 1 ]; then
  for m in /kmatrix/sd/*.ko; do insmod "$m" 2>/dev/null; done
  i=0; while [ ! -b /dev/mmcblk0p2 ] && [ $i -lt 20 ]; do sleep 1; i=$((i+1)); done
  mkdir -p /mnt/sd; root=0
  mount -o ro -t ext4 /dev/mmcblk0p2 /mnt/sd 2>/dev/null && [ -f /mnt/sd/kmatrix-sdcard ] && root=1
  umount /mnt/sd 2>/dev/null
  say sdcard partitions=$(awk 'NR>2 && $4 ~ /^mmcblk/ {printf "%s,", $4}' /proc/partitions) root=$root
fi

# load: the kernel module is inserted by hand (as falco-driver-loader would);
# eBPF drivers are loaded by the consumer itself.
KM_MODULE=${KM_MODULE:-scap}
if [ "$KM_DRIVER" = kmod ]; then
  $KM_RUN_AS insmod "/kmatrix/$KM_MODULE.ko" > /tmp/insmod.out 2>&1
  rc=$?
  log insmod /tmp/insmod.out
  say insmod rc=$rc
  [ $rc -eq 0 ] || [ "$KM_MODE" = shell ] || finish
  # a negative control (a module built for another kernel): loaded, it is removed; either way nothing more to do
  if [ "$KM_MODE" = control ]; then rmmod "$KM_MODULE" > /tmp/rmmod.out 2>&1; say rmmod rc=$?; finish; fi
fi

# shell (`kmatrix run <cell> --shell`): the driver is loaded (kmod) or in
# /kmatrix (eBPF); an interactive shell on the console. poweroff/reboot there
# end the VM (PID 1, this script, would ignore busybox's poweroff signal: forced).
if [ "$KM_MODE" = shell ]; then
  mkdir -p /kmatrix/shell
  # the shell prefers its own applets to PATH: aliases in its startup file ($ENV)
  for c in poweroff reboot halt; do echo "alias $c='sync; /bin/busybox poweroff -f'"; done > /kmatrix/shell/profile
  echo "kmatrix shell: $(uname -r), driver $KM_DRIVER$([ "$KM_DRIVER" = kmod ] && echo " (insmod rc=$rc)"), consumer: $KM_CONSUMER $KM_ENGINE_ARGS"
  echo "kmatrix shell: leave with poweroff (or Ctrl-A X)"
  say shell
  export ENV=/kmatrix/shell/profile PS1='kmatrix# '
  # a session with the console as controlling terminal: job control and Ctrl-C
  if [ -x /kmatrix/bin/cttyhack ] && [ -x /kmatrix/bin/setsid ]; then setsid cttyhack sh; else sh; fi
  poweroff -f
fi

marker=/tmp/kmatrix-marker-$KM_NONCE
echo "$KM_NONCE" > "$marker"
# pdig: the marker is opened by a command pdig runs (spawn mode: pdig traces
# only it), and a second marker by a process it does not trace, which must
# not show up. Other drivers see every process: the marker opener is plain cat.
untraced=/tmp/kmatrix-untraced-$KM_NONCE
echo "$KM_NONCE" > "$untraced"
untraced_opens=0
open_marker() {
  if [ "$KM_DRIVER" = pdig ]; then
    cat "$untraced" > /dev/null; untraced_opens=$((untraced_opens+1))
    $KM_RUN_AS /kmatrix/pdig cat "$marker" > /dev/null 2>> /tmp/pdig.err
  else
    cat "$marker" > /dev/null
  fi
}
# The timed syscall loop (/kmatrix/syscall-loop COUNT FILE prints elapsed ns): `loop MODE [PREFIX...]`.
loop() {
  mode=$1; shift
  say loop mode=$mode state=start
  "$@" /kmatrix/syscall-loop "$KM_LOOP_COUNT" /tmp/kmatrix-loop > /tmp/loop.out 2> /tmp/loop.err
  lrc=$?
  [ $lrc -eq 0 ] || log loop-$mode /tmp/loop.err
  say loop mode=$mode rc=$lrc count=$KM_LOOP_COUNT ns=$(head -n 1 /tmp/loop.out)
}
# $KM_RUN_AS: the profile's command prefix (e.g. reduced capabilities); it
# execs, so $! is the consumer itself.
case "$KM_CONSUMER" in
  sysdig)
    # Only events on the marker file are printed, streamed: capture ends as soon as it shows.
    live=1; window=$KM_CAPTURE_TIMEOUT; first_event='^KMEVT '
    # …and the battery's events, with their parameters (pid and arguments after the marker fields;
    # `*`: also the events lacking a field, e.g. clone has no fd).
    $KM_RUN_AS sysdig --unbuffered $KM_ENGINE_ARGS -p '*KMEVT %evt.num %evt.dir %evt.type %proc.name %fd.name pid=%proc.pid :: %evt.args' "fd.name contains $KM_NONCE or proc.name = kmbattery" > /tmp/captured 2> /tmp/consumer.err &
    ;;
  scap-open)
    # scap-open prints every openat exit with its parameters through stdio,
    # block-buffered into a file; coreutils' libstdbuf (what stdbuf -oL does)
    # makes it line-buffered so capture ends as soon as the marker shows.
    # Without it: a fixed window, the output read once scap-open has stopped.
    stdbuf=/usr/libexec/coreutils/libstdbuf.so
    first_event='^ *PARAM [0-9]'   # its banner comes before the driver is open: an event's parameter means attached
    if [ -f $stdbuf ]; then live=1; window=$KM_CAPTURE_TIMEOUT; else live=0; window=25; [ "$KM_CAPTURE_TIMEOUT" -lt $window ] && window=$KM_CAPTURE_TIMEOUT; stdbuf=; fi
    LD_PRELOAD=$stdbuf _STDBUF_O=L $KM_RUN_AS scap-open $KM_ENGINE_ARGS --evt_type "$KM_EVT_TYPE" > /tmp/captured 2> /tmp/consumer.err &
    ;;
  falco)
    # Falco with kmatrix's configuration (/etc/falco/falco.yaml): one rule, the
    # nonce written into it, alerting in JSON on stdout when the marker is
    # opened; -v: the driver's event and drops counts at exit. Falco says
    # nothing once its driver is open: attached is its first alert, within a
    # quarter second of the first marker it could see (its start-up time).
    sed "s/KMATRIX_NONCE/$KM_NONCE/" /etc/falco/kmatrix_rules.yaml.in > /tmp/kmatrix_rules.yaml
    live=1; window=$KM_CAPTURE_TIMEOUT; first_event="kmatrix-marker-$KM_NONCE"
    HOME=/tmp $KM_RUN_AS falco -c /etc/falco/falco.yaml $KM_ENGINE_ARGS -v > /tmp/captured 2> /tmp/consumer.err &
    ;;
  *) echo "unknown consumer $KM_CONSUMER" > /tmp/consumer.err; false & ;;
esac
pid=$!
say consumer started pid=$pid
# Still running (not a zombie init has yet to reap): 1, else 0.
consumer_alive() { kill -0 $pid 2>/dev/null && [ "$(sed 's/^.*) //' /proc/$pid/stat 2>/dev/null | cut -c1)" != Z ] && echo 1 || echo 0; }
hook consumer-started

# capture: the marker process (cat) opens the marker file every quarter second until
# the consumer shows it, the consumer dies, or the window closes.
t=0; attached=0; found=0; alive=1
while [ $t -lt "$window" ]; do
  if ! kill -0 $pid 2>/dev/null; then alive=0; break; fi
  open_marker
  if [ $live = 1 ]; then
    grep -q "kmatrix-marker-$KM_NONCE" /tmp/captured 2>/dev/null && found=1
    if [ $attached = 0 ] && grep -q -e "$first_event" /tmp/captured 2>/dev/null; then attached=1; say attached seconds=$t; fi
    [ $found = 1 ] && break
  fi
  # a quarter-second tick: the marker is seen (and capture ends) within 0.25 s of arriving
  usleep 250000; tick=$((${tick:-0}+1)); t=$((tick/4))
done
[ $found = 1 ] && hook capturing
# The battery: a fixed script of system calls (/kmatrix/kmbattery prints what
# it did); the consumer's events for it go to the host, which checks each
# call's parameters. Under pdig it runs traced (pdig sees only its children).
battery() { if [ "$KM_DRIVER" = pdig ]; then $KM_RUN_AS /kmatrix/pdig /kmatrix/kmbattery "$@"; else /kmatrix/kmbattery "$@"; fi; }
# (The host judges the battery where the consumer prints parameters: a program
# it sent that is not here is said so, missing=1, never passed over.)
[ $found = 1 ] && [ ! -x /kmatrix/kmbattery ] && say battery rc=127 missing=1 seconds=0
if [ $found = 1 ] && [ -x /kmatrix/kmbattery ]; then
  b0=$(cut -d' ' -f1 /proc/uptime)
  battery "$KM_NONCE" > /tmp/battery.out 2>&1; brc=$?
  # the consumer prints within moments: wait for the script's last call (wait4's exit), 10 s at most
  i=0; while [ $i -lt 40 ] && ! grep -q -E 'KMEVT [0-9]+ < wait4 kmbattery ' /tmp/captured; do usleep 250000; i=$((i+1)); done
  say battery rc=$brc seconds=$(awk "BEGIN { printf \"%.2f\", $(cut -d' ' -f1 /proc/uptime) - $b0 }") alive=$(consumer_alive)
  log battery /tmp/battery.out
  # its events: every event of its processes (the host picks the script's calls)
  # (sysdig prints them as lines; Falco as its battery rule's JSON alerts, the line in their output;
  # page faults and context switches left out: not the script's, and many)
  { grep -E '^KMEVT [0-9]+ [<>] [a-z0-9_]+ kmbattery ' /tmp/captured
    grep '"rule":"kmatrix battery"' /tmp/captured | sed -n 's/.*"output":"[^"]*\(KMEVT [^"]*\)".*/\1/p'
  } | grep -v -E '^KMEVT [0-9]+ [<>] (page_fault|switch) ' > /tmp/battery.events
  log battery-events /tmp/battery.events 65536
  # The soak: $KM_SOAK seconds of the battery in a loop, a fork storm and file
  # churn while the consumer captures; its parse errors show in its stderr.
  if [ "${KM_SOAK:-0}" -gt 0 ]; then
    before=$(grep -c 'KMEVT' /tmp/captured); runs=0; end=$(( $(date +%s) + KM_SOAK ))
    while [ "$(date +%s)" -lt $end ]; do
      battery "soak$runs" > /dev/null 2>&1
      p=; for i in 1 2 3 4 5 6 7 8; do true & p="$p $!"; done; wait $p
      for i in 1 2 3 4 5 6 7 8; do echo "$runs" > /tmp/kmatrix-churn-$i; mv /tmp/kmatrix-churn-$i /tmp/kmatrix-churned-$i; rm -f /tmp/kmatrix-churned-$i; done
      runs=$((runs+1))
    done
    usleep 500000
    say soak seconds=$KM_SOAK runs=$runs events=$(( $(grep -c 'KMEVT' /tmp/captured) - before )) alive=$(consumer_alive)
  fi
fi
# pdig's cost: the loop untraced and under pdig, while the consumer reads pdig's ring.
if [ "$KM_DRIVER" = pdig ] && [ $found = 1 ] && [ -x /kmatrix/syscall-loop ]; then
  : > /tmp/kmatrix-loop
  loop untraced
  loop pdig $KM_RUN_AS /kmatrix/pdig
fi
if [ $alive = 1 ]; then
  kill -INT $pid 2>/dev/null
  i=0; while [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do usleep 100000; i=$((i+1)); done
  kill -KILL $pid 2>/dev/null
fi
wait $pid 2>/dev/null; rc=$?
log consumer /tmp/consumer.err
# The host gets the lines naming the marker, and the consumer's closing lines (stats).
grep -e "$KM_NONCE" /tmp/captured | head -n 50 > /tmp/captured.marker
log captured /tmp/captured.marker
# Falco's own counters at exit: the driver's events and drops, its drop monitor, its alerts.
[ "$KM_CONSUMER" = falco ] && {
  grep -h -E 'Driver Events|Driver Drops|Captured Events|event drop detected|num times actions taken|Events detected' /tmp/consumer.err /tmp/captured > /tmp/captured.tail
  log stats /tmp/captured.tail
}
[ "$KM_CONSUMER" = scap-open ] && {
  { grep -E 'Seen by driver|events correctly captured|Time elapsed' /tmp/captured; tail -n 40 /tmp/captured; } > /tmp/captured.tail
  log stats /tmp/captured.tail
}
grep -q "kmatrix-marker-$KM_NONCE" /tmp/captured 2>/dev/null && found=1
[ -s /tmp/pdig.err ] && log pdig /tmp/pdig.err
say capture found=$found alive=$alive rc=$rc seconds=$t untraced=$untraced_opens
if [ "$KM_DRIVER" = kmod ]; then rmmod "$KM_MODULE" > /tmp/rmmod.out 2>&1; rc=$?; log rmmod /tmp/rmmod.out; say rmmod rc=$rc; fi
[ $found = 1 ] && hook unloaded

# pdig next to the kernel module on this kernel: the same loop with the
# module loaded and the consumer reading it (the host sends scap.ko along
# with pdig where it built; a profile that cannot load modules has no figure).
if [ "$KM_DRIVER" = pdig ] && [ $found = 1 ] && [ -f /kmatrix/scap.ko ] && [ -z "$KM_RUN_AS" ]; then
  if insmod /kmatrix/scap.ko > /tmp/insmod.out 2>&1; then
    sysdig --unbuffered -p 'KMEVT %evt.num %evt.dir %evt.type %proc.name %fd.name' "fd.name contains $KM_NONCE" > /tmp/kcaptured 2> /tmp/kconsumer.err &
    kpid=$!; t=0
    # capturing for sure once the marker shows
    while [ $t -lt 60 ] && kill -0 $kpid 2>/dev/null && ! grep -q "$KM_NONCE" /tmp/kcaptured; do cat "$marker" > /dev/null; sleep 1; t=$((t+1)); done
    # (a moment for the consumer's start-up work, which shares the guest's CPU with the loop)
    if grep -q "$KM_NONCE" /tmp/kcaptured; then sleep 2; loop kmod; else log kconsumer /tmp/kconsumer.err; say loop mode=kmod rc=-1 why=consumer-not-capturing; fi
    kill -INT $kpid 2>/dev/null; sleep 2; kill -KILL $kpid 2>/dev/null; wait $kpid 2>/dev/null
    rmmod /kmatrix/scap.ko 2>/dev/null
  else
    log insmod /tmp/insmod.out; say loop mode=kmod rc=-1 why=insmod-failed
  fi
fi
finish
