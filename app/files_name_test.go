package app

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeFileName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"../../.bashrc", "bashrc"},
		{"/etc/passwd", "passwd"},
		{"CON", "_CON"},
		{"con.txt", "_con.txt"},
		{"LPT9.log", "_LPT9.log"},
		{"COM10", "COM10"},
		{"nul", "_nul"},
		{"a/b\\c", "c"},
		{"", "file"},
		{".", "file"},
		{"..", "file"},
		{"...", "file"},
		{"evil\x00name\x1f.txt", "evil_name_.txt"},
		{"bell\x07\x7f", "bell__"},
		{"a<b>c:d\"e|f?g*h", "a_b_c_d_e_f_g_h"},
		{"trailing. . ", "trailing"},
		{" .hidden", "hidden"},
		{"x..y", "x.y"},
		{"résumé 履歴書.pdf", "résumé 履歴書.pdf"},
		{"rtl\u202Etxt.exe", "rtl_txt.exe"},
		{"bad\xffutf8", "bad_utf8"},
	}
	for _, tt := range tests {
		if got := SanitizeFileName(tt.in); got != tt.want {
			t.Errorf("SanitizeFileName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSanitizeLongNames: a 10 KB name is cut to 200 bytes at a UTF-8
// boundary and keeps its extension.
func TestSanitizeLongNames(t *testing.T) {
	tests := []struct {
		in  string
		ext string
	}{
		{strings.Repeat("a", 10<<10) + ".txt", ".txt"},
		{strings.Repeat("é", 5000) + ".tar", ".tar"},
		{strings.Repeat("履", 4000), ""},
	}
	for _, tt := range tests {
		got := SanitizeFileName(tt.in)
		if len(got) > maxSavedName || !utf8.ValidString(got) || !strings.HasSuffix(got, tt.ext) || len(got) < maxSavedName-3 {
			t.Errorf("%d-byte name -> %d bytes %q…", len(tt.in), len(got), got[:min(len(got), 20)])
		}
	}
}

func TestNumberedName(t *testing.T) {
	tests := []struct {
		in   string
		i    int
		want string
	}{
		{"a.txt", 1, "a (1).txt"},
		{"a", 2, "a (2)"},
		{"arch.tar.gz", 3, "arch.tar (3).gz"},
	}
	for _, tt := range tests {
		if got := numberedName(tt.in, tt.i); got != tt.want {
			t.Errorf("numberedName(%q, %d) = %q, want %q", tt.in, tt.i, got, tt.want)
		}
	}
	if got := numberedName(strings.Repeat("x", 200), 12); len(got) > maxSavedName || !strings.HasSuffix(got, " (12)") {
		t.Errorf("long numbered name %d bytes", len(got))
	}
}

func TestFileNext(t *testing.T) {
	tests := []struct {
		cur  FileState
		ev   fileEvent
		want FileState
		ok   bool
	}{
		{FilePending, fileEvAccept, FileActive, true},
		{FilePending, fileEvDecline, FileDeclined, true},
		{FilePending, fileEvCancel, FileCanceled, true},
		{FilePending, fileEvDrop, FilePaused, true},
		{FileActive, fileEvDone, FileDone, true},
		{FileActive, fileEvFail, FileFailed, true},
		{FileActive, fileEvDrop, FilePaused, true},
		{FileActive, fileEvCancel, FileCanceled, true},
		{FilePaused, fileEvReoffer, FilePending, true},
		{FilePaused, fileEvAccept, FileActive, true},
		{FilePaused, fileEvFail, FileFailed, true},
		{FilePending, fileEvDone, FilePending, false},
		{FileActive, fileEvDecline, FileActive, false},
		{FileDone, fileEvCancel, FileDone, false},
		{FileFailed, fileEvAccept, FileFailed, false},
		{FileDeclined, fileEvReoffer, FileDeclined, false},
	}
	for _, tt := range tests {
		got, err := fileNext(tt.cur, tt.ev)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("fileNext(%s, %s) = %s, %v; want %s ok=%v", tt.cur, tt.ev, got, err, tt.want, tt.ok)
		}
	}
}
