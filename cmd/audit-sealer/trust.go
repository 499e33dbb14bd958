package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

// trustFlags say which key query, export and report trust: the --key
// files, or else the key of the configuration they run with (the PKCS#11
// key it names, or with --dev the development key of the data directory),
// so that an operator on the sealer's host need not pass anything.
type trustFlags struct {
	keyFiles []string
	config   string
	dev      bool
}

func (t *trustFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&t.keyFiles, "key", nil, "trusted public key (PEM or note verifier key; repeatable): give the log's current key (default: the key of the configuration)")
	fs.StringVar(&t.config, "config", "", "configuration file whose signing key and data directory to use when --key or --data-dir is not given (default "+config.DefaultFile+" when it exists; env "+config.EnvFile+")")
	fs.BoolVar(&t.dev, "dev", false, "without --key: trust the development key of the data directory (as serve --dev)")
}

// resolve returns the trusted keys and the data directory: dataDir when
// --data-dir was given, else the configuration's. Keys come from --key,
// else from the configuration; when there are none the error exits 2 (the
// log cannot be checked). With --key and --data-dir no configuration is
// read.
func (t *trustFlags) resolve(fs *pflag.FlagSet, dataDir string) (signer.Verifiers, string, error) {
	cannot := func(err error) error {
		return &exitError{code: 2, err: fmt.Errorf("%w: %w", verify.ErrCannotCheck, err)}
	}
	if len(t.keyFiles) > 0 {
		keys, err := signer.LoadPublicKeys(t.keyFiles)
		if err != nil {
			return nil, "", cannot(err)
		}
		if fs.Changed("data-dir") {
			return keys, dataDir, nil
		}
		cfg, err := t.load(fs, dataDir, false)
		if err != nil {
			return nil, "", cannot(fmt.Errorf("no --data-dir, and the configuration: %w", err))
		}
		return keys, cfg.DataDir, nil
	}
	cfg, err := t.load(fs, dataDir, true)
	if err != nil {
		return nil, "", cannot(fmt.Errorf("no --key, and no usable configuration to take the signing key from: %w", err))
	}
	pub, err := configuredKey(cfg)
	if err != nil {
		return nil, "", cannot(fmt.Errorf("no --key, and the configuration's key: %w", err))
	}
	// Trusted by the key itself, whatever name a signature line gives it,
	// as a PEM key is.
	pub.Name = ""
	return signer.Verifiers{pub}, cfg.DataDir, nil
}

// load reads the configuration as serve does (defaults, the file,
// AUDIT_SEALER_* variables), with --data-dir and --dev applied, and
// validates it when validate is set.
func (t *trustFlags) load(fs *pflag.FlagSet, dataDir string, validate bool) (config.Config, error) {
	cfg, err := config.Load(config.FindFile(t.config, os.Getenv).Path)
	if err == nil {
		err = cfg.ApplyEnv(os.Getenv)
	}
	if fs.Changed("data-dir") {
		cfg.DataDir = dataDir
	}
	if fs.Changed("dev") {
		cfg.Dev = t.dev
	}
	if err != nil || !validate {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// configuredKey returns the public key of the signing key the
// configuration names: the --dev key file of the data directory, or the
// PKCS#11 key labelled key_label on the token.
func configuredKey(cfg config.Config) (signer.PublicKey, error) {
	if cfg.Dev {
		s, err := devSigner(cfg, false)
		if err != nil {
			return signer.PublicKey{}, err
		}
		return s.Public(), nil
	}
	keys, err := tokenKeys(cfg)
	if err != nil {
		return signer.PublicKey{}, err
	}
	for _, k := range keys {
		if k.Label == cfg.Signer.KeyLabel && k.KeyID != "" {
			pub := k.Public
			pub.Name = cfg.Signer.KeyName
			return pub, nil
		}
	}
	return signer.PublicKey{}, fmt.Errorf("no key labelled %q with a public half on the token", cfg.Signer.KeyLabel)
}

// tokenKeys lists the keys on the configured PKCS#11 token.
func tokenKeys(cfg config.Config) ([]hsm.KeyInfo, error) {
	hc, err := hsmConfig(cfg)
	if err != nil {
		return nil, err
	}
	return hsm.ListKeys(hc)
}

// readError gives a failed read of the log its exit status: 1 when the
// log does not check (it was tampered with: the verifier's reason code is
// in the message), 2 when it could not be checked.
func readError(err error) error {
	var ee *exitError
	switch {
	case err == nil || errors.As(err, &ee):
		return err
	case errors.Is(err, verify.ErrTampered):
		return &exitError{code: 1, err: err}
	case errors.Is(err, verify.ErrCannotCheck):
		return &exitError{code: 2, err: err}
	}
	return err
}
