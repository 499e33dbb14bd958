#!/usr/bin/env bash
# Builds the audit-sealer Debian package, reproducibly:
#
#   scripts/package-deb.sh [OUTDIR]          (default: dist)
#
# OUTDIR gets audit-sealer_DEBVERSION_ARCH.deb, the two binaries it holds
# (audit-sealer and audit-verify, for auditors who want the verifier alone)
# and SHA256SUMS, their SHA-256 manifest (sha256sum -c SHA256SUMS).
#
# The package holds /usr/bin/audit-sealer (cgo: PKCS#11) and
# /usr/bin/audit-verify (CGO_ENABLED=0), the systemd units, the sysusers.d
# and tmpfiles.d entries, /etc/audit-sealer/audit-sealer.toml (a
# conffile), the SoftHSM drop-in (/usr/share/audit-sealer/softhsm.conf),
# manual pages generated from the commands (a build with -tags gendocs,
# internal/clidoc), bash, zsh and fish completions (cobra's, from the
# shipped binaries), the documentation, and in
# /usr/share/doc/audit-sealer/copyright the licences and notices of Go and
# of every module the binaries link. Maintainer scripts: deploy/deb.
#
# Version: VERSION if set (v1.2.0), else what the go command derives from
# git for a module: the tag at HEAD (v1.2.0), else a pseudo-version after
# the last tag (v1.2.1-0.20261207211823-abcdef123456) or, with no tag,
# v0.0.0-20261207211823-abcdef123456; "+dirty" when the work tree has
# uncommitted changes. The binaries carry it (--version, -ldflags -X
# internal/buildinfo.version); the package version is the same without
# the "v", its first "-" made "~" (a pre-release sorts before its
# release) and later ones ".": 0.0.0~20261207211823.abcdef123456.
#
# Reproducible: the same commit, Go toolchain, C compiler and dpkg give a
# byte-identical .deb. SOURCE_DATE_EPOCH (if unset: the commit time of
# HEAD) dates every file, the man pages and the changelog; the binaries are
# built with -trimpath and an empty build id; dpkg-deb writes root-owned,
# name-sorted archives (--root-owner-group). scripts/test-package.sh builds
# twice, from two paths, and compares.
#
# Needs: go, a C compiler, git (or VERSION and SOURCE_DATE_EPOCH), dpkg-deb
# and dpkg-shlibdeps (dpkg-dev).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
outdir=${1:-$repo/dist}
[ $# -le 1 ] || { echo "usage: $0 [OUTDIR]" >&2; exit 2; }
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
cd "$repo"

die() { echo "package-deb.sh: $*" >&2; exit 1; }
for tool in go git dpkg-deb dpkg-shlibdeps dpkg-buildflags gzip sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is not installed (dpkg-shlibdeps: apt-get install dpkg-dev)"
done

export LC_ALL=C TZ=UTC
umask 022

# --- version and date -------------------------------------------------------
in_git=false
git rev-parse --git-dir >/dev/null 2>&1 && in_git=true
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  $in_git || die "not a git checkout: set SOURCE_DATE_EPOCH (and VERSION)"
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH: want seconds since 1970"
export SOURCE_DATE_EPOCH

revision=unknown
if $in_git; then
  revision=$(git rev-parse HEAD)
fi
version=${VERSION:-}
if [ -z "$version" ]; then
  $in_git || die "not a git checkout: set VERSION (v1.2.0)"
  dirty=
  [ -z "$(git status --porcelain)" ] || dirty=+dirty
  if tag=$(git describe --tags --exact-match --match 'v[0-9]*' HEAD 2>/dev/null); then
    version=$tag$dirty
  else
    stamp=$(git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd HEAD)
    rev12=${revision:0:12}
    if base=$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD 2>/dev/null); then
      if [[ $base == *-* ]]; then
        version=$base.0.$stamp-$rev12$dirty                     # after v1.3.0-rc.1
      elif [[ $base =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
        version=v${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.$((BASH_REMATCH[3] + 1))-0.$stamp-$rev12$dirty
      else
        die "tag $base is not a semantic version (vMAJOR.MINOR.PATCH)"
      fi
    else
      version=v0.0.0-$stamp-$rev12$dirty
    fi
  fi
fi
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]] ||
  die "version $version: want a semantic version, v1.2.0"
debversion=${version#v}
if [[ $debversion == *-* ]]; then
  debversion=${debversion/-/\~}
  debversion=${debversion//-/.}
fi
dpkg --validate-version "$debversion" || die "package version $debversion (from $version) is not valid"

case $(go env GOARCH) in
  amd64) arch=amd64 ;;
  arm64) arch=arm64 ;;
  386) arch=i386 ;;
  riscv64) arch=riscv64 ;;
  ppc64le) arch=ppc64el ;;
  s390x) arch=s390x ;;
  *) die "GOARCH $(go env GOARCH): no Debian architecture known here" ;;
esac
maintainer=${DEB_MAINTAINER:-audit-sealer maintainers <maintainers@audit-sealer.invalid>}
deb=audit-sealer_${debversion}_$arch.deb
echo "== audit-sealer $version (package $debversion, $arch), revision $revision, SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/stage

# --- binaries --------------------------------------------------------------
# -trimpath: no file system paths; -buildid=: no build id (it hashes the
# inputs' paths); -s -w: stripped (Go's tracebacks and profiles use the
# pclntab, which stays); -buildvcs=true: the VCS stamp where git allows it
# (go version -m; a clone, not a worktree). The version is stamped with -X.
# audit-sealer links C (cgo, the PKCS#11 module it loads): it is built as
# a position-independent executable with Debian's hardening flags for C
# (dpkg-buildflags: fortify, stack protector, relro, bindnow).
# audit-verify is pure Go and static (CGO_ENABLED=0), on purpose: an
# auditor copies it anywhere and trusts it alone.
ldflags="-s -w -buildid= -X github.com/audit-sealer/audit-sealer/internal/buildinfo.version=$version"
hardening() { DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"; }
build() { # build CGO OUT PKG [TAGS]
  if [ "$1" = 1 ]; then
    CGO_ENABLED=1 CGO_CFLAGS="$(hardening CFLAGS)" CGO_CPPFLAGS="$(hardening CPPFLAGS)" CGO_LDFLAGS="$(hardening LDFLAGS)" \
      go build -buildmode=pie -trimpath -buildvcs=true -tags "${4:-}" -ldflags "$ldflags" -o "$2" "$3"
  else
    CGO_ENABLED=0 go build -trimpath -buildvcs=true -tags "${4:-}" -ldflags "$ldflags" -o "$2" "$3"
  fi
}
mkdir -p "$stage/usr/bin" "$work/gen"
build 1 "$stage/usr/bin/audit-sealer" ./cmd/audit-sealer
build 0 "$stage/usr/bin/audit-verify" ./cmd/audit-verify
sealer_version=$("$stage/usr/bin/audit-sealer" --version)
verify_version=$("$stage/usr/bin/audit-verify" --version)
echo "$sealer_version" >&2
grep -qxF "audit-sealer $version" <<<"$sealer_version" || die "audit-sealer --version does not say $version"
grep -qxF "audit-verify $version" <<<"$verify_version" || die "audit-verify --version does not say $version"
grep -qx '  pkcs11:      built in' <<<"$sealer_version" || die "audit-sealer was built without PKCS#11 (cgo)"
grep -qx '  cgo:         off' <<<"$verify_version" || die "audit-verify was built with cgo"

# --- manual pages and completions ------------------------------------------
# The pages come from a build with -tags gendocs (the same commands plus a
# hidden generator); the completions from the shipped binaries themselves.
build 1 "$work/gen/audit-sealer" ./cmd/audit-sealer gendocs
build 0 "$work/gen/audit-verify" ./cmd/audit-verify gendocs
man=$stage/usr/share/man/man1
"$work/gen/audit-sealer" gendocs --man "$man"
"$work/gen/audit-verify" gendocs --man "$man"
gzip -9n "$man"/*.1
for bin in audit-sealer audit-verify; do
  install -d "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" "$stage/usr/share/fish/vendor_completions.d"
  "$stage/usr/bin/$bin" completion bash >"$stage/usr/share/bash-completion/completions/$bin"
  "$stage/usr/bin/$bin" completion zsh >"$stage/usr/share/zsh/vendor-completions/_$bin"
  "$stage/usr/bin/$bin" completion fish >"$stage/usr/share/fish/vendor_completions.d/$bin.fish"
done

# --- units, users, directories, configuration ------------------------------
install -D -m 0644 deploy/audit-sealer.service "$stage/usr/lib/systemd/system/audit-sealer.service"
install -D -m 0644 deploy/audit-sealer.socket "$stage/usr/lib/systemd/system/audit-sealer.socket"
install -D -m 0644 deploy/audit-sealer.sysusers.conf "$stage/usr/lib/sysusers.d/audit-sealer.conf"
install -D -m 0644 deploy/audit-sealer.tmpfiles.conf "$stage/usr/lib/tmpfiles.d/audit-sealer.conf"
# The shipped configuration is deploy/audit-sealer.toml (every setting at
# its default, kept so by a test) with the one setting the package's layout
# fixes: the socket's group is the audit-emitters group sysusers.d creates,
# as audit-sealer.socket's SocketGroup= is (used when the sealer creates
# the socket itself, without systemd).
install -d -m 0755 "$stage/etc/audit-sealer"
sed 's/^#socket_group = ""$/socket_group = "audit-emitters"/' deploy/audit-sealer.toml >"$stage/etc/audit-sealer/audit-sealer.toml"
chmod 0644 "$stage/etc/audit-sealer/audit-sealer.toml"
grep -q '^socket_group = "audit-emitters"$' "$stage/etc/audit-sealer/audit-sealer.toml" ||
  { echo "package-deb.sh: deploy/audit-sealer.toml has no '#socket_group = \"\"' line to set" >&2; exit 1; }
install -D -m 0644 deploy/audit-sealer-softhsm.conf "$stage/usr/share/audit-sealer/softhsm.conf"
install -D -m 0644 deploy/deb/lintian-overrides "$stage/usr/share/lintian/overrides/audit-sealer"
grep -q '^ExecStart=/usr/bin/audit-sealer ' "$stage/usr/lib/systemd/system/audit-sealer.service" ||
  die "deploy/audit-sealer.service does not start /usr/bin/audit-sealer"

# --- documentation, changelog, copyright -----------------------------------
doc=$stage/usr/share/doc/audit-sealer
install -d "$doc"
for f in README.md FORMAT.md PROTOCOL.md EVENTS.md; do
  gzip -9n <"$f" >"$doc/$f.gz"
done
{
  echo "audit-sealer ($debversion) unstable; urgency=medium"
  echo
  echo "  * audit-sealer $version,"
  echo "    built by scripts/package-deb.sh from VCS revision"
  echo "    $revision."
  echo
  echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.gz"

# copyright: the project's licence, then Go's and every linked module's
# licence texts and notices (BSD and MIT ask for them in a binary
# distribution; Apache-2.0 for NOTICE files; MPL-2.0 that recipients learn
# where the source is). Whole Apache-2.0 and MPL-2.0 texts are referred to
# in /usr/share/common-licenses rather than repeated; anything else in a
# licence file is copied.
modcache=$(go env GOMODCACHE)
licence_text() { # FILE: the text, or a reference for a whole Apache-2.0 or MPL-2.0 text
  local last
  last=$(grep -v '^[[:space:]]*$' "$1" | tail -n 1 | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
  if grep -q 'Version 2.0, January 2004' "$1" && grep -q 'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION' "$1" &&
    { [ "$last" = "limitations under the License." ] || [ "$last" = "of your accepting any such warranty or additional liability." ]; }; then
    sed -n '/Apache License/q;p' "$1" | sed '/^[[:space:]]*$/d'
    echo "Apache License 2.0: /usr/share/common-licenses/Apache-2.0"
  elif grep -qi 'Mozilla Public License,\{0,1\} version 2.0' "$1" && [[ $last == *"Mozilla Public License, v. 2.0." ]]; then
    sed -n '/Mozilla Public License/Iq;p' "$1" | sed '/^[[:space:]]*$/d'
    echo "Mozilla Public License 2.0: /usr/share/common-licenses/MPL-2.0"
  else
    cat "$1"
  fi
}
{
  cat <<EOF
audit-sealer $version

Copyright: the audit-sealer authors
Source: https://github.com/audit-sealer/audit-sealer (revision $revision)
License: Apache-2.0

 Licensed under the Apache License, Version 2.0 (the "License"); you may
 not use this file except in compliance with the License. Unless required
 by applicable law or agreed to in writing, software distributed under the
 License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR
 CONDITIONS OF ANY KIND, either express or implied.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 can be found in "/usr/share/common-licenses/Apache-2.0".

/usr/bin/audit-sealer and /usr/bin/audit-verify are Go programs: they
contain Go's runtime and standard library and the Go modules below (go
version -m lists them), each under its own licence. The source of each
module is at https://proxy.golang.org/MODULE/@v/VERSION.zip.
EOF
  goroot=$(go env GOROOT)
  printf '\n======================================================================\nGo %s (runtime and standard library)\n\n' "$(go env GOVERSION)"
  licence_text "$goroot/LICENSE"
  for b in audit-sealer audit-verify; do
    go version -m "$stage/usr/bin/$b" | awk '$1 == "dep" { print $2 "@" $3 }' >"$work/deps-$b"
  done
  for m in $(sort -u "$work"/deps-*); do
    # The module cache escapes upper case letters as !lower.
    dir=$modcache/$(printf '%s' "$m" | sed 's/[A-Z]/!\L&/g')
    [ -d "$dir" ] || die "module $m is not in the module cache ($dir)"
    users=$(grep -lxF "$m" "$work"/deps-* | sed 's|.*/deps-||' | paste -sd ' ')
    printf '\n======================================================================\n%s %s (in: %s)\n' "${m%@*}" "${m#*@}" "$users"
    found=false
    for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE*; do
      [ -f "$f" ] || continue
      found=true
      printf '\n--- %s\n\n' "$(basename "$f")"
      licence_text "$f"
    done
    $found || die "module $m has no LICENSE, COPYING or NOTICE file: check its licence by hand"
  done
} >"$doc/copyright"

# --- control ---------------------------------------------------------------
install -d "$stage/DEBIAN"
install -m 0755 deploy/deb/postinst deploy/deb/prerm deploy/deb/postrm "$stage/DEBIAN/"
echo /etc/audit-sealer/audit-sealer.toml >"$stage/DEBIAN/conffiles"
# The shared libraries audit-sealer links (libc, for cgo), as dpkg-shlibdeps
# computes them from the ELF file; audit-verify is static.
mkdir -p "$work/shlibs/debian"
printf 'Source: audit-sealer\n\nPackage: audit-sealer\nArchitecture: any\n' >"$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$stage/usr/bin/audit-sealer" |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no shared library dependency for audit-sealer (built without cgo?)"
# Installed-Size: KiB, each file rounded up, each directory 1 (as dpkg-gencontrol).
size=$(cd "$stage" && find . -path ./DEBIAN -prune -o \( -type f -printf '%s\n' \) -o \( -type d -printf '1024\n' \) |
  awk '{ s += int(($1 + 1023) / 1024) } END { print s }')
cat >"$stage/DEBIAN/control" <<EOF
Package: audit-sealer
Version: $debversion
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $shlibs, systemd | systemd-sysusers, systemd | systemd-tmpfiles
Recommends: tpm-udev
Suggests: softhsm2
Section: admin
Priority: optional
Homepage: https://github.com/audit-sealer/audit-sealer
Description: tamper-evident, hardware-sealed security audit log
 audit-sealer gives a machine a tamper-evident security audit trail.
 Services send audit events over a Unix socket; the sealer validates them,
 appends them to an append-only, hash-chained log, and signs the log's head
 through PKCS#11 (an HSM) as C2SP checkpoints over an RFC 6962 Merkle tree,
 anchored in a TPM 2.0 counter against rollback.
 .
 audit-verify checks a log offline with nothing but the public key.
 .
 The package creates the system user audit-sealer and the group
 audit-emitters (whose members may emit) and installs the systemd socket
 and service units; it starts nothing until the token, key and TPM counter
 are set up. Purging it never removes the log in /var/lib/audit-sealer.
EOF
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

# --- the archive -----------------------------------------------------------
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
dpkg-deb --root-owner-group --threads-max=1 -Zxz --build "$stage" "$outdir/$deb" >&2
install -m 0755 "$stage/usr/bin/audit-sealer" "$stage/usr/bin/audit-verify" "$outdir/"
(cd "$outdir" && sha256sum audit-sealer audit-verify "$deb" >SHA256SUMS)
echo "== $outdir/$deb" >&2
cat "$outdir/SHA256SUMS" >&2
echo "$outdir/$deb"
