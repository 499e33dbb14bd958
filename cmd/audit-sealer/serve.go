package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

// configFlags are the flags that override configuration settings.
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

func (f *configFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.file, "config", "", "configuration file (TOML); env AUDIT_SEALER_CONFIG")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (default /var/lib/audit-sealer)")
	fs.StringVar(&f.socket, "socket", "", "Unix socket path (default /run/audit-sealer/audit.sock)")
	fs.BoolVar(&f.dev, "dev", false, "development mode: software key in the data directory, no TPM (never for production)")
	fs.Int64Var(&f.segmentSize, "segment-size", 0, "close segments at this many bytes (default 100000000)")
	fs.DurationVar(&f.sealEvery, "seal-interval", 0, "seal unsealed records at least this often (default 1s)")
	fs.IntVar(&f.sealRecords, "seal-records", 0, "seal once this many records are unsealed (default 100)")
	fs.DurationVar(&f.heartbeat, "heartbeat", 0, "checkpoint an idle log this often (default 1m)")
	fs.StringVar(&f.logLevel, "log-level", "", "trace, debug, info, warn or error (default info)")
	fs.StringVar(&f.logFormat, "log-format", "", "text or json (default text)")
	fs.StringVar(&f.metrics, "metrics-listen", "", "address for Prometheus /metrics (default off)")
	fs.BoolVar(&f.pprof, "metrics-pprof", false, "also serve Go's /debug/pprof/ on the metrics listener (for profiling; keep the listener private)")
	fs.StringVar(&f.tpm, "tpm", "", "TPM holding the anchor counter: device:/dev/tpmrm0, unix:PATH or tcp:HOST:PORT (default: none)")
	fs.BoolVar(&f.acceptRoll, "accept-rollback", false, "start although the TPM counter is ahead of the log (an old copy); recorded in the chain")
	fs.BoolVar(&f.acceptReset, "accept-anchor-reset", false, "start although the TPM counter is behind the log or missing (TPM cleared); recorded in the chain")
	fs.BoolVar(&f.acceptKey, "accept-new-key", false, "start with a signing key the log never introduced (recorded; auditors need the key out of band)")
	fs.BoolVar(&f.acceptTail, "accept-unauthenticated-tail", false, "start although the end of the log holds records none of the sealer's keys authenticates and a crash cannot explain: keep them aside, cut them, never seal them; recorded in the chain")
}

// load builds the configuration: defaults, then the file, then AUDIT_SEALER_*
// variables, then the flags that were set; validated once.
func (f *configFlags) load(fs *pflag.FlagSet) (config.Config, error) {
	file := f.file
	if file == "" {
		file = os.Getenv("AUDIT_SEALER_CONFIG")
	}
	cfg, err := config.Load(file)
	if err != nil {
		return cfg, err
	}
	if err := cfg.ApplyEnv(os.Getenv); err != nil {
		return cfg, err
	}
	set := func(name string, apply func()) {
		if fs.Changed(name) {
			apply()
		}
	}
	set("data-dir", func() { cfg.DataDir = f.dataDir })
	set("socket", func() { cfg.Socket = f.socket })
	set("dev", func() { cfg.Dev = f.dev })
	set("segment-size", func() { cfg.SegmentSize = f.segmentSize })
	set("seal-interval", func() { cfg.Seal.Interval.Duration = f.sealEvery })
	set("seal-records", func() { cfg.Seal.Records = f.sealRecords })
	set("heartbeat", func() { cfg.Seal.Heartbeat.Duration = f.heartbeat })
	set("log-level", func() { cfg.Log.Level = f.logLevel })
	set("log-format", func() { cfg.Log.Format = f.logFormat })
	set("metrics-listen", func() { cfg.Metrics.Listen = f.metrics })
	set("metrics-pprof", func() { cfg.Metrics.Pprof = f.pprof })
	set("accept-new-key", func() { cfg.Signer.AcceptNewKey = f.acceptKey })
	set("tpm", func() { cfg.TPM.Transport = f.tpm })
	set("accept-rollback", func() { cfg.TPM.AcceptRollback = f.acceptRoll })
	set("accept-anchor-reset", func() { cfg.TPM.AcceptAnchorReset = f.acceptReset })
	set("accept-unauthenticated-tail", func() { cfg.AcceptUnauthenticatedTail = f.acceptTail })
	return cfg, cfg.Validate()
}

// newLogger returns the daemon's logger, writing to stderr (os.Stderr).
// Under journald (JOURNAL_STREAM names stderr) each line carries its
// syslog priority and no timestamp: the journal has its own.
func newLogger(cfg config.Config, stderr *os.File) hclog.Logger {
	opts := &hclog.LoggerOptions{Name: "audit-sealer", Level: hclog.LevelFromString(cfg.Log.Level),
		JSONFormat: cfg.Log.Format == "json", Output: stderr, TimeFormat: time.RFC3339Nano}
	if journalStream(stderr) {
		opts.Output, opts.DisableTime = journalWriter{w: stderr}, true
	}
	return hclog.New(opts)
}

func serveCommand() *cobra.Command {
	var f configFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the sealer: accept events on the socket, seal them into the log",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd.Flags())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			log := newLogger(cfg, os.Stderr)
			// From here every error goes through the logger (a journald
			// priority, one JSON stream), not a bare line from main.
			fail := func(code int, err error) error {
				log.Error("sealer failed", "error", err)
				return &exitError{code: code}
			}
			applyMemoryLimit(cfg, log)
			s, err := openSigner(cfg)
			if err != nil {
				return fail(2, err)
			}
			var opts []sealer.Option
			counter, err := openCounter(cfg)
			if err != nil {
				return fail(2, err)
			}
			if counter != nil {
				defer counter.Close()
				id, err := tpmIdentity(counter, log)
				if err != nil {
					return fail(2, err)
				}
				opts = append(opts, sealer.WithCounter(counter), sealer.WithTPMIdentity(id))
			}
			if hs, ok := s.(*hsm.Signer); ok {
				f := hs.FIPS()
				opts = append(opts, sealer.WithHSMFIPS(sealer.HSMFIPS{State: event.HSMFIPS(f.State), Validation: f.Validation, Detail: f.Detail}))
			}
			sl, err := sealer.New(cfg, s, log, opts...)
			if err != nil {
				return fail(1, err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			// SIGHUP asks a PKCS#11 signer to reconnect to its token.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			go func() {
				for range hup {
					sl.ReopenSigner()
				}
			}()
			if err := sl.Run(ctx); err != nil {
				return fail(1, err)
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// applyMemoryLimit sets the Go runtime's soft memory limit from the
// configuration (memory_limit), unless the operator set GOMEMLIMIT, which
// the runtime has already applied and which then wins. The limit is a
// backstop: the queue's byte bound keeps the live data well below it, and
// near it the garbage collector runs more often rather than let the heap
// grow to twice the live data.
//
// It also keeps a heap floor of a third of the limit (keepHeapFloor), so
// that at light traffic the collector does not run every few megabytes,
// unless the operator set GOGC.
func applyMemoryLimit(cfg config.Config, log hclog.Logger) {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		log.Info("memory limit from GOMEMLIMIT; memory_limit is ignored", "GOMEMLIMIT", env)
	} else if cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	if env := os.Getenv("GOGC"); env != "" {
		log.Info("garbage collector paced by GOGC; no heap floor", "GOGC", env)
	} else if cfg.MemoryLimit > 0 {
		keepHeapFloor(uint64(cfg.MemoryLimit / 3))
	}
}

// openSigner returns the checkpoint signer the configuration asks for: the
// PKCS#11 key outside --dev, the development key in --dev.
func openSigner(cfg config.Config) (signer.Signer, error) {
	if cfg.Dev {
		return devSigner(cfg, true)
	}
	hc, err := hsmConfig(cfg)
	if err != nil {
		return nil, err
	}
	return hsm.Open(hc)
}

// hsmConfig turns the configuration into an hsm.Config; the PIN comes from
// pin_file or AUDIT_SEALER_PKCS11_PIN (never from a flag), and the variable
// is removed from the environment once read.
func hsmConfig(cfg config.Config) (hsm.Config, error) {
	hc := hsm.Config{Module: cfg.Signer.Module, TokenLabel: cfg.Signer.TokenLabel, TokenSerial: cfg.Signer.TokenSerial,
		KeyLabel: cfg.Signer.KeyLabel, KeyName: cfg.Signer.KeyName, RequireFIPS: cfg.RequireFIPSInForce()}
	var err error
	hc.PIN, err = secretFrom(pinEnv, cfg.Signer.PINFile, hsm.PINFromEnv, hsm.PINFromFile,
		"no PKCS#11 PIN: set pin_file (AUDIT_SEALER_PKCS11_PIN_FILE) or "+pinEnv)
	return hc, err
}

// secretFrom reads a secret (the PKCS#11 PIN, the TPM index auth) from the
// environment variable env, which it then unsets so that child processes
// and later reads of the environment do not see it, or else from file.
// Neither set is an error saying missing. Secrets never come from argv.
func secretFrom[T any](env, file string, fromEnv, fromFile func(string) (T, error), missing string) (T, error) {
	switch {
	case os.Getenv(env) != "":
		v, err := fromEnv(env)
		os.Unsetenv(env)
		return v, err
	case file != "":
		return fromFile(file)
	default:
		var zero T
		return zero, errors.New(missing)
	}
}

// pinEnv holds the PKCS#11 user PIN when no PIN file is configured.
const pinEnv = "AUDIT_SEALER_PKCS11_PIN"

// devSigner loads the software key of --dev mode from the data directory,
// creating it (0600) on first use when create is set.
func devSigner(cfg config.Config, create bool) (signer.Signer, error) {
	path := filepath.Join(cfg.DataDir, storage.DevKeyFile)
	s, err := signer.LoadSoftwareSigner(path, cfg.Signer.KeyName)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !create {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no development key at %s: start `audit-sealer serve --dev --data-dir %s` once first", path, cfg.DataDir)
		}
		return s, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	gen, err := signer.NewSoftwareSigner(signer.Ed25519, cfg.Signer.KeyName)
	if err != nil {
		return nil, err
	}
	if err := gen.WriteKeyFile(path); err != nil {
		return nil, err
	}
	return gen, nil
}
