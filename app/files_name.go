package app

import (
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSavedName bounds a received file's name on disk (bytes of UTF-8).
const maxSavedName = 200

// SanitizeFileName turns the name a peer offered into a safe base name
// (docs/protocol.md, "Names"): no path, no "..", no control characters
// or <>:"|?*, no leading dots or trailing dots and spaces, Windows
// reserved names prefixed with "_", at most 200 bytes keeping the
// extension, "file" when nothing is left.
func SanitizeFileName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	// Base name only: whatever follows the last separator of either kind.
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20, r == 0x7f, unicode.IsControl(r), r == utf8.RuneError:
			return '_'
		case strings.ContainsRune(`<>:"|?*`, r):
			return '_'
		case unicode.Is(unicode.Cf, r): // bidi overrides and other invisible format characters
			return '_'
		}
		return r
	}, name)
	for strings.Contains(name, "..") {
		name = strings.ReplaceAll(name, "..", ".")
	}
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	if isReservedName(name) {
		name = "_" + name
	}
	name = cutName(name, maxSavedName)
	name = strings.TrimRight(name, ". ")
	if name == "" {
		return "file"
	}
	return name
}

// isReservedName: CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an
// extension, in any case.
func isReservedName(name string) bool {
	stem, _, _ := strings.Cut(name, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && stem[3] >= '1' && stem[3] <= '9' {
		return true
	}
	return false
}

// cutName shortens name to at most n bytes at a UTF-8 boundary, keeping
// a short extension.
func cutName(name string, n int) string {
	if len(name) <= n {
		return name
	}
	ext := filepath.Ext(name)
	if len(ext) > 16 || len(ext) >= n/2 {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	keep := n - len(ext)
	for keep > 0 && !utf8.RuneStart(stem[keep]) {
		keep--
	}
	return stem[:keep] + ext
}

// numberedName is the i-th alternative of a clashing name: "a (1).txt".
func numberedName(name string, i int) string {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	if stem == "" { // ".txt" cannot happen (leading dots stripped), but keep it whole
		stem, ext = name, ""
	}
	suffix := " (" + strconv.Itoa(i) + ")"
	return cutName(stem, maxSavedName-len(ext)-len(suffix)) + suffix + ext
}
