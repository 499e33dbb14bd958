package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/audit-sealer/audit-sealer/internal/config"
)

// configFlags are --config and the flags that override settings. Each
// command registers only the flags it uses (register), so that its --help
// lists nothing it would ignore; serve and config check take them all.
type configFlags struct {
	file        string
	dataDir     string
	socket      string
	dev         bool
	segmentSize int64
	sealEvery   time.Duration
	sealRecords int
	heartbeat   time.Duration
	logLevel    string
	logFormat   string
	metrics     string
	pprof       bool
	acceptKey   bool
	tpm         string
	acceptRoll  bool
	acceptReset bool
	acceptTail  bool
}

// settingFlag is a flag that overrides one setting.
type settingFlag struct {
	name   string
	define func(f *configFlags, fs *pflag.FlagSet)
	apply  func(f *configFlags, c *config.Config)
}

// settingFlags are every flag that overrides a setting, in --help order.
var settingFlags = []settingFlag{
	{"data-dir", func(f *configFlags, fs *pflag.FlagSet) {
		fs.StringVar(&f.dataDir, "data-dir", "", "data directory (default: the configuration's data_dir, /var/lib/audit-sealer)")
	}, func(f *configFlags, c *config.Config) { c.DataDir = f.dataDir }},
	{"socket", func(f *configFlags, fs *pflag.FlagSet) {
		fs.StringVar(&f.socket, "socket", "", "the sealer's Unix socket (default: the configuration's socket, /run/audit-sealer/audit.sock)")
	}, func(f *configFlags, c *config.Config) { c.Socket = f.socket }},
	{"dev", func(f *configFlags, fs *pflag.FlagSet) {
		fs.BoolVar(&f.dev, "dev", false, "development mode: software key in the data directory, no TPM (never for production)")
	}, func(f *configFlags, c *config.Config) { c.Dev = f.dev }},
	{"segment-size", func(f *configFlags, fs *pflag.FlagSet) {
		fs.Int64Var(&f.segmentSize, "segment-size", 0, "close segments at this many bytes (default 100000000)")
	}, func(f *configFlags, c *config.Config) { c.SegmentSize = f.segmentSize }},
	{"seal-interval", func(f *configFlags, fs *pflag.FlagSet) {
		fs.DurationVar(&f.sealEvery, "seal-interval", 0, "seal unsealed records at least this often (default 1s)")
	}, func(f *configFlags, c *config.Config) { c.Seal.Interval.Duration = f.sealEvery }},
	{"seal-records", func(f *configFlags, fs *pflag.FlagSet) {
		fs.IntVar(&f.sealRecords, "seal-records", 0, "seal once this many records are unsealed (default 100)")
	}, func(f *configFlags, c *config.Config) { c.Seal.Records = f.sealRecords }},
	{"heartbeat", func(f *configFlags, fs *pflag.FlagSet) {
		fs.DurationVar(&f.heartbeat, "heartbeat", 0, "checkpoint an idle log this often (default 1m)")
	}, func(f *configFlags, c *config.Config) { c.Seal.Heartbeat.Duration = f.heartbeat }},
	{"log-level", func(f *configFlags, fs *pflag.FlagSet) {
		fs.StringVar(&f.logLevel, "log-level", "", "trace, debug, info, warn or error (default info)")
	}, func(f *configFlags, c *config.Config) { c.Log.Level = f.logLevel }},
	{"log-format", func(f *configFlags, fs *pflag.FlagSet) {
		fs.StringVar(&f.logFormat, "log-format", "", "text or json (default text)")
	}, func(f *configFlags, c *config.Config) { c.Log.Format = f.logFormat }},
	{"metrics-listen", func(f *configFlags, fs *pflag.FlagSet) {
		fs.StringVar(&f.metrics, "metrics-listen", "", "address for Prometheus /metrics, /healthz and /readyz (default off)")
	}, func(f *configFlags, c *config.Config) { c.Metrics.Listen = f.metrics }},
	{"metrics-pprof", func(f *configFlags, fs *pflag.FlagSet) {
		fs.BoolVar(&f.pprof, "metrics-pprof", false, "also serve Go's /debug/pprof/ on the metrics listener (for profiling; keep the listener private)")
	}, func(f *configFlags, c *config.Config) { c.Metrics.Pprof = f.pprof }},
	{"tpm", func(f *configFlags, fs *pflag.FlagSet) {
		fs.StringVar(&f.tpm, "tpm", "", "TPM holding the anchor counter: device:/dev/tpmrm0, unix:PATH or tcp:HOST:PORT (default: the configuration's [tpm] transport)")
	}, func(f *configFlags, c *config.Config) { c.TPM.Transport = f.tpm }},
	{"accept-rollback", func(f *configFlags, fs *pflag.FlagSet) {
		fs.BoolVar(&f.acceptRoll, "accept-rollback", false, "start although the TPM counter is ahead of the log (an old copy); recorded in the chain")
	}, func(f *configFlags, c *config.Config) { c.TPM.AcceptRollback = f.acceptRoll }},
	{"accept-anchor-reset", func(f *configFlags, fs *pflag.FlagSet) {
		fs.BoolVar(&f.acceptReset, "accept-anchor-reset", false, "start although the TPM counter is behind the log or missing (TPM cleared); recorded in the chain")
	}, func(f *configFlags, c *config.Config) { c.TPM.AcceptAnchorReset = f.acceptReset }},
	{"accept-new-key", func(f *configFlags, fs *pflag.FlagSet) {
		fs.BoolVar(&f.acceptKey, "accept-new-key", false, "start with a signing key the log never introduced (recorded; auditors need the key out of band)")
	}, func(f *configFlags, c *config.Config) { c.Signer.AcceptNewKey = f.acceptKey }},
	{"accept-unauthenticated-tail", func(f *configFlags, fs *pflag.FlagSet) {
		fs.BoolVar(&f.acceptTail, "accept-unauthenticated-tail", false, "start although the end of the log holds records none of the sealer's keys authenticates and a crash cannot explain: keep them aside, cut them, never seal them; recorded in the chain")
	}, func(f *configFlags, c *config.Config) { c.AcceptUnauthenticatedTail = f.acceptTail }},
}

// serveFlags names every setting flag: serve and config check take them all.
var serveFlags = func() []string {
	names := make([]string, len(settingFlags))
	for i, sf := range settingFlags {
		names[i] = sf.name
	}
	return names
}()

// configHelp is the help of --config.
const configHelp = "configuration file (TOML); default " + config.DefaultFile + " when it exists; env " + config.EnvFile

// register defines --config and the setting flags named (settingFlags),
// and no other: a command takes only the flags it uses.
func (f *configFlags) register(fs *pflag.FlagSet, names ...string) {
	fs.StringVar(&f.file, "config", "", configHelp)
	for _, name := range names {
		found := false
		for _, sf := range settingFlags {
			if sf.name == name {
				sf.define(f, fs)
				found = true
			}
		}
		if !found {
			panic("audit-sealer: no setting flag " + name)
		}
	}
}

// source returns the configuration file the command reads.
func (f *configFlags) source() config.Source { return config.FindFile(f.file, os.Getenv) }

// load builds the configuration: defaults, then the file (source), then
// AUDIT_SEALER_* variables, then the flags that were set; validated once.
func (f *configFlags) load(fs *pflag.FlagSet) (config.Config, error) {
	cfg, err := f.loadUnchecked(fs)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// loadUnchecked is load without Validate, for the commands that use only
// a setting or two (the socket, the data directory).
func (f *configFlags) loadUnchecked(fs *pflag.FlagSet) (config.Config, error) {
	cfg, err := config.Load(f.source().Path)
	if err != nil {
		return cfg, err
	}
	if err := cfg.ApplyEnv(os.Getenv); err != nil {
		return cfg, err
	}
	for _, sf := range settingFlags {
		if fs.Lookup(sf.name) != nil && fs.Changed(sf.name) {
			sf.apply(f, &cfg)
		}
	}
	return cfg, nil
}

// setting returns one setting for a command that needs nothing else (the
// socket of status and emit, the data directory of index and prove): the
// flag when it was given, without reading any file, else what the
// configuration says. The installed file may be unreadable to the user
// (an emitter running emit): then the built-in default, AUDIT_SEALER_*
// and a note for the error message if that fails too.
func (f *configFlags) setting(flags *pflag.FlagSet, flag string, get func(*config.Config) string) (value, note string, err error) {
	if flags.Changed(flag) {
		cfg := config.Defaults()
		for _, sf := range settingFlags {
			if sf.name == flag {
				sf.apply(f, &cfg)
			}
		}
		return get(&cfg), "", nil
	}
	cfg, err := f.loadUnchecked(flags)
	if src := f.source(); err != nil && src.Default && errors.Is(err, fs.ErrPermission) {
		cfg = config.Defaults()
		if err := cfg.ApplyEnv(os.Getenv); err != nil {
			return "", "", err
		}
		note = fmt.Sprintf(" (%s is not readable by this user, so the built-in default is used; give --%s)", src.Path, flag)
		return get(&cfg), note, nil
	}
	if err != nil {
		return "", "", fmt.Errorf("%w (or give --%s)", err, flag)
	}
	return get(&cfg), "", nil
}

// dial connects to the sealer at the configured socket (--socket, or the
// configuration's); a failure exits 2.
func (f *configFlags) dial(cmd *cobra.Command) (*rawConn, error) {
	socket, note, err := f.setting(cmd.Flags(), "socket", func(c *config.Config) string { return c.Socket })
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	rc, err := dialSealer(socket)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("%w%s", err, note)}
	}
	return rc, nil
}

// dataDirOf returns the data directory to read (--data-dir, or the
// configuration's); a failure exits 2.
func (f *configFlags) dataDirOf(cmd *cobra.Command) (string, error) {
	dir, note, err := f.setting(cmd.Flags(), "data-dir", func(c *config.Config) string { return c.DataDir })
	if err == nil && note != "" {
		err = errors.New("the configuration" + note)
	}
	if err != nil {
		return "", &exitError{code: 2, err: err}
	}
	return dir, nil
}
