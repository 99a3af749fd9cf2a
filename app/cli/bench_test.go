package cli

import (
	"errors"
	"io"
	"testing"

	"github.com/peercall/peercall/app"
)

func TestParseBenchFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"defaults", nil, false},
		{"custom", []string{"--calls", "3", "--sizes", "320x240", "--loss", "0,5"}, false},
		{"zero calls", []string{"--calls", "0"}, true},
		{"bad size", []string{"--sizes", "big"}, true},
		{"bad loss", []string{"--loss", "100"}, true},
		{"neg duration", []string{"--duration", "-1s"}, true},
		{"extra", []string{"x"}, true},
		{"no group row", []string{"--group", "0"}, false},
		{"group of 4", []string{"--group", "4", "--group-size", "320x240"}, false},
		{"group of 2", []string{"--group", "2"}, true},
		{"group of 5", []string{"--group", "5"}, true},
		{"bad group size", []string{"--group-size", "huge"}, true},
		{"network", []string{"--network", "--network-conditions", "1M,outage", "--network-duration", "15s"}, false},
		{"network unknown condition", []string{"--network", "--network-conditions", "dialup"}, true},
		{"network short", []string{"--network", "--network-duration", "2s"}, true},
		{"network conditions without network", []string{"--network-conditions", "1M"}, true},
		{"network video not y4m", []string{"--network", "--network-video", "clip.mp4"}, true},
		{"network video missing", []string{"--network", "--network-video", "/nonexistent/clip.y4m"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseBenchFlags(tt.args, io.Discard)
			if tt.wantErr {
				if !errors.Is(err, app.ErrBadFlags) {
					t.Fatalf("err = %v, want app.ErrBadFlags", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Binary == "" || len(o.Sizes) == 0 || len(o.Losses) == 0 {
				t.Errorf("incomplete options %+v", o)
			}
		})
	}
}
