package app_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/peercall/peercall/app"
)

// TestBenchFilesRow runs the bench's file-transfer row (a small file) as
// make bench does: the file arrives with its hash checked and the table
// says so.
func TestBenchFilesRow(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	o := app.BenchOptions{Calls: 1, SetupDur: 2 * time.Second, QualityDur: 3 * time.Second, LossDur: 2 * time.Second,
		FileMB: 8, Binary: buildHeadless(t, true), Timeout: 60 * time.Second}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := app.RunBench(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	md := res.Markdown()
	i := strings.Index(md, "### File transfer during a call")
	if i < 0 {
		t.Fatalf("no file-transfer table:\n%s", md)
	}
	row := strings.Split(md[i:], "\n")[4]
	t.Log(row)
	if !strings.HasPrefix(row, "| 8 MB |") || !strings.Contains(row, "| equal |") {
		t.Errorf("file-transfer row %q, want 8 MB with equal hashes", row)
	}
}
