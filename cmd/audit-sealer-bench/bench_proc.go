package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sealerProc is the sealer under test: `audit-sealer serve` run as a child
// process of the benchmark, so that its memory and CPU are its own.
type sealerProc struct {
	cmd         *exec.Cmd
	pid         int
	logPath     string
	metricsAddr string

	done    chan struct{} // closed when the process has exited and been reaped
	waitErr error

	mu      sync.Mutex
	peakRSS int64 // bytes, the largest VmRSS sampled
	samples int
	// The largest values of some gauges, scraped every 250 ms.
	peakGauges map[string]float64
	stopSamp   chan struct{}
	stopOnce   sync.Once
	sampDone   chan struct{}
}

// sealerArgs are the serve settings the benchmark chooses.
type sealerArgs struct {
	dataDir, socket string
	dev             bool
	segmentSize     int64
	sealRecords     int
	sealInterval    time.Duration
	env             []string // AUDIT_SEALER_* and SOFTHSM2_CONF of the mode
	cpuProfile      string   // --sealer-cpuprofile
	logPath         string
	config          string // a configuration file (the witnesses of --witnesses), or ""
}

// sealerStopLimit bounds how long a stopping sealer may take.
const sealerStopLimit = 2 * time.Minute

// startSealer starts `audit-sealer serve` (--sealer) with a for-the-run metrics port
// and waits until its socket and metrics answer.
func startSealer(a sealerArgs) (*sealerProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"serve", "--data-dir", a.dataDir, "--socket", a.socket,
		"--segment-size", strconv.FormatInt(a.segmentSize, 10),
		"--seal-records", strconv.Itoa(a.sealRecords),
		"--seal-interval", a.sealInterval.String(),
		"--log-level", "warn", "--metrics-listen", addr}
	if a.dev {
		args = append(args, "--dev")
	}
	if a.cpuProfile != "" {
		args = append(args, "--metrics-pprof")
	}
	if a.config != "" {
		args = append(args, "--config", a.config)
	}
	logf, err := os.Create(a.logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(sealerBinary, args...)
	cmd.Env = append(cleanEnv(), a.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The sealer must not outlive the benchmark.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &sealerProc{cmd: cmd, pid: cmd.Process.Pid, logPath: a.logPath, metricsAddr: addr,
		done: make(chan struct{}), stopSamp: make(chan struct{}), sampDone: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	go p.sample(20 * time.Millisecond)
	go p.sampleMetrics(250 * time.Millisecond)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			p.stopSampling()
			return nil, fmt.Errorf("the sealer exited at start (%v):\n%s", p.waitErr, p.logTail())
		default:
		}
		if rc, err := dialSealer(a.socket); err == nil {
			rc.Close()
			if _, err := p.scrape(); err == nil {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("the sealer did not open %s and %s within 60 s:\n%s", a.socket, addr, p.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cleanEnv is the benchmark's environment without the settings that would
// change what the sealer under test does (a config file, another token).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AUDIT_SEALER_") || strings.HasPrefix(kv, "SOFTHSM2_CONF=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// sample records the peak VmRSS every interval until stopped.
func (p *sealerProc) sample(interval time.Duration) {
	defer close(p.sampDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if st, err := readProcStatus(p.pid); err == nil {
			p.mu.Lock()
			p.peakRSS = max(p.peakRSS, st["VmRSS"])
			p.samples++
			p.mu.Unlock()
		}
		select {
		case <-t.C:
		case <-p.stopSamp:
			return
		case <-p.done:
			return
		}
	}
}

// sampledGauges are the metrics whose peaks sampleMetrics keeps: what the
// sealer holds in memory.
var sampledGauges = []string{"audit_sealer_queue_depth", "audit_sealer_queue_bytes", "go_memstats_heap_inuse_bytes", "audit_sealer_connections"}

// sampleMetrics scrapes the metrics every interval until stopped and keeps
// the peaks of sampledGauges.
func (p *sealerProc) sampleMetrics(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-p.stopSamp:
			return
		case <-p.done:
			return
		}
		m, err := p.scrape()
		if err != nil {
			continue
		}
		p.mu.Lock()
		if p.peakGauges == nil {
			p.peakGauges = map[string]float64{}
		}
		for _, g := range sampledGauges {
			p.peakGauges[g] = max(p.peakGauges[g], m[g])
		}
		p.mu.Unlock()
	}
}

// gaugePeak returns the largest sampled value of the gauge name.
func (p *sealerProc) gaugePeak(name string) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peakGauges[name]
}

func (p *sealerProc) stopSampling() {
	p.stopOnce.Do(func() { close(p.stopSamp) })
	<-p.sampDone
}

// peak returns the largest VmRSS sampled, in bytes, and the sample count.
func (p *sealerProc) peak() (int64, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peakRSS, p.samples
}

// readProcStatus returns the kB fields of /proc/<pid>/status (VmRSS,
// VmHWM, ...) in bytes.
func readProcStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, " kB")), 10, 64)
		if err == nil {
			out[k] = n << 10
		}
	}
	return out, nil
}

// userHZ is the unit of the times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// cpuSeconds returns utime+stime of the process from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	return float64(ut+st) / userHZ, nil
}

// scrape reads the sealer's Prometheus metrics: name (with labels, as
// exposed) -> value.
func (p *sealerProc) scrape() (map[string]float64, error) {
	cl := http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequest(http.MethodGet, "http://"+p.metricsAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	// Uncompressed: the sampler scrapes several times a second, and gzip
	// allocated a compressor in the sealer each time (15% of the sealer's
	// allocations at 10,000 events/s), a load Prometheus at its usual
	// interval does not add.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// histQuantile returns the upper bound (le) of the bucket of the Prometheus
// histogram name that holds the q-quantile of the observations made
// between the scrapes m0 and m1, or 0 without observations. beyond is set
// when the quantile lies past the largest finite bucket; the value is then
// that bucket's bound, a lower bound of the truth.
func histQuantile(m0, m1 map[string]float64, name string, q float64) (le float64, beyond bool) {
	type bucket struct{ le, n float64 }
	var bs []bucket
	prefix := name + `_bucket{le="`
	for k, v := range m1 {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(rest, `"}`), 64)
		if err != nil || math.IsInf(le, 0) {
			continue
		}
		bs = append(bs, bucket{le, v - m0[k]})
	}
	total := m1[name+"_count"] - m0[name+"_count"]
	if total <= 0 || len(bs) == 0 {
		return 0, false
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	for _, b := range bs {
		if b.n >= q*total {
			return b.le, false
		}
	}
	return bs[len(bs)-1].le, true
}

// stop sends SIGTERM and waits for a clean exit (status 0) within limit.
func (p *sealerProc) stop(limit time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("cannot signal the sealer: %w", err)
	}
	select {
	case <-p.done:
	case <-time.After(limit):
		p.kill()
		return fmt.Errorf("the sealer did not stop within %v of SIGTERM (killed):\n%s", limit, p.logTail())
	}
	p.stopSampling()
	if p.waitErr != nil {
		return fmt.Errorf("the sealer's exit after SIGTERM: %v:\n%s", p.waitErr, p.logTail())
	}
	return nil
}

// kill ends the sealer with SIGKILL (after a failure) and reaps it.
func (p *sealerProc) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
	p.stopSampling()
}

// rusage returns the sealer's CPU seconds and peak RSS (bytes) over its
// whole life, as the kernel reports them at exit.
func (p *sealerProc) rusage() (cpu float64, maxRSS int64) {
	if p.cmd.ProcessState == nil {
		return 0, 0
	}
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), ru.Maxrss << 10
}

// logTail returns the end of the sealer's log.
func (p *sealerProc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// selfCPU returns the CPU seconds this process (the load generator and the
// verifier) has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// --- modes: where the signing key (and the TPM) come from ---

// modeSetup is what a mode adds to the sealer's environment, and how the
// benchmark learns the public key and undoes the setup.
type modeSetup struct {
	env     []string // KEY=VALUE for the sealer
	dev     bool
	pubPEM  string // path of the public key (softhsm modes); dev reads the key file
	cleanup []func()
	notes   []string
}

func (m *modeSetup) close() {
	for i := len(m.cleanup) - 1; i >= 0; i-- {
		m.cleanup[i]()
	}
}

// repoScript finds scripts/<rel> in the source tree this binary was built
// from, or next to the binary (a checkout with the binary at its top, or
// in a bin/ below it), or under the working directory.
func repoScript(rel string) string {
	var roots []string
	if src := sourceRoot(); src != "" {
		roots = append(roots, src)
	}
	if exe, err := os.Executable(); err == nil {
		d := filepath.Dir(exe)
		roots = append(roots, d, filepath.Dir(d), filepath.Dir(filepath.Dir(d)))
	}
	if wd, err := os.Getwd(); err == nil {
		roots = append(roots, wd)
	}
	for _, r := range roots {
		p := filepath.Join(r, "scripts", rel)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// setupSoftHSM creates a throwaway SoftHSM2 token with a signing key in
// dir: with scripts/softhsm/setup.sh when it can be found, otherwise with
// the same steps done here (softhsm2-util --init-token, then this binary's
// `keys generate`).
func setupSoftHSM(dir, algorithm string, m *modeSetup) error {
	module := os.Getenv("AUDIT_SEALER_PKCS11_MODULE")
	if module == "" {
		module = "/usr/lib/softhsm/libsofthsm2.so"
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return errors.New("--mode softhsm needs SoftHSM2: softhsm2-util is not on PATH (apt-get install softhsm2)")
	}
	if _, err := os.Stat(module); err != nil {
		return fmt.Errorf("--mode softhsm needs SoftHSM2: no PKCS#11 module at %s (apt-get install softhsm2, or set AUDIT_SEALER_PKCS11_MODULE)", module)
	}
	const label = "checkpoint"
	if script := repoScript("softhsm/setup.sh"); script != "" {
		env, err := runExportScript(append(cleanEnv(), "AUDIT_SEALER_BIN="+sealerBinary, "AUDIT_SEALER_PKCS11_MODULE="+module),
			script, dir, "--algorithm", algorithm, "--label", label)
		if err != nil {
			return err
		}
		m.env = append(m.env, env...)
		m.pubPEM = filepath.Join(dir, label+".pem")
		m.notes = append(m.notes, "token made by "+script)
		return nil
	}
	// The steps of setup.sh, for a binary without its source tree.
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		return err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := "directories.tokendir = " + filepath.Join(dir, "tokens") + "\nobjectstore.backend = file\nlog.level = ERROR\n" +
		"slots.removable = false\nslots.mechanisms = ALL\nlibrary.reset_on_fork = false\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return err
	}
	pin, so := randomHex(12), randomHex(12)
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte(pin+"\n"), 0o600); err != nil {
		return err
	}
	env := []string{"SOFTHSM2_CONF=" + conf, "AUDIT_SEALER_PKCS11_MODULE=" + module,
		"AUDIT_SEALER_PKCS11_TOKEN_LABEL=audit-sealer", "AUDIT_SEALER_PKCS11_KEY_LABEL=" + label,
		"AUDIT_SEALER_PKCS11_PIN_FILE=" + pinFile,
		"AUDIT_SEALER_REQUIRE_FIPS=false"} // SoftHSM2 is not FIPS 140 validated (as setup.sh says)
	init := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "audit-sealer", "--so-pin", so, "--pin", pin)
	init.Env = append(cleanEnv(), env...)
	if out, err := init.CombinedOutput(); err != nil {
		return fmt.Errorf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	gen := exec.Command(sealerBinary, "keys", "generate", "--algorithm", algorithm, "--label", label)
	gen.Env = append(cleanEnv(), env...)
	var stderr bytes.Buffer
	gen.Stderr = &stderr
	pub, err := gen.Output()
	if err != nil {
		return fmt.Errorf("keys generate: %v\n%s", err, stderr.String())
	}
	m.pubPEM = filepath.Join(dir, label+".pem")
	if err := os.WriteFile(m.pubPEM, pub, 0o600); err != nil {
		return err
	}
	m.env = append(m.env, env...)
	m.notes = append(m.notes, "token made in Go (scripts/softhsm/setup.sh not found)")
	return nil
}

// runExportScript runs a setup script with bash in environment env and
// returns the NAME=value settings of the export lines it prints.
func runExportScript(env []string, script string, args ...string) ([]string, error) {
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
	}
	exports, err := parseExports(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", script, err)
	}
	return exports, nil
}

// setupSwtpm starts a software TPM with scripts/swtpm/start.sh DIR, which
// prints the AUDIT_SEALER_TPM* export lines, and provisions the anchor
// counter on it. The TPM is stopped with scripts/swtpm/stop.sh DIR when that
// exists, else through DIR/swtpm.pid.
func setupSwtpm(dir string, m *modeSetup) error {
	script := repoScript("swtpm/start.sh")
	if script == "" {
		return errors.New("TPM mode needs scripts/swtpm (not in this build)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	env, err := runExportScript(cleanEnv(), script, dir)
	m.cleanup = append(m.cleanup, func() { stopSwtpm(dir) })
	if err != nil {
		return err
	}
	m.env = append(m.env, env...)
	// start.sh leaves the counter index undefined: define it, as an
	// operator does once per TPM.
	prov := exec.Command(sealerBinary, "tpm", "provision")
	prov.Env = append(cleanEnv(), m.env...)
	if out, err := prov.CombinedOutput(); err != nil {
		return fmt.Errorf("audit-sealer tpm provision: %v\n%s", err, out)
	}
	m.notes = append(m.notes, "TPM started by "+script+", counter provisioned by audit-sealer tpm provision")
	return nil
}

func stopSwtpm(dir string) {
	if stop := repoScript("swtpm/stop.sh"); stop != "" {
		cmd := exec.Command("bash", stop, dir)
		cmd.Env = cleanEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			warnf("%s: %v\n%s", stop, err, out)
		}
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, "swtpm.pid"))
	if err != nil {
		warnf("cannot stop swtpm: no scripts/swtpm/stop.sh and no %s", filepath.Join(dir, "swtpm.pid"))
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		warnf("cannot stop swtpm: bad pid file %s", filepath.Join(dir, "swtpm.pid"))
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
}

// parseExports reads the `export NAME='value'` lines a setup script prints
// (values in single quotes; a quote inside is closed, escaped and reopened,
// as setup.sh writes it).
func parseExports(out []byte) ([]string, error) {
	var env []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			return nil, fmt.Errorf("unexpected output line %q (want export lines only)", line)
		}
		name, val, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, fmt.Errorf("unexpected output line %q", line)
		}
		if len(val) >= 2 && val[0] == '\'' && val[len(val)-1] == '\'' {
			val = strings.ReplaceAll(val[1:len(val)-1], `'\''`, `'`)
		} else if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		env = append(env, name+"="+val)
	}
	if len(env) == 0 {
		return nil, errors.New("printed no export lines")
	}
	return env, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sourceRoot is the top of the source tree this file was compiled from, if
// the binary was built without -trimpath and the tree is still there.
func sourceRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return ""
	}
	return root
}
