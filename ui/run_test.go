package ui

import "testing"

func TestTuneSoftwareGL(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		cpus   int
		want   string
		wantOK bool
	}{
		{"small machine gets single-threaded raster", map[string]string{}, 2, "0", true},
		{"four cores still", map[string]string{}, 4, "0", true},
		{"big machine keeps Mesa's default", map[string]string{}, 8, "", false},
		{"user's value wins", map[string]string{"LP_NUM_THREADS": "3"}, 2, "3", true},
		{"user's empty value wins", map[string]string{"LP_NUM_THREADS": ""}, 2, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			set := func(k, v string) error { env[k] = v; return nil }
			tuneSoftwareGL(lookup, set, tt.cpus)
			got, ok := env["LP_NUM_THREADS"]
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("LP_NUM_THREADS = %q (set %v), want %q (set %v)", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
