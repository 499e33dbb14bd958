package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// benchWitnesses are the witnesses of a --witnesses run: litewitness
// instances started by scripts/witness/start.sh, and the configuration file
// that lists them for the sealer.
type benchWitnesses struct {
	names  []string
	config string
}

// setupWitnesses prepares n witnesses for the log in dataDir: it runs the
// sealer once to create the log (the witnesses must know its origin and
// key before they cosign), starts n litewitness instances registered with
// them, and writes the sealer's [[witness]] configuration: submitting at
// least every second, at most 10 requests a second to each, as an operator
// who wants little lag would. The witnesses are stopped by ms.close.
func setupWitnesses(n int, root, dataDir string, sa sealerArgs, ms *modeSetup) (*benchWitnesses, error) {
	start, stop := repoScript("witness/start.sh"), repoScript("witness/stop.sh")
	if start == "" || stop == "" {
		return nil, errors.New("--witnesses needs scripts/witness (run from the source tree)")
	}
	sa.logPath = filepath.Join(root, "sealer-create.log")
	sp, err := startSealer(sa)
	if err != nil {
		return nil, err
	}
	if err := sp.stop(sealerStopLimit); err != nil {
		return nil, fmt.Errorf("the sealer run that creates the log: %w", err)
	}
	cp, err := os.ReadFile(filepath.Join(dataDir, "checkpoint"))
	if err != nil {
		return nil, err
	}
	origin, _, _ := strings.Cut(string(cp), "\n")
	args := []string{"keys", "export-public", "--current", "--format", "note", "--data-dir", dataDir}
	if ms.dev {
		args = append(args, "--dev")
	}
	cmd := exec.Command(sealerBinary, args...)
	cmd.Env = append(cleanEnv(), ms.env...)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("keys export-public --format note: %w", err)
	}
	vkey := strings.TrimSpace(string(out))
	w := &benchWitnesses{}
	var conf strings.Builder
	for i := range n {
		name := fmt.Sprintf("w%d", i+1)
		dir := filepath.Join(root, "witness-"+name)
		env, err := runExportScript(cleanEnv(), start, dir, "bench.test/"+name, "--log", origin, vkey)
		ms.cleanup = append(ms.cleanup, func() { exec.Command("bash", stop, dir).Run() })
		if err != nil {
			return nil, err
		}
		vars := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		fmt.Fprintf(&conf, "[[witness]]\nname = %q\nurl = %q\nvkey = %q\n\n", name, vars["WITNESS_URL"], vars["WITNESS_VKEY"])
		w.names = append(w.names, name)
	}
	conf.WriteString("[witnessing]\ninterval = \"1s\"\nmax_requests_per_second = 10\ntimeout = \"5s\"\n")
	w.config = filepath.Join(root, "witnesses.toml")
	if err := os.WriteFile(w.config, []byte(conf.String()), 0o600); err != nil {
		return nil, err
	}
	ms.notes = append(ms.notes, fmt.Sprintf("%d litewitness instances started by %s; the sealer submits at least every second", n, start))
	return w, nil
}
