#!/usr/bin/env bash
# Tests the Debian package on this machine, as root (scripts/test.sh runs
# it; so can you, on a machine without audit-sealer installed):
#
#   scripts/test-package.sh
#
# 1. Vets and tests the manual page generator (-tags gendocs, which
#    go test ./... does not set). Builds the .deb twice, from this tree
#    and from a copy of it at another path, and fails unless the two .deb
#    files and SHA256SUMS are byte-identical; checks dpkg-deb --info and
#    lintian (errors fail).
# 2. Runs README.md's "Installing" block as written (dpkg -i, the secrets,
#    the SoftHSM token owned by the audit-sealer user, keys generate, tpm
#    provision, config check, status, keys export-public) with two
#    substitutions this machine needs: it has no TPM, so AUDIT_SEALER_TPM
#    names a swtpm for every command; and no systemd as PID 1, so the
#    systemctl line becomes a direct start as the unit would run the
#    sealer (setpriv as audit-sealer with its groups plus audit-emitters,
#    umask 0077).
# 3. Emits events as root, stops the sealer (SIGTERM), verifies the log
#    with the packaged audit-verify and the exported key history;
#    reinstalls the package over an edited conffile (kept); purges it and
#    checks that binaries, units and configuration are gone and the log is
#    still there and still verifies.
#
# Whatever happens, an EXIT trap stops what it started, purges the
# package and removes what it created (the user and groups, the log, the
# token, the secrets, and tpm-udev or softhsm2 if it installed them), so
# the machine is left as it was. It refuses to run where audit-sealer is
# already installed or its user or directories exist. Without root or
# swtpm it skips, except under CI=true, where it fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

say() { echo "-- $*"; }
fail() { echo "test-package.sh: FAIL: $*" >&2; exit 1; }
skip() {
  if [ "${CI:-}" = true ]; then fail "$* (CI=true: nothing may be skipped)"; fi
  echo "test-package.sh: skipped: $*" >&2
  exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i, a system user)"
if [ "${CI:-}" = true ]; then
  # The tools package-deb.sh and this test use, as scripts/test.sh
  # installs the tests' packages.
  missing=()
  for p in dpkg-dev lintian; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
for tool in swtpm softhsm2-util setpriv runuser dpkg-deb; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/test.sh installs the test packages)"
done
if dpkg -s audit-sealer >/dev/null 2>&1 || getent passwd audit-sealer >/dev/null || getent group audit-emitters >/dev/null ||
  [ -e /var/lib/audit-sealer ] || [ -e /etc/audit-sealer ] || [ -e /run/audit-sealer ] ||
  [ -e /etc/systemd/system/audit-sealer.service.d ]; then
  fail "this machine already has audit-sealer (package, user, group or directories): this test installs and purges it, so it runs only where it is absent"
fi

work=$(mktemp -d)
chmod 0755 "$work"
sealer_pid=
preinstalled=()
for p in tpm-udev softhsm2; do
  if dpkg -s "$p" >/dev/null 2>&1; then preinstalled+=("$p"); fi
done
# README's apt-get install marks them manually installed: restored at the end.
auto_installed=$(apt-mark showauto tpm-udev softhsm2 2>/dev/null || true)

cleanup() {
  local rc=$?
  set +e
  if [ -n "$sealer_pid" ] && kill -0 "$sealer_pid" 2>/dev/null; then
    kill -TERM "$sealer_pid"
    wait "$sealer_pid"
  fi
  if [ -s "$work/tpm/swtpm.pid" ]; then
    scripts/swtpm/stop.sh "$work/tpm" 2>/dev/null
  fi
  if dpkg -s audit-sealer >/dev/null 2>&1 || dpkg -l audit-sealer 2>/dev/null | grep '^rc' >/dev/null; then
    dpkg --purge audit-sealer >/dev/null
  fi
  # The token the audit-sealer user created in the system store.
  if getent passwd audit-sealer >/dev/null && [ -d /var/lib/softhsm/tokens ]; then
    find /var/lib/softhsm/tokens -mindepth 1 -maxdepth 1 -user audit-sealer -exec rm -rf {} +
  fi
  rm -rf /var/lib/audit-sealer /etc/audit-sealer /run/audit-sealer /etc/systemd/system/audit-sealer.service.d
  getent passwd audit-sealer >/dev/null && userdel audit-sealer
  getent group audit-sealer >/dev/null && groupdel audit-sealer
  getent group audit-emitters >/dev/null && groupdel audit-emitters
  for p in tpm-udev softhsm2; do
    if [[ " ${preinstalled[*]} " != *" $p "* ]] && dpkg -s "$p" >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$p" >/dev/null
    fi
  done
  for p in $auto_installed; do
    apt-mark auto "$p" >/dev/null
  done
  rm -rf "$work"
  if [ "$rc" != 0 ]; then
    echo "test-package.sh: FAILED (exit $rc); the machine was cleaned up" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT

# --- 1. build twice, compare ------------------------------------------------
# The man page generator exists only with -tags gendocs, which go vet and
# go test ./... do not set: its checks run here.
say "the manual page generator (go vet and go test -tags gendocs ./internal/clidoc)"
go vet -tags gendocs ./internal/clidoc ./cmd/audit-sealer ./cmd/audit-verify
go test -count=1 -tags gendocs ./internal/clidoc
say "building the .deb (scripts/package-deb.sh)"
deb=$(scripts/package-deb.sh "$work/out1" 2>"$work/build1.log") || { cat "$work/build1.log" >&2; fail "package-deb.sh"; }
name=$(basename "$deb")
say "building it again from a copy of the tree at another path"
mkdir "$work/src2"
cp -a "$repo/." "$work/src2/"
rm -rf "$work/src2/dist"
(cd "$work/src2" && scripts/package-deb.sh "$work/out2" >/dev/null 2>"$work/build2.log") || { cat "$work/build2.log" >&2; fail "package-deb.sh (second build)"; }
rm -rf "$work/src2"
cmp "$work/out1/$name" "$work/out2/$name" || fail "two builds of the same tree gave different packages ($name): not reproducible"
cmp "$work/out1/SHA256SUMS" "$work/out2/SHA256SUMS" || fail "two builds gave different SHA256SUMS"
(cd "$work/out1" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match the files"
say "reproducible: $(cut -c1-16 <<<"$(sha256sum <"$deb")")… twice; SHA256SUMS checks"

info=$(dpkg-deb --info "$deb")
for field in 'Package: audit-sealer' 'Architecture: ' 'Depends: libc6 ' 'Maintainer: ' 'Installed-Size: '; do
  grep -q "^ $field" <<<"$info" || fail "dpkg-deb --info shows no '$field':"$'\n'"$info"
done
contents=$(dpkg-deb --contents "$deb")
for path in ./usr/bin/audit-sealer ./usr/bin/audit-verify ./usr/lib/systemd/system/audit-sealer.service \
  ./usr/lib/systemd/system/audit-sealer.socket ./usr/lib/sysusers.d/audit-sealer.conf ./usr/lib/tmpfiles.d/audit-sealer.conf \
  ./etc/audit-sealer/audit-sealer.toml ./usr/share/man/man1/audit-sealer-keys-generate.1.gz ./usr/share/man/man1/audit-verify.1.gz \
  ./usr/share/bash-completion/completions/audit-sealer ./usr/share/zsh/vendor-completions/_audit-verify \
  ./usr/share/fish/vendor_completions.d/audit-sealer.fish ./usr/share/doc/audit-sealer/copyright; do
  grep -q " $path\$" <<<"$contents" || fail "the package lacks $path"
done
if grep -v ' root/root ' <<<"$contents" | grep . >/dev/null; then
  fail "files not owned by root/root in the package:"$'\n'"$(grep -v ' root/root ' <<<"$contents")"
fi
[ "$(dpkg-deb -f "$deb" Version)" = "$(sed -n 's/^audit-sealer_\(.*\)_[^_]*\.deb$/\1/p' <<<"$name")" ] || fail "the file name and the Version field differ"
if command -v lintian >/dev/null; then
  rc=0
  lint=$(lintian --fail-on error "$deb" 2>&1) || rc=$?
  grep -v '^running with root' <<<"$lint" || true
  [ "$rc" = 0 ] || fail "lintian reports errors (above)"
  say "lintian: no errors"
else
  say "lintian is not installed: not run (CI installs it)"
fi

# --- 2. README "Installing", as written -------------------------------------
say "README \"Installing\" (a swtpm for the TPM; a direct start for systemctl)"
eval "$(scripts/swtpm/start.sh "$work/tpm" 2>"$work/swtpm.log")" || { cat "$work/swtpm.log" >&2; fail "swtpm"; }
# Only the transport: the auth file, the index and the rest come from the
# packaged configuration, as README says.
export AUDIT_SEALER_TPM
unset AUDIT_SEALER_TPM_INDEX AUDIT_SEALER_TPM_AUTH_FILE AUDIT_SEALER_TPM_EK_CA TPM2TOOLS_TCTI
for v in $(env | sed -n 's/^\(AUDIT_SEALER_[A-Z0-9_]*\)=.*/\1/p'); do
  [ "$v" = AUDIT_SEALER_TPM ] || unset "$v"
done
unset SOFTHSM2_CONF JOURNAL_STREAM NOTIFY_SOCKET LISTEN_FDS LISTEN_PID

block=$(awk '/^### Installing$/ { s = 1; next } s && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b { print }' README.md)
[ -n "$block" ] || fail "README.md has no sh block under \"### Installing\""
n=$(grep -c '^systemctl ' <<<"$block" || true)
[ "$n" = 1 ] || fail "README's Installing block has $n systemctl lines; this test replaces exactly one"
grep -q '^dpkg -i ' <<<"$block" || fail "README's Installing block does not install with dpkg -i"

# start_sealer: what the systemctl line does, without systemd: the unit's
# user, groups (tss, softhsm from README's usermod) and umask, plus
# audit-emitters (the socket unit's SocketGroup=, which the sealer needs
# when it creates the socket itself); no capabilities. It waits until the
# sealer answers status.
start_sealer() {
  local groups
  groups=$(id -G audit-sealer | tr ' ' ','),$(getent group audit-emitters | cut -d: -f3)
  (umask 0077 && exec setpriv --reuid=audit-sealer --regid=audit-sealer --groups="$groups" --inh-caps=-all \
    /usr/bin/audit-sealer serve --config /etc/audit-sealer/audit-sealer.toml) 2>"$work/sealer.log" &
  sealer_pid=$!
  for _ in $(seq 1 100); do
    kill -0 "$sealer_pid" 2>/dev/null || { cat "$work/sealer.log" >&2; fail "the sealer exited at start"; }
    if /usr/bin/audit-sealer status >/dev/null 2>&1; then
      echo "(direct start in place of systemctl: audit-sealer serve as audit-sealer, pid $sealer_pid)"
      return 0
    fi
    sleep 0.2
  done
  cat "$work/sealer.log" >&2
  fail "the sealer did not answer status within 20 s"
}
printf '%s\n' "$block" | sed 's/^systemctl .*/start_sealer/' >"$work/install.sh"
mkdir "$work/install"
cp "$deb" "$work/install/"
if [[ " ${preinstalled[*]} " != *" tpm-udev "* ]]; then
  apt-get update -qq # README's apt-get install needs the package lists
fi
# Sourced, so that the sealer it starts is this shell's child; set -e stops
# at the first command that fails, set -x shows which.
cd "$work/install"
set -x
# shellcheck source=/dev/null
source "$work/install.sh"
set +x
cd "$repo"
[ -n "$sealer_pid" ] || fail "README's Installing block did not start the sealer"

# --- 3. what it installed, emit, verify -------------------------------------
[ "$(ps -o user= -p "$sealer_pid")" = audit-sealer ] || fail "the sealer runs as $(ps -o user= -p "$sealer_pid"), not audit-sealer"
[ "$(stat -c '%U:%G %a' /var/lib/audit-sealer)" = "audit-sealer:audit-sealer 700" ] || fail "/var/lib/audit-sealer is $(stat -c '%U:%G %a' /var/lib/audit-sealer)"
[ "$(stat -c '%U:%G %a' /run/audit-sealer/audit.sock)" = "audit-sealer:audit-emitters 660" ] || fail "the socket is $(stat -c '%U:%G %a' /run/audit-sealer/audit.sock)"
[ "$(stat -c '%U' /etc/audit-sealer/pkcs11-pin)" = audit-sealer ] || fail "pkcs11-pin is not the sealer's"
token=$(find /var/lib/softhsm/tokens -mindepth 1 -maxdepth 1 -user audit-sealer)
[ -n "$token" ] || fail "no token directory owned by audit-sealer in /var/lib/softhsm/tokens"
# 0700 for the permission bits; a setgid bit inherited from SoftHSM's
# store (Debian makes /var/lib/softhsm/tokens 2770) grants nothing.
token_mode=$(stat -c '%a' "$token")
[ "$(stat -c '%U' "$token")" = audit-sealer ] && [ $((8#$token_mode & 8#777)) = $((8#700)) ] ||
  fail "the token directory is $(stat -c '%U %a' "$token"), not audit-sealer 700"
id -nG audit-sealer | grep -w tss >/dev/null || fail "audit-sealer is not in tss (sysusers.d)"
[ -s /usr/share/man/man1/audit-sealer-keys-generate.1.gz ] || fail "no manual page audit-sealer-keys-generate(1)"
if command -v systemd-analyze >/dev/null; then
  # The installed units, with README's SoftHSM drop-in, as systemd loads
  # them: valid, and the service still rated 2.0 or better.
  systemd-analyze verify /usr/lib/systemd/system/audit-sealer.socket /usr/lib/systemd/system/audit-sealer.service ||
    fail "systemd-analyze verify on the installed units"
  security=$(systemd-analyze security --offline=true --threshold=20 audit-sealer.service 2>&1) ||
    fail "the installed audit-sealer.service with the SoftHSM drop-in is exposed above 2.0:"$'\n'"$security"
  say "installed unit: $(grep 'Overall exposure' <<<"$security")"
elif [ "${CI:-}" = true ]; then
  fail "systemd-analyze is not installed"
fi

say "emitting as root (policy: root may emit as queen-rbee)"
events=20
for i in $(seq 1 "$events"); do
  printf '{"type":"auth.success","timestamp":"%s","actor":{"user_id":"customer-%d","ip":"10.1.0.%d","auth_method":"api_key"},"method":"api_key","path":"/v2/tasks","service_id":"queen-rbee"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$i" "$i"
done | /usr/bin/audit-sealer emit --durable --service queen-rbee >"$work/emit.out" || { cat "$work/emit.out" >&2; fail "emit"; }
[ "$(grep -c '"ok":true' "$work/emit.out")" = "$events" ] || fail "not every event was acknowledged as durable:"$'\n'"$(cat "$work/emit.out")"
status=$(/usr/bin/audit-sealer status)
echo "$status"
grep -q '^key: .*(pkcs11 ' <<<"$status" || fail "the sealer does not sign with the PKCS#11 key"

say "stopping the sealer (SIGTERM)"
kill -TERM "$sealer_pid"
rc=0
wait "$sealer_pid" || rc=$?
sealer_pid=
[ "$rc" = 0 ] || { cat "$work/sealer.log" >&2; fail "the sealer exited $rc at SIGTERM"; }
grep -q 'stopped cleanly' "$work/sealer.log" || { cat "$work/sealer.log" >&2; fail "the sealer's log does not say it stopped cleanly"; }

verify() { # verify LABEL AUDIT-VERIFY: the log is intact with the exported key history, every checkpoint signed by the PKCS#11 key outside dev mode
  local out
  out=$("$2" --require-hardware --key "$work/install/sealer-keys.json" --format json /var/lib/audit-sealer) || fail "$1: audit-verify exit $?: $out"
  grep -q '"verdict": *"intact"' <<<"$out" || fail "$1: not intact: $out"
  local records
  records=$(grep -o '"records": *[0-9]*' <<<"$out" | sed -n 1p | grep -o '[0-9]*$')
  [ "${records:-0}" -gt "$events" ] || fail "$1: the log holds ${records:-0} records, fewer than the $events events emitted plus the sealer's own"
  say "$1: intact, $records records"
}
verify "packaged audit-verify" /usr/bin/audit-verify

say "reinstalling over an edited configuration"
echo '# edited by the operator' >>/etc/audit-sealer/audit-sealer.toml
dpkg -i "$deb" >/dev/null
grep -qx '# edited by the operator' /etc/audit-sealer/audit-sealer.toml || fail "a reinstall replaced the edited conffile"
verify "after a reinstall" /usr/bin/audit-verify

# --- 4. purge ----------------------------------------------------------------
say "purging (dpkg --purge)"
dpkg --purge audit-sealer
if dpkg -s audit-sealer >/dev/null 2>&1; then fail "audit-sealer is still installed after purge"; fi
for path in /usr/bin/audit-sealer /usr/bin/audit-verify /usr/lib/systemd/system/audit-sealer.service \
  /usr/lib/systemd/system/audit-sealer.socket /usr/lib/sysusers.d/audit-sealer.conf /usr/lib/tmpfiles.d/audit-sealer.conf \
  /etc/audit-sealer/audit-sealer.toml /etc/systemd/system/audit-sealer.service.d /usr/share/man/man1/audit-sealer.1.gz \
  /usr/share/audit-sealer /usr/share/doc/audit-sealer; do
  [ ! -e "$path" ] || fail "$path is still there after purge"
done
[ -d /var/lib/audit-sealer ] || fail "purge removed the log's directory"
[ -e /etc/audit-sealer/pkcs11-pin ] && [ -e /etc/audit-sealer/tpm-auth ] || fail "purge removed the PIN or TPM auth file that continue the log"
getent passwd audit-sealer >/dev/null || fail "purge removed the user that owns the log"
verify "after purge, the log" "$work/out1/audit-verify"
say "package test passed"
