#!/usr/bin/env bash
# A real S3 server for the tests: a one-node Ceph Pacific cluster (ceph-mon, one memstore
# ceph-osd, radosgw on 127.0.0.1) that lives entirely under DIR, nothing under /etc/ceph.
#   s3_server.sh start DIR   starts it (or returns at once if it already answers) and writes
#                            DIR/env: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
#                            AWS_SECRET_ACCESS_KEY, AWS_REGION (KEY=VALUE lines)
#   s3_server.sh stop DIR    stops its daemons by PID (radosgw first, mon last), removes DIR
# A start that is not answering within 60 s stops with one line naming the daemon and the tail
# of its log. Only processes whose command line names DIR/ceph.conf are ever signalled.
set -euo pipefail

# Fixed keys of the one S3 user: test-only credentials of a server bound to 127.0.0.1.
readonly ACCESS_KEY=VREPOTESTACCESSKEY01
readonly SECRET_KEY=vrepoTestSecretKey0123456789abcdefghijkl
# radosgw checks a SigV4 signature with whichever region the request names; the zonegroup's
# api name is set to this one for CreateBucket's LocationConstraint.
readonly REGION=us-east-1
readonly START_LIMIT_S=60
# The SHA-256 of an empty payload, which radosgw requires in x-amz-content-sha256.
readonly EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

die() {
  echo "s3_server.sh: $*" >&2
  exit 1
}

usage() { die "usage: s3_server.sh start|stop DIR"; }

(($# == 2)) || usage
action=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
conf=$dir/ceph.conf
python=/usr/bin/python3
[[ -x $python ]] || python=python3

# Daemons in the order they start; stop walks it backwards.
readonly DAEMONS=(mon osd rgw)
# Ceph's name of each daemon, which names its log and pid files.
ceph_name() {
  case "$1" in
    mon) echo mon.a ;;
    osd) echo osd.0 ;;
    rgw) echo client.rgw.vrepo ;;
  esac
}

# Prints the PID recorded for daemon $1 if that process is alive and was started with our
# ceph.conf (a recycled PID belongs to someone else and is left alone).
live_pid() {
  local file=$dir/pids/$1 pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$conf" || return 1
  echo "$pid"
}

# True while process $1 exists and is not a zombie (an exited daemon stays in /proc until
# whichever init adopted it reaps it).
alive() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# Stops daemon $1 and waits for it to exit. The OSD gets SIGKILL: its memstore would otherwise
# write every object to disk on the way out, only for DIR to be removed.
stop_daemon() {
  local pid signal=TERM
  pid=$(live_pid "$1") || return 0
  [[ $1 == osd ]] && signal=KILL
  kill -s "$signal" "$pid" 2>/dev/null || return 0
  for _ in $(seq 200); do
    alive "$pid" || return 0
    sleep 0.05
  done
  kill -s KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.05; done
}

stop_all() {
  local i
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop_daemon "${DAEMONS[i]}"; done
}

# A signed S3 request (ListBuckets) to the endpoint in DIR/env; true when it answers 200.
signed_probe() {
  local endpoint=$1 code
  if command -v curl >/dev/null; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
      --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
      -H "x-amz-content-sha256: $EMPTY_SHA256" "$endpoint/" 2>/dev/null) || return 1
    [[ $code == 200 ]]
  else
    env ENDPOINT="$endpoint" ACCESS_KEY="$ACCESS_KEY" SECRET_KEY="$SECRET_KEY" REGION="$REGION" \
      "$python" - <<'EOF'
import datetime, hashlib, hmac, os, sys, urllib.request
endpoint, region = os.environ["ENDPOINT"], os.environ["REGION"]
key, secret = os.environ["ACCESS_KEY"], os.environ["SECRET_KEY"]
host = endpoint.split("://", 1)[1].rstrip("/")
now = datetime.datetime.now(datetime.timezone.utc)
stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
payload = hashlib.sha256(b"").hexdigest()
headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
names = ";".join(sorted(headers))
canonical = "\n".join(["GET", "/", ""] + [f"{k}:{headers[k]}" for k in sorted(headers)]
                      + ["", names, payload])
scope = f"{day}/{region}/s3/aws4_request"
to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                     hashlib.sha256(canonical.encode()).hexdigest()])
k = ("AWS4" + secret).encode()
for part in (day, region, "s3", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
request = urllib.request.Request(endpoint + "/", headers={
    "x-amz-content-sha256": payload, "x-amz-date": stamp,
    "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{scope}, "
                     f"SignedHeaders={names}, Signature={signature}"})
try:
    sys.exit(0 if urllib.request.urlopen(request, timeout=5).status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
  fi
}

# True when every daemon is alive and S3 answers a signed request.
running() {
  local d endpoint
  [[ -f $dir/env ]] || return 1
  for d in "${DAEMONS[@]}"; do live_pid "$d" >/dev/null || return 1; done
  endpoint=$(sed -n 's/^AWS_ENDPOINT_URL=//p' "$dir/env")
  [[ -n $endpoint ]] && signed_probe "$endpoint"
}

# Two distinct free TCP ports on 127.0.0.1, chosen by the kernel, so that two builds on one
# machine do not collide.
free_ports() {
  "$python" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))'
}

deadline=0
# Gives up on daemon $1 (log $2): one line, the tail of its log, the daemons stopped.
give_up() {
  local daemon=$1 log=$2
  case "$daemon" in
    mon) daemon=ceph-mon ;;
    osd) daemon=ceph-osd ;;
    rgw) daemon=radosgw ;;
  esac
  echo "s3_server.sh: $daemon did not come up within $START_LIMIT_S s (log $log); its tail:" >&2
  [[ -f $log ]] && tail -n 20 "$log" >&2
  stop_all
  exit 1
}

left_s() {
  local left=$((deadline - SECONDS))
  ((left > 0)) || left=1
  echo "$left"
}

# Runs a setup command bounded by the time left; its output goes to $log_file.
step() {
  local daemon=$1 log_file=$2
  shift 2
  if ! timeout "$(left_s)" "$@" >>"$log_file" 2>&1; then
    give_up "$daemon" "$log_file"
  fi
}

# Starts daemon $1 (ceph's own daemonizing; stdio away from the caller so that CTest does not
# wait on it) and records its PID from the pid file it writes.
launch() {
  local name=$1 log=$2
  shift 2
  if ! timeout "$(left_s)" "$@" </dev/null >>"$log" 2>&1; then give_up "$name" "$log"; fi
  local pid_file
  pid_file=$dir/run/$(ceph_name "$name").pid
  while [[ ! -s $pid_file ]]; do
    ((SECONDS < deadline)) || give_up "$name" "$log"
    sleep 0.05
  done
  cp "$pid_file" "$dir/pids/$name"
}

start() {
  local tool
  for tool in ceph-authtool monmaptool ceph-mon ceph ceph-osd radosgw radosgw-admin; do
    command -v "$tool" >/dev/null ||
      die "$tool not found (./setup.sh installs radosgw ceph-mon ceph-osd ceph-common)"
  done
  if running; then return 0; fi
  # A stale DIR (killed daemons, a half start): stop what is left and start clean.
  stop_all
  find "$dir" -mindepth 1 -delete
  mkdir -p "$dir"/{mon,osd,run,log,pids}
  deadline=$((SECONDS + START_LIMIT_S))

  local mon_port rgw_port fsid osd_uuid
  read -r mon_port rgw_port < <(free_ports)
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
ms bind msgr1 = false
ms bind msgr2 = true
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/cluster.log
log to stderr = false
err to stderr = true
# One OSD: a pool of one replica, placed without a host level.
mon allow pool size one = true
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
# Paxos proposes at once: a start in about 1.5 s instead of 13 s.
paxos propose interval = 0.01
paxos min wait = 0.01
# A full build disk must not stop the monitor.
mon data avail warn = 1
mon data avail crit = 0
mon warn on pool no redundancy = false

[mon]
mon data = $dir/mon

[osd]
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = ${VREPO_S3_MEMSTORE_BYTES:-4294967296}

[client.rgw.vrepo]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw thread pool size = 64
EOF

  local setup_log=$dir/log/setup.log keyring=$dir/keyring
  step ceph-authtool "$setup_log" ceph-authtool --create-keyring "$keyring" --gen-key -n mon. \
    --cap mon 'allow *'
  step ceph-authtool "$setup_log" ceph-authtool "$keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
  step ceph-authtool "$setup_log" ceph-authtool "$keyring" --gen-key -n osd.0 \
    --cap mon 'allow profile osd' --cap osd 'allow *'
  step ceph-authtool "$setup_log" ceph-authtool "$keyring" --gen-key -n client.rgw.vrepo \
    --cap mon 'allow rw' --cap osd 'allow rwx'
  step monmaptool "$setup_log" monmaptool --create --fsid "$fsid" \
    --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap"

  local mon_log=$dir/log/mon.a.log
  step ceph-mon "$mon_log" ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" \
    --keyring "$keyring"
  launch mon "$mon_log" ceph-mon -c "$conf" -i a

  local osd_log=$dir/log/osd.0.log
  step ceph-osd "$osd_log" ceph -c "$conf" --connect-timeout "$(left_s)" osd new "$osd_uuid" 0
  step ceph-osd "$osd_log" ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid"
  launch osd "$osd_log" ceph-osd -c "$conf" -i 0

  # The user and the region exist before radosgw starts, which then reads them once.
  # radosgw's zonegroup is named for the AWS region so that a CreateBucket naming
  # LocationConstraint AWS_REGION is accepted, as AWS does.
  local rgw_log=$dir/log/client.rgw.vrepo.log admin_log=$dir/log/radosgw-admin.log
  step radosgw-admin "$admin_log" radosgw-admin -c "$conf" user create --uid vrepo \
    --display-name vrepo --access-key "$ACCESS_KEY" --secret "$SECRET_KEY"
  step radosgw-admin "$admin_log" radosgw-admin -c "$conf" zonegroup modify \
    --rgw-zonegroup default --api-name "$REGION"
  launch rgw "$rgw_log" radosgw -c "$conf" -n client.rgw.vrepo

  local endpoint=http://127.0.0.1:$rgw_port
  until signed_probe "$endpoint"; do
    ((SECONDS < deadline)) || give_up radosgw "$rgw_log"
    for d in "${DAEMONS[@]}"; do
      live_pid "$d" >/dev/null || give_up "$d" "$dir/log/$(ceph_name "$d").log"
    done
    sleep 0.1
  done
  # Written last: its presence means the server answered.
  cat >"$dir/env.tmp" <<EOF
AWS_ENDPOINT_URL=$endpoint
AWS_ACCESS_KEY_ID=$ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$SECRET_KEY
AWS_REGION=$REGION
EOF
  mv "$dir/env.tmp" "$dir/env"
}

case "$action" in
  start) start ;;
  stop)
    stop_all
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
