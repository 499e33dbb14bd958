package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/spf13/cobra"

	"github.com/audit-sealer/audit-sealer/hsm"
	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/wire"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/storage"
)

// openSigners returns the checkpoint signer the configuration asks for
// (openSigner) and the opener of the key an online rotation hands over to
// (rotate_key): another key on the same token, with the same PIN (read
// once, here), or with --dev a new development key.
func openSigners(cfg config.Config) (signer.Signer, sealer.KeyOpener, error) {
	if cfg.Dev {
		s, err := devSigner(cfg, true)
		return s, devKeyOpener(cfg), err
	}
	hc, err := hsmConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	s, err := hsm.Open(hc)
	if err != nil {
		return nil, nil, err
	}
	open := func(label string) (signer.Signer, func() error, func(), error) {
		nc := hc
		nc.KeyLabel = label
		next, err := hsm.Open(nc)
		switch {
		case errors.Is(err, hsm.ErrKeyNotFound), errors.Is(err, hsm.ErrAmbiguousKey), errors.Is(err, hsm.ErrUnsupportedKey),
			errors.Is(err, hsm.ErrWeakKey), errors.Is(err, hsm.ErrConfig):
			return nil, nil, nil, fmt.Errorf("%w: %w", sealer.ErrBadKey, err)
		case err != nil:
			return nil, nil, nil, err
		}
		return next, nil, func() { next.Close() }, nil
	}
	return s, open, nil
}

// devKeyOpener generates the new development key of an online rotation:
// written beside the current one first (dev-signing.key.next), it
// replaces it (and the retired key is wiped) once the log introduced it,
// as keys rotate does offline.
func devKeyOpener(cfg config.Config) sealer.KeyOpener {
	return func(string) (signer.Signer, func() error, func(), error) {
		gen, err := signer.NewSoftwareSigner(signer.Ed25519, cfg.Signer.KeyName)
		if err != nil {
			return nil, nil, nil, err
		}
		path := filepath.Join(cfg.DataDir, storage.DevKeyFile)
		staged := path + ".next"
		if err := os.Remove(staged); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, err
		}
		if err := gen.WriteKeyFile(staged); err != nil {
			return nil, nil, nil, err
		}
		return gen, func() error { return replaceDevKey(path, staged) }, func() { os.Remove(staged) }, nil
	}
}

// rotateOnline asks the running sealer at socket to rotate its key
// (rotate_key) and prints what it did.
func rotateOnline(cmd *cobra.Command, socket, label, reason string) error {
	rc, err := dialSealer(socket)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("the data directory is in use by a running sealer, and it cannot be asked: %w", err)}
	}
	defer rc.Close()
	id := "rotate"
	rc.send(&wire.Request{Op: wire.OpRotateKey, ID: &id, KeyLabel: label, Reason: reason})
	if err := rc.flush(); err != nil {
		return err
	}
	var rep wire.Reply
	line, err := rc.recv(&rep)
	if err != nil {
		return err
	}
	if !rep.OK || rep.Key == nil {
		if rep.Error != nil && rep.Error.Code == wire.CodeNotAuthorized {
			return fmt.Errorf("the running sealer refused the rotation: %s (run as root or as a member of an [admin] group)", rep.Error.Message)
		}
		if rep.Error != nil {
			return fmt.Errorf("the running sealer could not rotate its key: %s: %s", rep.Error.Code, rep.Error.Message)
		}
		return fmt.Errorf("bad reply from the sealer: %s", line)
	}
	k := rep.Key
	fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: the sealer at %s is running: it rotated its key without a restart\n", socket)
	fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: introduced key %s (record %d), endorsed by key %s; the new key signs from the checkpoint of size %d\n",
		k.KeyID, k.IntroducedSeq, k.PreviousKeyID, k.CheckpointSize)
	if k.Warning != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "audit-sealer: note: %s\n", k.Warning)
	}
	return nil
}

// sealerRunning reports whether a sealer holds the lock of the data
// directory dir (storage.LockFile, an exclusive flock(2)): a shared lock
// on it cannot be had. It reads the file only, so root finds out even on
// a directory another user owns (which keys rotate would refuse to open).
func sealerRunning(dir string) bool {
	f, err := os.OpenFile(filepath.Join(dir, storage.LockFile), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return false
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}
