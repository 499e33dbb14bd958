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

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

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
			s, openKey, err := openSigners(cfg)
			if err != nil {
				return fail(2, err)
			}
			opts := []sealer.Option{sealer.WithKeyRotation(openKey), sealer.WithReportKeys(func() (signer.Verifiers, error) { return tokenPublicKeys(cfg) })}
			if label := cfg.Witnessing.KeyLabel; label != "" && !cfg.Dev {
				// The witnessing key, on the same token (FORMAT.md §5.6).
				wk, _, _, err := openKey(label)
				if err != nil {
					return fail(2, fmt.Errorf("witnessing key_label %q: %w", label, err))
				}
				opts = append(opts, sealer.WithWitnessKey(wk))
			}
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
			// SIGHUP (systemctl reload) reads the configuration again, as
			// at start (the file, AUDIT_SEALER_* and the flags, which still
			// win), and applies what can change live; it also asks a
			// PKCS#11 signer to reconnect to its token.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			go func() {
				for range hup {
					log.Info("SIGHUP: reloading the configuration and reconnecting the signer")
					sl.ReopenSigner()
					// Reload logs, counts and records its outcome itself.
					sl.Reload(f.source().Path, func() (config.Config, error) { return f.load(cmd.Flags()) })
				}
			}()
			if err := sl.Run(ctx); err != nil {
				return fail(1, err)
			}
			return nil
		},
	}
	f.register(cmd.Flags(), serveFlags...)
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
	label, serial := cfg.Signer.Token()
	hc := hsm.Config{Module: cfg.Signer.Module, TokenLabel: label, TokenSerial: serial,
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
