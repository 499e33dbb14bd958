package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/pprof/profile"
)

// profileChunk is how long each CPU profile the benchmark asks the sealer
// for lasts: /debug/pprof/profile needs its duration up front, so the
// sealer's run is covered by back-to-back chunks, merged at the end.
const profileChunk = 2 * time.Second

// sealerProfiler collects CPU profiles from the sealer's /debug/pprof
// (serve --metrics-pprof) until it is stopped.
type sealerProfiler struct {
	url    string
	stopc  chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	chunks []*profile.Profile
	err    error
}

// startProfiler starts collecting from the metrics listener at addr.
func startProfiler(addr string) *sealerProfiler {
	p := &sealerProfiler{
		url:   fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(profileChunk/time.Second)),
		stopc: make(chan struct{}), done: make(chan struct{}),
	}
	go p.run()
	return p
}

func (p *sealerProfiler) run() {
	defer close(p.done)
	client := &http.Client{Timeout: profileChunk + 30*time.Second}
	for {
		select {
		case <-p.stopc:
			return
		default:
		}
		prof, err := fetchProfile(client, p.url)
		p.mu.Lock()
		if err != nil {
			p.err = err
		} else {
			p.chunks = append(p.chunks, prof)
		}
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func fetchProfile(client *http.Client, url string) (*profile.Profile, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return profile.Parse(resp.Body)
}

// stop waits for the chunk in flight (at most profileChunk) and writes
// the merged profile to path.
func (p *sealerProfiler) stop(path string) error {
	close(p.stopc)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return fmt.Errorf("the sealer's CPU profile: %w", p.err)
	}
	if len(p.chunks) == 0 {
		return fmt.Errorf("the sealer's CPU profile: no profile collected")
	}
	merged, err := profile.Merge(p.chunks)
	if err != nil {
		return fmt.Errorf("the sealer's CPU profile: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := merged.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
