#!/usr/bin/env bash
# Starts a throwaway rsyslog in the background that receives RFC 5424
# syslog over TLS (RFC 5425, octet-counted framing) with mutual TLS on
# 127.0.0.1, for tests, development and demos of `audit-sealer export
# --sink syslog`, and prints the environment to use it:
#
#   eval "$(scripts/syslog/start.sh DIR)"
#   audit-sealer export --sink syslog --sink-address "$AUDIT_SEALER_SYSLOG_ADDR" \
#     --sink-ca "$AUDIT_SEALER_SYSLOG_CA" --sink-cert "$AUDIT_SEALER_SYSLOG_CERT" --sink-key "$AUDIT_SEALER_SYSLOG_KEY" ...
#   ...
#   scripts/syslog/stop.sh DIR
#
# DIR gets tls/ (made once with openssl and kept: a throwaway CA, the
# receiver's certificate for localhost and 127.0.0.1, and a client
# certificate named audit-sealer-export for the exporter; keys mode 0600),
# rsyslog.conf, work/ (rsyslog's state), rsyslog.pid, rsyslogd.log (its own
# messages), port, and what it receives: messages.log (each message as
# received, one per line: %rawmsg%) and messages.json (each message as
# rsyslog parsed it, one JSON object per line: pri, version, timestamp,
# hostname, app, procid, msgid, sd, msg). The receiver refuses clients
# without a certificate from the CA naming audit-sealer-export
# (gtls x509/name). It listens on 127.0.0.1 only, on a free port chosen at
# random and retried if taken. Only `export` lines go to standard output;
# progress goes to standard error. The printed variables:
#
#   AUDIT_SEALER_SYSLOG_ADDR=127.0.0.1:PORT
#   AUDIT_SEALER_SYSLOG_CA=DIR/tls/ca.pem          the CA of both certificates
#   AUDIT_SEALER_SYSLOG_CERT=DIR/tls/client.pem    the exporter's certificate
#   AUDIT_SEALER_SYSLOG_KEY=DIR/tls/client.key
#   AUDIT_SEALER_SYSLOG_LOG=DIR/messages.log
#   AUDIT_SEALER_SYSLOG_JSON=DIR/messages.json
#
# Needs: rsyslog and rsyslog-gnutls (apt-get install rsyslog
# rsyslog-gnutls), openssl.
set -euo pipefail

usage() {
  echo "usage: $0 DIR" >&2
  exit 2
}
[ $# -eq 1 ] || usage
dir=$1

for tool in rsyslogd openssl; do
  if ! command -v "$tool" >/dev/null; then
    echo "start.sh: $tool is not installed (apt-get install rsyslog rsyslog-gnutls openssl)" >&2
    exit 1
  fi
done
if ! compgen -G '/usr/lib/*/rsyslog/lmnsd_gtls.so' >/dev/null && ! compgen -G '/usr/lib*/rsyslog/lmnsd_gtls.so' >/dev/null; then
  echo "start.sh: rsyslog's TLS driver (lmnsd_gtls) is not installed (apt-get install rsyslog-gnutls)" >&2
  exit 1
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -s "$dir/rsyslog.pid" ] && kill -0 "$(cat "$dir/rsyslog.pid")" 2>/dev/null; then
  echo "start.sh: rsyslog is already running for $dir (pid $(cat "$dir/rsyslog.pid")); run scripts/syslog/stop.sh $dir first" >&2
  exit 1
fi
umask 077
mkdir -p "$dir/tls" "$dir/work"

# certificate NAME CN EXT: a P-256 key and a certificate signed by the CA.
certificate() {
  local name=$1 cn=$2 ext=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
    -keyout "$dir/tls/$name.key" -out "$dir/tls/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$dir/tls/$name.ext"
  openssl x509 -req -in "$dir/tls/$name.csr" -CA "$dir/tls/ca.pem" -CAkey "$dir/tls/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$dir/tls/$name.ext" -out "$dir/tls/$name.pem" 2>/dev/null
  rm -f "$dir/tls/$name.csr" "$dir/tls/$name.ext"
}
if [ ! -s "$dir/tls/client.pem" ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -sha256 \
    -subj "/CN=audit-sealer throwaway syslog CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/tls/ca.key" -out "$dir/tls/ca.pem" 2>/dev/null
  certificate server localhost "$(printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' 'subjectAltName=DNS:localhost,IP:127.0.0.1')"
  certificate client audit-sealer-export "$(printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=clientAuth' 'subjectAltName=DNS:audit-sealer-export')"
  chmod 644 "$dir/tls/ca.pem" "$dir/tls/server.pem" "$dir/tls/client.pem"
  echo "start.sh: made a throwaway CA and certificates in $dir/tls" >&2
fi

# write_conf PORT: rsyslog's configuration, listening on PORT. Messages
# from the TLS input go to messages.log and messages.json only; rsyslog's
# own messages to rsyslogd.log.
write_conf() {
  cat >"$dir/rsyslog.conf" <<CONF
global(
  workDirectory="$dir/work"
  maxMessageSize="256k"
  parser.escapeControlCharactersOnReceive="off"
  defaultNetstreamDriver="gtls"
  defaultNetstreamDriverCAFile="$dir/tls/ca.pem"
  defaultNetstreamDriverCertFile="$dir/tls/server.pem"
  defaultNetstreamDriverKeyFile="$dir/tls/server.key"
)
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1"
       streamDriver.authMode="x509/name" permittedPeer=["audit-sealer-export"])
input(type="imtcp" name="tls" address="127.0.0.1" port="$1")
template(name="raw" type="string" string="%rawmsg%\n")
template(name="parsed" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
if \$inputname == "tls" then {
  action(type="omfile" file="$dir/messages.log" template="raw")
  action(type="omfile" file="$dir/messages.json" template="parsed")
  stop
}
action(type="omfile" file="$dir/rsyslogd.log")
CONF
}

# listening PORT: true if something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

rm -f "$dir/rsyslog.pid" "$dir/port"
port=
for attempt in $(seq 1 20); do
  candidate=$((20000 + RANDOM % 40000))
  if listening "$candidate"; then
    continue
  fi
  write_conf "$candidate"
  if ! rsyslogd -N1 -f "$dir/rsyslog.conf" >"$dir/rsyslogd.check" 2>&1; then
    echo "start.sh: rsyslog refuses the configuration:" >&2
    cat "$dir/rsyslogd.check" >&2
    exit 1
  fi
  # rsyslogd forks into the background once it is set up and writes its
  # pid file; its standard streams go to the log, or a caller reading our
  # output would wait for the daemon to close them.
  rsyslogd -f "$dir/rsyslog.conf" -i "$dir/rsyslog.pid" </dev/null >>"$dir/rsyslogd.log" 2>&1 || true
  for _ in $(seq 1 100); do
    listening "$candidate" && [ -s "$dir/rsyslog.pid" ] && break
    [ -s "$dir/rsyslog.pid" ] && ! kill -0 "$(cat "$dir/rsyslog.pid")" 2>/dev/null && break
    sleep 0.05
  done
  if listening "$candidate" && [ -s "$dir/rsyslog.pid" ] && kill -0 "$(cat "$dir/rsyslog.pid")" 2>/dev/null; then
    port=$candidate
    break
  fi
  if [ -s "$dir/rsyslog.pid" ]; then
    kill "$(cat "$dir/rsyslog.pid")" 2>/dev/null || true
    rm -f "$dir/rsyslog.pid"
  fi
  echo "start.sh: rsyslog could not listen on port $candidate (attempt $attempt; see $dir/rsyslogd.log)" >&2
done
if [ -z "$port" ]; then
  echo "start.sh: could not start rsyslog; last lines of $dir/rsyslogd.log:" >&2
  tail -n 5 "$dir/rsyslogd.log" >&2 || true
  exit 1
fi
printf '%s\n' "$port" >"$dir/port"
echo "start.sh: rsyslog (pid $(cat "$dir/rsyslog.pid")) takes syslog over mutual TLS on 127.0.0.1:$port; messages in $dir/messages.log" >&2

AUDIT_SEALER_SYSLOG_ADDR=127.0.0.1:$port
AUDIT_SEALER_SYSLOG_CA=$dir/tls/ca.pem
AUDIT_SEALER_SYSLOG_CERT=$dir/tls/client.pem
AUDIT_SEALER_SYSLOG_KEY=$dir/tls/client.key
AUDIT_SEALER_SYSLOG_LOG=$dir/messages.log
AUDIT_SEALER_SYSLOG_JSON=$dir/messages.json
# Single-quoted values (a ' inside becomes '\''), one export per line.
for v in AUDIT_SEALER_SYSLOG_ADDR AUDIT_SEALER_SYSLOG_CA AUDIT_SEALER_SYSLOG_CERT AUDIT_SEALER_SYSLOG_KEY AUDIT_SEALER_SYSLOG_LOG AUDIT_SEALER_SYSLOG_JSON; do
  value=${!v}
  printf "export %s='%s'\n" "$v" "${value//\'/\'\\\'\'}"
done
