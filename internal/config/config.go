// Package config holds audit-sealer's configuration: one TOML file whose
// every setting has a default that works, overridden by AUDIT_SEALER_*
// environment variables and then by command-line flags. The file is
// DefaultFile when it exists (as sshd reads /etc/ssh/sshd_config), or the
// one --config or AUDIT_SEALER_CONFIG names. deploy/audit-sealer.toml
// lists every setting with its default, and a test keeps the two equal.
package config

import (
	"crypto/fips140"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/user"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/audit-sealer/audit-sealer/witness"
)

// Duration is a time.Duration written as a Go duration string ("1s", "5m").
type Duration struct{ time.Duration }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Config is the whole configuration. Zero values mean "the default"; call
// Defaults first and Validate last.
type Config struct {
	// DataDir holds the log (mode 0700).
	DataDir string `toml:"data_dir"`
	// Socket is the Unix socket services connect to.
	Socket string `toml:"socket"`
	// SocketMode is the socket's permission bits, octal ("0660").
	SocketMode string `toml:"socket_mode"`
	// SocketGroup owns the socket; "" keeps the sealer's own group.
	SocketGroup string `toml:"socket_group"`
	// Dev runs with a software key in the data directory and no TPM; every
	// checkpoint says so. Never for production.
	Dev bool `toml:"dev"`
	// SegmentSize closes a segment at this many bytes (default 100 MB).
	SegmentSize int64 `toml:"segment_size"`
	// MemoryLimit is a soft limit on the memory of the sealer's Go runtime
	// (runtime/debug.SetMemoryLimit), in bytes (default 96 MiB; 0 = none).
	// It is a backstop under the queue's byte bound: near the limit the
	// garbage collector runs more often instead of letting the heap double,
	// so that the process stays under its memory budget (product.md: under
	// 128 MiB resident). A GOMEMLIMIT environment variable takes precedence.
	// A third of it is also a heap floor: the collector does not run before
	// the heap reaches it (unless GOGC is set), so that at light traffic
	// it does not run every few megabytes.
	MemoryLimit int64 `toml:"memory_limit"`
	// AcceptUnauthenticatedTail starts the sealer once although records at
	// the end of the log are authenticated by none of its keys and are not
	// what a crash leaves (someone else wrote them): they are kept aside,
	// cut, never sealed, and the decision is recorded in the chain.
	AcceptUnauthenticatedTail bool `toml:"accept_unauthenticated_tail"`

	Seal      Seal      `toml:"seal"`
	Queue     Queue     `toml:"queue"`
	Limits    Limits    `toml:"limits"`
	Log       Log       `toml:"log"`
	Metrics   Metrics   `toml:"metrics"`
	Signer    Signer    `toml:"signer"`
	TPM       TPM       `toml:"tpm"`
	Retention Retention `toml:"retention"`
	Query     Query     `toml:"query"`
	Admin     Admin     `toml:"admin"`
	Policy    []Policy  `toml:"policy"`
	// Witnesses are the witnesses the sealer submits its checkpoints to
	// (FORMAT.md §5.6); none by default.
	Witnesses  []Witness  `toml:"witness"`
	Witnessing Witnessing `toml:"witnessing"`
}

// Witness is one witness (c2sp.org/tlog-witness) that the sealer asks to
// cosign its checkpoints. The witness must know the log's origin and its
// log key (witnessctl add-log, add-key) before it cosigns.
type Witness struct {
	// Name identifies the witness in logs, metrics, status and the
	// audit.checkpoint_witnessed records; unique, without spaces.
	Name string `toml:"name"`
	// URL is the witness's submission prefix: the sealer posts to
	// URL + "/add-checkpoint". http or https.
	URL string `toml:"url"`
	// VKey is the witness's cosignature/v1 note verifier key
	// ("<name>+<key ID>+<base64>", type 0x04, as litewitness prints it):
	// only cosignatures that verify with it are recorded.
	VKey string `toml:"vkey"`
}

// Witnessing says how often and how hard the sealer asks its witnesses.
// Witnessing runs off the acknowledgement path: a witness outage never
// delays or drops an event.
type Witnessing struct {
	// Quorum is how many of the listed witnesses must cosign for a
	// checkpoint to count as witnessed (status and metrics say whether
	// it is). Default: all of them.
	Quorum int `toml:"quorum"`
	// Interval: the latest durable checkpoint is submitted at least this
	// often, and at each segment rotation (default 1m; at most the anchor
	// interval).
	Interval Duration `toml:"interval"`
	// MaxRequestsPerSecond bounds the add-checkpoint requests to each
	// witness (default 1).
	MaxRequestsPerSecond float64 `toml:"max_requests_per_second"`
	// Timeout bounds one request, answer included (default 10s).
	Timeout Duration `toml:"timeout"`
	// KeyLabel names an Ed25519 key on the signer's PKCS#11 token that
	// signs what the sealer sends to witnesses, under the log's origin as
	// key name, instead of the log key (FORMAT.md §5.6). Witnesses verify
	// Ed25519 log signatures only, so a log whose key is ECDSA P-256 needs
	// one; an Ed25519 log may use one too. Empty (the default): the log
	// key's own checkpoint signature is sent.
	KeyLabel string `toml:"key_label"`
}

// Seal sets the sealing cadence.
type Seal struct {
	// Interval: under traffic, a record waits at most this long for a checkpoint (default 1s).
	Interval Duration `toml:"interval"`
	// Records: a checkpoint is written once this many records are unsealed (default 100).
	Records int `toml:"records"`
	// Heartbeat: an idle sealer writes a checkpoint this often (default 60s).
	Heartbeat Duration `toml:"heartbeat"`
	// AnchorInterval: under traffic, a checkpoint is anchored in the TPM
	// counter at most this often (default 1m); rotation and shutdown anchor
	// too. Each anchor is one NV write: TPMs wear out and rate-limit them.
	AnchorInterval Duration `toml:"anchor_interval"`
}

// Query says which peers may read the log through the sealer's socket (the
// query, export and report ops); every such read is recorded in the chain.
// A peer qualifies by its uid, or by a group it is in, primary or
// supplementary, as the kernel reports them for the connection: a gid of
// GIDs or a group named in Groups (the reader group of a compliance
// team, who need no access to the data directory). Default: root only.
type Query struct {
	UIDs []uint32 `toml:"uids"`
	GIDs []uint32 `toml:"gids"`
	// Groups are group names; each must exist.
	Groups []string `toml:"groups"`
	// Index: write an index file beside each closed segment, in the
	// background, so that filtered queries read only the records it lists
	// (default true). Indexing costs CPU beside ingest; a host that never
	// queries locally (it ships segments elsewhere) may turn it off.
	Index bool `toml:"index"`
}

// Admin says which peers may ask the running sealer for administrative
// operations over its socket (the rotate_key op, which `audit-sealer keys
// rotate` sends while the sealer runs). A peer qualifies by its uid, or by
// a group it is in, primary or supplementary, as the kernel reports them
// for the connection (SO_PEERCRED, SO_PEERGROUPS). Default: root only.
// Every operation is recorded in the chain; any other peer gets
// not_authorized.
type Admin struct {
	UIDs []uint32 `toml:"uids"`
	// Groups are group names; each must exist.
	Groups []string `toml:"groups"`
}

// Retention says how long records are kept. Only whole, sealed segments
// older than Days are deleted, and each deletion is recorded in the chain
// first (audit.retention_pruned).
type Retention struct {
	// Days to keep (default 2555, seven years: SOC 2; see EVENTS.md).
	// 0 keeps everything.
	Days uint32 `toml:"days"`
	// ArchiveDir, if set, receives a gzip copy of each segment before it is
	// deleted.
	ArchiveDir string `toml:"archive_dir"`
	// CheckInterval: how often the sealer looks for expired segments
	// (default 1h).
	CheckInterval Duration `toml:"check_interval"`
}

// TPM says where the anchor counter lives.
type TPM struct {
	// Transport: "device:/dev/tpmrm0", "unix:PATH" or "tcp:HOST:PORT" (swtpm);
	// "" = no anchoring (only acceptable with --dev; logged loudly).
	Transport string `toml:"transport"`
	// Index is the NV index of the counter (default 0x01500100).
	Index uint32 `toml:"index"`
	// AuthFile holds the index auth value (or AUDIT_SEALER_TPM_AUTH;
	// default /etc/audit-sealer/tpm-auth).
	AuthFile string `toml:"auth_file"`
	// AcceptRollback / AcceptAnchorReset start the sealer once despite a
	// failed startup check; the decision is recorded in the chain.
	AcceptRollback    bool `toml:"accept_rollback"`
	AcceptAnchorReset bool `toml:"accept_anchor_reset"`
}

// Queue bounds what the sealer holds in memory between acceptance and disk.
type Queue struct {
	// Events bounds the number of queued events (default 65536).
	Events int `toml:"events"`
	// Bytes bounds what the queued events cost in memory: each counts its
	// bytes plus a fixed overhead for the request that carries it and the
	// reply owed for it (default 24 MiB). An event larger than the bound
	// is accepted only into an empty queue. Peers (uids) share both
	// bounds: those with events queued may each hold 7/8 of a bound
	// divided by their number, and the last eighth stays free for uids
	// with none queued.
	Bytes int64 `toml:"bytes"`
	// CriticalWait is how long a critical event waits for queue space
	// before it is refused with "timeout" (non-critical events are shed at once).
	CriticalWait Duration `toml:"critical_wait"` // default 5s
}

// Limits protect the sealer from misbehaving clients.
type Limits struct {
	MaxConnections int      `toml:"max_connections"` // default 1024
	LineTimeout    Duration `toml:"line_timeout"`    // a started line must end within this (default 10s)
	IdleTimeout    Duration `toml:"idle_timeout"`    // a silent connection is closed after this (default 10m)
	MaxBadLines    int      `toml:"max_bad_lines"`   // consecutive bad lines before the connection is cut (default 64)
	// BadLinesPerSecond bounds how fast the sealer handles the lines of
	// one peer uid that it refuses as the client's fault (bad JSON, bad
	// requests, invalid events, oversized lines, unauthorised services),
	// over all of the uid's connections, with a burst of one second's
	// worth (an oversized line counts once per 128 KiB read): past it, a connection that sent one waits before the sealer
	// reads on. A peer flooding garbage then costs the sealer little CPU
	// and no other peer's throughput. 0 removes the bound. Default 1000.
	BadLinesPerSecond int `toml:"bad_lines_per_second"`
}

// Log configures the sealer's own logs (go-hclog).
type Log struct {
	Level  string `toml:"level"`  // trace, debug, info, warn, error (default info)
	Format string `toml:"format"` // text or json (default text)
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is the address of the /metrics listener, e.g. "127.0.0.1:9477";
	// "" (the default) turns metrics off.
	Listen string `toml:"listen"`
	// Pprof also serves Go's /debug/pprof/ profiles on that listener
	// (off by default: a profile shows what the sealer is doing, so the
	// listener must then be reachable only by those allowed to see it).
	Pprof bool `toml:"pprof"`
}

// Signer says which key signs checkpoints. Outside --dev it is a key on a
// PKCS#11 token, chosen by token label (or serial) and key label; the PIN
// comes from a file (pin_file, mode 0600 or stricter) or from the
// AUDIT_SEALER_PKCS11_PIN environment variable, never from the command line.
type Signer struct {
	// KeyName is the signed-note key name (default "audit-sealer").
	KeyName string `toml:"key_name"`
	// Module is the PKCS#11 module (default /usr/lib/softhsm/libsofthsm2.so).
	Module string `toml:"pkcs11_module"`
	// TokenLabel selects the token (default "audit-sealer"), never a slot
	// number; TokenSerial, when set, selects it instead (Token).
	TokenLabel  string `toml:"token_label"`
	TokenSerial string `toml:"token_serial"`
	// KeyLabel selects the key pair on the token (default "checkpoint").
	KeyLabel string `toml:"key_label"`
	// PINFile holds the user PIN (default /etc/audit-sealer/pkcs11-pin).
	PINFile string `toml:"pin_file"`
	// AcceptNewKey starts with a key that the log never introduced (the
	// previous key is lost); the sealer records it, unendorsed, and auditors
	// must be given the new key out of band. Prefer `audit-sealer keys rotate`.
	AcceptNewKey bool `toml:"accept_new_key"`
	// RequireFIPS, when true, starts the sealer only in FIPS 140-3 mode:
	// the Go Cryptographic Module enabled (a build with GOFIPS140, or
	// GODEBUG=fips140=on or only), and, outside --dev, a PKCS#11 token that
	// reports a FIPS 140 validation its key meets (package hsm; SoftHSM2
	// never does). Unset, it follows the Go module: required when the
	// module runs in FIPS mode. false runs a FIPS-mode sealer on a token
	// that reports no validation (SoftHSM2 in tests), loudly logged and
	// recorded (hsm_fips in audit.sealer_started). See RequireFIPSInForce.
	RequireFIPS *bool `toml:"require_fips"`
}

// Policy maps a peer (by uid, user name, gid or group name, as read with
// SO_PEERCRED) to the service identities it may emit as. A peer matches an
// entry if any of the entry's uid/user/gid/group match.
type Policy struct {
	UID      *uint32  `toml:"uid"`
	User     string   `toml:"user"`
	GID      *uint32  `toml:"gid"`
	Group    string   `toml:"group"`
	Services []string `toml:"services"`
}

// Token returns how the signing key's token is chosen: by serial when
// token_serial is set, else by label.
func (s Signer) Token() (label, serial string) {
	if s.TokenSerial != "" {
		return "", s.TokenSerial
	}
	return s.TokenLabel, ""
}

// Defaults returns the configuration with every default filled in. The
// signer's and the TPM's defaults are the production layout that
// deploy/audit-sealer.toml documents (a token labelled audit-sealer, a key
// labelled checkpoint, secrets in /etc/audit-sealer); no TPM is used until
// [tpm] transport names one.

func Defaults() Config {
	return Config{
		DataDir:     "/var/lib/audit-sealer",
		Socket:      "/run/audit-sealer/audit.sock",
		SocketMode:  "0660",
		SegmentSize: 100 * 1000 * 1000,
		Seal:        Seal{Interval: Duration{time.Second}, Records: 100, Heartbeat: Duration{time.Minute}, AnchorInterval: Duration{time.Minute}},
		TPM:         TPM{Index: 0x01500100, AuthFile: "/etc/audit-sealer/tpm-auth"},
		Retention:   Retention{Days: 2555, CheckInterval: Duration{time.Hour}},
		Query:       Query{UIDs: []uint32{0}, Index: true},
		Admin:       Admin{UIDs: []uint32{0}},
		MemoryLimit: 96 << 20,
		Queue:       Queue{Events: 65536, Bytes: 24 << 20, CriticalWait: Duration{5 * time.Second}},
		Limits:      Limits{MaxConnections: 1024, LineTimeout: Duration{10 * time.Second}, IdleTimeout: Duration{10 * time.Minute}, MaxBadLines: 64, BadLinesPerSecond: 1000},
		Log:         Log{Level: "info", Format: "text"},
		Signer: Signer{KeyName: "audit-sealer", Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "audit-sealer",
			KeyLabel: "checkpoint", PINFile: "/etc/audit-sealer/pkcs11-pin"},
		Witnessing: Witnessing{Interval: Duration{time.Minute}, MaxRequestsPerSecond: 1, Timeout: Duration{10 * time.Second}},
	}
}

// Load reads the TOML file at path over the defaults. Unknown keys are an
// error, so that a misspelt setting is not silently ignored.
func Load(path string) (Config, error) {
	c := Defaults()
	if path == "" {
		return c, nil
	}
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return c, fmt.Errorf("config: %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return c, fmt.Errorf("config: %s: unknown settings: %s", path, strings.Join(keys, ", "))
	}
	return c, nil
}

// ApplyEnv overrides settings from AUDIT_SEALER_* environment variables:
// DATA_DIR, SOCKET, SOCKET_MODE, SOCKET_GROUP, DEV, SEGMENT_SIZE,
// MEMORY_LIMIT, QUEUE_BYTES,
// SEAL_INTERVAL, SEAL_RECORDS, HEARTBEAT, LOG_LEVEL, LOG_FORMAT,
// METRICS_LISTEN, TPM, TPM_INDEX (0x… or decimal), TPM_AUTH_FILE, ANCHOR_INTERVAL, PKCS11_MODULE, PKCS11_TOKEN_LABEL, PKCS11_TOKEN_SERIAL,
// PKCS11_KEY_LABEL, PKCS11_PIN_FILE, KEY_NAME, REQUIRE_FIPS. (AUDIT_SEALER_PKCS11_PIN, the
// PIN itself, is read where the signer is opened and never stored here.)
func (c *Config) ApplyEnv(getenv func(string) string) error {
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv("AUDIT_SEALER_" + name); v != "" {
			*dst = v
		}
	}
	num := func(name string, set func(int64)) {
		if v := getenv("AUDIT_SEALER_" + name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("config: AUDIT_SEALER_%s: %w", name, err))
				return
			}
			set(n)
		}
	}
	dur := func(name string, dst *Duration) {
		if v := getenv("AUDIT_SEALER_" + name); v != "" {
			if err := dst.UnmarshalText([]byte(v)); err != nil {
				errs = append(errs, fmt.Errorf("config: AUDIT_SEALER_%s: %w", name, err))
			}
		}
	}
	str("DATA_DIR", &c.DataDir)
	str("SOCKET", &c.Socket)
	str("SOCKET_MODE", &c.SocketMode)
	str("SOCKET_GROUP", &c.SocketGroup)
	if v := getenv("AUDIT_SEALER_DEV"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: AUDIT_SEALER_DEV: %w", err))
		}
		c.Dev = b
	}
	num("SEGMENT_SIZE", func(n int64) { c.SegmentSize = n })
	num("MEMORY_LIMIT", func(n int64) { c.MemoryLimit = n })
	num("QUEUE_BYTES", func(n int64) { c.Queue.Bytes = n })
	num("SEAL_RECORDS", func(n int64) { c.Seal.Records = int(n) })
	dur("SEAL_INTERVAL", &c.Seal.Interval)
	dur("HEARTBEAT", &c.Seal.Heartbeat)
	str("LOG_LEVEL", &c.Log.Level)
	str("LOG_FORMAT", &c.Log.Format)
	str("METRICS_LISTEN", &c.Metrics.Listen)
	str("PKCS11_MODULE", &c.Signer.Module)
	str("PKCS11_TOKEN_LABEL", &c.Signer.TokenLabel)
	str("PKCS11_TOKEN_SERIAL", &c.Signer.TokenSerial)
	str("PKCS11_KEY_LABEL", &c.Signer.KeyLabel)
	str("PKCS11_PIN_FILE", &c.Signer.PINFile)
	str("KEY_NAME", &c.Signer.KeyName)
	if v := getenv("AUDIT_SEALER_REQUIRE_FIPS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: AUDIT_SEALER_REQUIRE_FIPS: %w", err))
		}
		c.Signer.RequireFIPS = &b
	}
	str("TPM", &c.TPM.Transport)
	str("TPM_AUTH_FILE", &c.TPM.AuthFile)
	num("RETENTION_DAYS", func(n int64) { c.Retention.Days = uint32(n) })
	str("RETENTION_ARCHIVE_DIR", &c.Retention.ArchiveDir)
	dur("ANCHOR_INTERVAL", &c.Seal.AnchorInterval)
	if v := getenv("AUDIT_SEALER_TPM_INDEX"); v != "" {
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: AUDIT_SEALER_TPM_INDEX: %w", err))
		}
		c.TPM.Index = uint32(n)
	}
	return errors.Join(errs...)
}

// Validate checks every setting once, after defaults, file, environment and
// flags are applied.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("config: "+format, args...)) }
	if c.DataDir == "" {
		bad("data_dir is empty")
	}
	if c.Socket == "" {
		bad("socket is empty")
	}
	if _, err := c.SocketPerm(); err != nil {
		bad("socket_mode %q: %v", c.SocketMode, err)
	}
	if c.SegmentSize < 4096 {
		bad("segment_size %d is below 4096 bytes", c.SegmentSize)
	}
	if c.Seal.Interval.Duration <= 0 || c.Seal.Records <= 0 || c.Seal.Heartbeat.Duration <= 0 || c.Seal.AnchorInterval.Duration <= 0 {
		bad("seal interval, records, heartbeat and anchor interval must be positive")
	}
	if c.Retention.CheckInterval.Duration <= 0 {
		bad("retention check_interval must be positive")
	}
	if c.Queue.Events <= 0 || c.Queue.Bytes <= 0 || c.Queue.CriticalWait.Duration < 0 {
		bad("queue events and bytes must be positive")
	}
	if c.MemoryLimit < 0 {
		bad("memory_limit must not be negative")
	}
	if c.Limits.MaxConnections <= 0 || c.Limits.LineTimeout.Duration <= 0 || c.Limits.IdleTimeout.Duration <= 0 || c.Limits.MaxBadLines <= 0 {
		bad("limits must be positive")
	}
	if c.Limits.BadLinesPerSecond < 0 {
		bad("bad_lines_per_second %d must not be negative (0 removes the bound)", c.Limits.BadLinesPerSecond)
	}
	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		bad("log level %q (want trace, debug, info, warn or error)", c.Log.Level)
	}
	if !c.Dev {
		if c.Signer.TokenLabel == "" && c.Signer.TokenSerial == "" {
			bad("signer: token_label or token_serial is required outside --dev (AUDIT_SEALER_PKCS11_TOKEN_LABEL)")
		}
		if c.Signer.KeyLabel == "" {
			bad("signer: key_label is required outside --dev (AUDIT_SEALER_PKCS11_KEY_LABEL)")
		}
	}
	if c.RequireFIPSInForce() && !fips140.Enabled() {
		bad("signer: require_fips is set, but the Go Cryptographic Module is not in FIPS 140-3 mode: build with GOFIPS140=v1.0.0 (README, FIPS 140-3) or run with GODEBUG=fips140=on (or only)")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log format %q (want text or json)", c.Log.Format)
	}
	for _, g := range c.Admin.Groups {
		if _, err := user.LookupGroup(g); err != nil {
			bad("admin: group %q: %v", g, err)
		}
	}
	for _, g := range c.Query.Groups {
		if _, err := user.LookupGroup(g); err != nil {
			bad("query: group %q: %v", g, err)
		}
	}
	for i, p := range c.Policy {
		if p.UID == nil && p.User == "" && p.GID == nil && p.Group == "" {
			bad("policy %d names no uid, user, gid or group", i+1)
		}
		if len(p.Services) == 0 {
			bad("policy %d allows no service", i+1)
		}
		for _, s := range p.Services {
			if s == "" || len(s) > 256 || s == "audit-sealer" || strings.ContainsAny(s, " /\\\n\t") {
				bad("policy %d: service identity %q is not allowed", i+1, s)
			}
		}
		if p.User != "" {
			if _, err := user.Lookup(p.User); err != nil {
				bad("policy %d: user %q: %v", i+1, p.User, err)
			}
		}
		if p.Group != "" {
			if _, err := user.LookupGroup(p.Group); err != nil {
				bad("policy %d: group %q: %v", i+1, p.Group, err)
			}
		}
	}
	errs = append(errs, c.validateWitnesses()...)
	return errors.Join(errs...)
}

// validateWitnesses checks the [[witness]] entries and [witnessing].
func (c *Config) validateWitnesses() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("config: "+format, args...)) }
	names := map[string]bool{}
	for i, w := range c.Witnesses {
		switch {
		case !validWitnessName(w.Name):
			bad("witness %d: name %q: want 1 to 64 letters, digits, '.', '_' or '-', without \"..\"", i+1, w.Name)
		case names[w.Name]:
			bad("witness %d: name %q is listed twice", i+1, w.Name)
		}
		names[w.Name] = true
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("witness %q: url %q is not an http or https URL", w.Name, w.URL)
		}
		if _, err := witness.ParseVerifierKey(w.VKey); err != nil {
			bad("witness %q: vkey: %v", w.Name, err)
		}
	}
	ws := c.Witnessing
	if ws.Quorum < 0 || ws.Quorum > len(c.Witnesses) {
		bad("witnessing quorum %d: want 0 (all) to %d, the witnesses listed", ws.Quorum, len(c.Witnesses))
	}
	if ws.Interval.Duration <= 0 || ws.Timeout.Duration <= 0 || ws.MaxRequestsPerSecond <= 0 {
		bad("witnessing interval, timeout and max_requests_per_second must be positive")
	}
	if ws.KeyLabel != "" && c.Dev {
		bad("witnessing key_label %q names a key on the PKCS#11 token, and --dev has none (the development key is Ed25519: witnesses take it)", ws.KeyLabel)
	}
	if len(c.Witnesses) > 0 && ws.Interval.Duration > c.Seal.AnchorInterval.Duration {
		bad("witnessing interval %v is above the anchor interval %v: witnesses must see a checkpoint at least every anchor interval", ws.Interval.Duration, c.Seal.AnchorInterval.Duration)
	}
	return errs
}

// validWitnessName reports whether name may name a witness: it appears in
// metrics labels and in audit.checkpoint_witnessed records (an identifier).
func validWitnessName(name string) bool {
	if name == "" || len(name) > 64 || strings.Contains(name, "..") {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// WitnessQuorum returns how many witnesses must cosign: Quorum, or all of
// them when it is 0.
func (c *Config) WitnessQuorum() int {
	if c.Witnessing.Quorum == 0 {
		return len(c.Witnesses)
	}
	return c.Witnessing.Quorum
}

// RequireFIPSInForce reports whether FIPS 140-3 mode is required
// (Signer.RequireFIPS): as configured, or, when unset, whenever the Go
// Cryptographic Module runs in FIPS mode (crypto/fips140.Enabled).
func (c *Config) RequireFIPSInForce() bool {
	if c.Signer.RequireFIPS != nil {
		return *c.Signer.RequireFIPS
	}
	return fips140.Enabled()
}

// SocketPerm returns SocketMode as permission bits.
func (c *Config) SocketPerm() (os.FileMode, error) {
	n, err := strconv.ParseUint(c.SocketMode, 8, 32)
	if err != nil || n > 0o777 {
		return 0, errors.New("not an octal permission such as 0660")
	}
	return os.FileMode(n), nil
}

// Settings returns the configuration in force as flat key=value strings,
// for the audit.sealer_started record and the logs. It holds no secret.
func (c *Config) Settings() map[string]string {
	tokenLabel, tokenSerial := c.Signer.Token()
	m := map[string]string{
		"data_dir":             c.DataDir,
		"socket":               c.Socket,
		"socket_mode":          c.SocketMode,
		"dev":                  strconv.FormatBool(c.Dev),
		"segment_size":         strconv.FormatInt(c.SegmentSize, 10),
		"seal_interval":        c.Seal.Interval.String(),
		"seal_records":         strconv.Itoa(c.Seal.Records),
		"heartbeat":            c.Seal.Heartbeat.String(),
		"queue_events":         strconv.Itoa(c.Queue.Events),
		"queue_bytes":          strconv.FormatInt(c.Queue.Bytes, 10),
		"critical_wait":        c.Queue.CriticalWait.String(),
		"memory_limit":         strconv.FormatInt(c.MemoryLimit, 10),
		"max_connections":      strconv.Itoa(c.Limits.MaxConnections),
		"bad_lines_per_second": strconv.Itoa(c.Limits.BadLinesPerSecond),
		"policy_entries":       strconv.Itoa(len(c.Policy)),
		"metrics":              strconv.FormatBool(c.Metrics.Listen != ""),
		"pkcs11_token":         tokenLabel + tokenSerial,
		"pkcs11_key":           c.Signer.KeyLabel,
		"anchor_interval":      c.Seal.AnchorInterval.String(),
		"tpm":                  c.TPM.Transport,
		"tpm_index":            fmt.Sprintf("0x%08x", c.TPM.Index),
		"retention_days":       strconv.FormatUint(uint64(c.Retention.Days), 10),
		"retention_archive":    strconv.FormatBool(c.Retention.ArchiveDir != ""),
		"log_level":            c.Log.Level,
		"query_uids":           fmt.Sprint(c.Query.UIDs),
		"query_gids":           fmt.Sprint(c.Query.GIDs),
		"query_groups":         strings.Join(c.Query.Groups, " "),
		"admin_uids":           fmt.Sprint(c.Admin.UIDs),
		"admin_groups":         strings.Join(c.Admin.Groups, " "),
		"line_timeout":         c.Limits.LineTimeout.String(),
		"idle_timeout":         c.Limits.IdleTimeout.String(),
		"max_bad_lines":        strconv.Itoa(c.Limits.MaxBadLines),
		"require_fips":         strconv.FormatBool(c.RequireFIPSInForce()),
	}
	if len(c.Witnesses) > 0 {
		m["witnesses"] = strconv.Itoa(len(c.Witnesses))
		m["witness_quorum"] = strconv.Itoa(c.WitnessQuorum())
	}
	return m
}

// DefaultFile is the installed configuration. Every command reads it when
// it exists and neither --config nor AUDIT_SEALER_CONFIG names another
// file, as sshd reads /etc/ssh/sshd_config.
const DefaultFile = "/etc/audit-sealer/audit-sealer.toml"

// EnvFile is the environment variable that names the configuration file
// when --config does not. Tests set it (to a file of their own, or to
// /dev/null for the built-in defaults) so that they never read the
// machine's DefaultFile.
const EnvFile = "AUDIT_SEALER_CONFIG"

// Source says which configuration file a command reads.
type Source struct {
	// Path is the file, or "" for none (the built-in defaults).
	Path string
	// Default: Path is DefaultFile, found by itself rather than named by
	// --config or AUDIT_SEALER_CONFIG.
	Default bool
}

// String names the source in messages.
func (s Source) String() string {
	switch {
	case s.Path == "":
		return "no configuration file (" + DefaultFile + " does not exist)"
	case s.Default:
		return s.Path + " (the default)"
	}
	return s.Path
}

// FindFile returns the configuration file to read: flag (--config) when
// it is set, else the file AUDIT_SEALER_CONFIG names (through getenv),
// else DefaultFile when it exists, else none. A DefaultFile that exists
// but cannot be read is returned all the same: Load then says why.
func FindFile(flag string, getenv func(string) string) Source {
	if flag != "" {
		return Source{Path: flag}
	}
	if env := getenv(EnvFile); env != "" {
		return Source{Path: env}
	}
	if _, err := os.Stat(DefaultFile); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return Source{Path: DefaultFile, Default: true}
	}
	return Source{}
}

// Flat returns every setting of c as its TOML key ("limits.max_connections")
// and its value as text: durations as Go durations, lists as [a b], and
// each array of tables ([[policy]], [[witness]]) as one entry holding
// its JSON. Two configurations differ in a setting exactly when their
// Flat values for its key differ; the sealer's reload compares them.
func (c *Config) Flat() map[string]string {
	out := map[string]string{}
	flatten(reflect.ValueOf(*c), "", out)
	return out
}

// durationType is Duration's type: a leaf, not a section.
var durationType = reflect.TypeOf(Duration{})

func flatten(v reflect.Value, prefix string, out map[string]string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		fv := v.Field(i)
		switch {
		case f.Type == durationType:
			out[key] = fv.Interface().(Duration).String()
		case f.Type.Kind() == reflect.Struct:
			flatten(fv, key+".", out)
		case f.Type.Kind() == reflect.Pointer:
			out[key] = "" // unset
			if !fv.IsNil() {
				out[key] = fmt.Sprint(fv.Elem().Interface())
			}
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			out[key] = "[]" // none, whether the slice is nil or empty
			if fv.Len() > 0 {
				b, _ := json.Marshal(fv.Interface())
				out[key] = string(b)
			}
		default:
			out[key] = fmt.Sprint(fv.Interface())
		}
	}
}

// Changed returns the keys of the settings whose values differ between a
// and b (Flat), sorted.
func Changed(a, b *Config) []string {
	fa, fb := a.Flat(), b.Flat()
	var keys []string
	for k, v := range fa {
		if fb[k] != v {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
