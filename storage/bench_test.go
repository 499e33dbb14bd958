package storage

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAppendSync measures group commit: 100 frames of 550 bytes, then
// one Sync (write + fdatasync). MB/s counts payload bytes.
func BenchmarkAppendSync(b *testing.B) {
	l, err := Create(newDir(b), Options{SegmentSize: 1 << 40}, 1, []byte("genesis"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	p := testPayload(1, 550)
	b.SetBytes(100 * 550)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for range 100 {
			if err := l.Append(p); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkReader measures the Reader on a ~50 MB segment of 550-byte
// frames (warm page cache). MB/s counts file bytes.
func BenchmarkReader(b *testing.B) {
	path := filepath.Join(b.TempDir(), SegmentName(1))
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	h := fileHeader()
	w.Write(h[:])
	var frame []byte
	const frames = 50 * 1000 * 1000 / (550 + frameHeaderSize)
	for i := range frames {
		frame = appendFrame(frame[:0], testPayload(uint64(i), 550))
		w.Write(frame)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	fi, _ := f.Stat()
	f.Close()
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := OpenSegment(path, true)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, _, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		r.Close()
		if n != frames {
			b.Fatalf("read %d frames, want %d", n, frames)
		}
	}
	b.ReportMetric(float64(frames*b.N)/b.Elapsed().Seconds(), "frames/s")
}
