package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// TestEvidenceReportJSON: --format json (and --json) prints the evidence
// report: the verifier, the time of the verification, the inputs as
// given, and the report's members at the top level; --format text
// summarises it; a bad --format or --json with another --format exits 2.
func TestEvidenceReportJSON(t *testing.T) {
	s, err := testkit.BuildSealerLog(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC()
	for _, args := range [][]string{{"--format", "json"}, {"--json"}} {
		code, out, stderr := runCLI(append([]string{"--key", s.KeyFile}, append(args, s.Dir)...)...)
		var rep struct {
			Verifier struct {
				Name, Version string
				GoVersion     string `json:"go_version"`
			} `json:"verifier"`
			VerifiedAt time.Time `json:"verified_at"`
			Inputs     struct {
				DataDir  string   `json:"data_dir"`
				KeyFiles []string `json:"key_files"`
			} `json:"inputs"`
			Verdict string `json:"verdict"`
			Period  *struct {
				FirstTime time.Time `json:"first_time"`
			} `json:"period"`
			KeyHistory []struct {
				KeyID string `json:"key_id"`
			} `json:"key_history"`
			Completeness struct {
				UncleanStops int `json:"unclean_stops"`
			} `json:"completeness"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: not one JSON document: %v\n%s%s", args, err, out, stderr)
		}
		if code != 0 || rep.Verdict != "intact" || rep.Verifier.Name != "audit-verify" || rep.Verifier.Version == "" || rep.Verifier.GoVersion == "" ||
			rep.VerifiedAt.Before(before.Add(-time.Second)) || rep.Inputs.DataDir != s.Dir || len(rep.Inputs.KeyFiles) != 1 ||
			rep.Period == nil || len(rep.KeyHistory) != 2 || rep.Completeness.UncleanStops != 1 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	code, out, _ := runCLI("--key", s.KeyFile, s.Dir)
	for _, want := range []string{"verified by audit-verify", "period: records 0 to ", "keys: ", " (endorsed at record ", ": 1 stretch(es)", "1 without a clean stop", "exception: unclean_stop at record "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("text output lacks %q: exit %d\n%s", want, code, out)
		}
	}
	for _, args := range [][]string{{"--format", "pdf"}, {"--json", "--format", "html"}, {"--anchor-interval", "0s"}} {
		if code, out, stderr := runCLI(append([]string{"--key", s.KeyFile}, append(args, s.Dir)...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, code, out, stderr)
		}
	}
}

// browser returns the headless browser, or skips (fails under CI=true,
// where scripts/test.sh installs it).
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium-headless-shell", "chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium-headless-shell or chromium: scripts/test.sh installs chromium-headless-shell")
	}
	t.Skip("no chromium-headless-shell or chromium installed (apt-get install chromium-headless-shell); skipping the rendering test")
	return ""
}

// TestEvidenceReportHTMLRenders: the HTML evidence report of a verified log
// renders in a real browser: the DOM it builds holds the verdict and the
// period (first and last record time), and a screenshot is a PNG that
// decodes and is not blank.
func TestEvidenceReportHTMLRenders(t *testing.T) {
	bin := browser(t)
	root := t.TempDir()
	s, err := testkit.BuildSealerLog(root)
	if err != nil {
		t.Fatal(err)
	}
	code, page, stderr := runCLI("--key", s.KeyFile, "--json", s.Dir)
	var rep struct {
		Period struct {
			FirstTime time.Time `json:"first_time"`
			LastTime  time.Time `json:"last_time"`
		} `json:"period"`
	}
	if err := json.Unmarshal([]byte(page), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s", code, err, stderr)
	}
	code, page, stderr = runCLI("--key", s.KeyFile, "--format", "html", s.Dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, external := range []string{"<script", "<link", "src=", "http://", "https://"} {
		if strings.Contains(page, external) {
			t.Fatalf("the page is not self-contained: it holds %q", external)
		}
	}
	file := filepath.Join(root, "evidence.html")
	if err := os.WriteFile(file, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(root, "profile")}, args...)...)
		cmd.Dir = root
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", bin, args, err, errb.Bytes())
			}
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("%s %v: no result in 2 minutes", bin, args)
		}
		return out.Bytes()
	}
	dom := string(run("--dump-dom", "file://"+file))
	for _, want := range []string{
		`<span class="ok">intact</span>`,
		rep.Period.FirstTime.UTC().Format(time.RFC3339Nano),
		rep.Period.LastTime.UTC().Format(time.RFC3339Nano),
		"unclean_stop", "PCI DSS v4.0 10.3.2",
	} {
		if !strings.Contains(dom, want) {
			t.Fatalf("the rendered DOM lacks %q", want)
		}
	}
	shot := filepath.Join(root, "out.png")
	run("--screenshot="+shot, "--window-size=1280,2000", "file://"+file)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 1000 || b.Dy() < 1000 {
		t.Fatalf("screenshot of %v", b)
	}
	first := img.At(b.Min.X, b.Min.Y)
	colours := map[[4]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y && len(colours) < 3; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, bl, a}] = true
		}
	}
	if len(colours) < 3 {
		t.Fatalf("the screenshot is blank (all %v)", first)
	}
}
