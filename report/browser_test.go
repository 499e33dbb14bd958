package report_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/report"
)

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

// TestReportRendersInBrowser: the SOC 2 page of a log with exceptions,
// loaded in a real browser, builds a DOM whose exceptions table holds one
// row per exception of the period (the crash, the shed, the client's
// drops, the unanchored stretch, the times the sealer was down), with the
// criteria and human-readable times; and its screenshot shows that table
// (its header's colour) on a page that is not blank. The page is
// self-contained: no script, no external asset.
func TestReportRendersInBrowser(t *testing.T) {
	bin := browser(t)
	root := t.TempDir()
	s, err := testkit.BuildSealerLog(root)
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.SOC2(context.Background(), report.Options{Dir: s.Dir, Keys: testkit.Keys("main")})
	if err != nil {
		t.Fatal(err)
	}
	page, err := report.Render(r, "html")
	if err != nil {
		t.Fatal(err)
	}
	for _, external := range []string{"<script", "<link", "src=", "http://", "https://"} {
		if bytes.Contains(page, []byte(external)) {
			t.Fatalf("the page is not self-contained: it holds %q", external)
		}
	}
	file := filepath.Join(root, "soc2.html")
	if err := os.WriteFile(file, page, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(root, "profile")}, args...)...)
		cmd.Dir = root
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
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
	table := dom[strings.Index(dom, `<table id="exceptions-table">`)+1:]
	if i := strings.Index(table, "</table>"); i > 0 {
		table = table[:i]
	} else {
		t.Fatalf("the rendered DOM has no exceptions table:\n%s", dom)
	}
	c := r.Coverage
	if n := strings.Count(table, `<tr class="exception">`); n != len(c.Exceptions) || n < 6 {
		t.Fatalf("the exceptions table renders %d rows; the period has %d exceptions", n, len(c.Exceptions))
	}
	for _, code := range []string{"unclean_stop", "events_shed", "client_dropped", "unanchored_stretch", "sealer_down"} {
		if !strings.Contains(table, "<code>"+code+"</code>") {
			t.Fatalf("the exceptions table lacks %s", code)
		}
	}
	first := c.Exceptions[0].Time
	for _, want := range []string{`<span class="ok">intact</span>`, `id="criteria"`, "CC7.2", `<span class="warn">exceptions</span>`,
		`<time datetime="` + first.UTC().Format(time.RFC3339Nano) + `">` + first.UTC().Format("2 Jan 2006 15:04:05 UTC") + `</time>`} {
		if !strings.Contains(dom, want) {
			t.Fatalf("the rendered DOM lacks %q", want)
		}
	}

	shot := filepath.Join(root, "soc2.png")
	run("--screenshot="+shot, "--window-size=1280,2400", "file://"+file)
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
	header, colours := 0, map[[3]uint32]bool{}
	near := func(v uint32, want uint32) bool { return v+4 >= want && v <= want+4 }
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if len(colours) < 10 {
				colours[[3]uint32{r, g, bl}] = true
			}
			if near(r, 0xf3) && near(g, 0xdc) && near(bl, 0xa8) {
				header++
			}
		}
	}
	if len(colours) < 3 {
		t.Fatal("the screenshot is blank")
	}
	if header < 100 {
		t.Fatalf("the screenshot does not show the exceptions table's header (%d pixels of its colour)", header)
	}
}
