package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{nil, 50, 0},
		{[]float64{5}, 95, 5},
		{[]float64{4, 1, 3, 2}, 50, 2},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 95, 10},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 50, 5},
	}
	for _, tt := range tests {
		if got := percentile(append([]float64(nil), tt.xs...), tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.xs, tt.p, got, tt.want)
		}
	}
}

func TestMsSince(t *testing.T) {
	start := time.Unix(100, 0)
	if got := msSince(start, time.Time{}); got != -1 {
		t.Errorf("zero time: %v", got)
	}
	if got := msSince(start, start.Add(1500*time.Microsecond)); got != 1.5 {
		t.Errorf("got %v", got)
	}
}

func TestWriteReport(t *testing.T) {
	r := &Report{OK: true, Room: "r", ICE: ICEReport{Policy: "no-host", LocalCandidateTypes: []string{"srflx"}}}
	var buf bytes.Buffer
	if err := WriteReport(r, "-", &buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ok", "setup_ms", "sas", "ice", "video_in", "video_out", "audio_in", "latency_ms", "rtt_ms", "cpu"} {
		if _, ok := m[k]; !ok && k != "sas" {
			t.Errorf("report lacks %q", k)
		}
	}
	p := filepath.Join(t.TempDir(), "r.json")
	if err := WriteReport(r, p, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, buf.Bytes()) {
		t.Error("file and stdout reports differ")
	}
	if err := WriteReport(r, filepath.Join(t.TempDir(), "no", "such", "dir.json"), nil); err == nil {
		t.Error("want error for unwritable path")
	}
}
