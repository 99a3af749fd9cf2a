package signalserver

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// webFiles is the browser client (docs/browser.md): one page, its script
// modules and its style sheet, self-contained so the server needs no CDN.
//
//go:embed web/index.html web/*.js web/style.css
var webFiles embed.FS

// ContentSecurityPolicy is sent with every page and asset. Everything comes
// from the server itself; media only from the camera and the peer.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; " +
	"media-src 'self' blob: mediastream:; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'"

// webAsset is one embedded file with its content type.
type webAsset struct {
	body        []byte
	contentType string
	etag        string
}

// webAssets maps URL paths to embedded files. The page itself is served at
// "/" and "/r/{room}"; its script modules and style sheet under /static/.
// Modules are served as JavaScript: browsers refuse to run a module of any
// other MIME type.
func webAssets() (page webAsset, static map[string]webAsset) {
	read := func(name, ctype string) webAsset {
		b, err := webFiles.ReadFile(path.Join("web", name))
		if err != nil {
			panic("signalserver: embedded " + name + " missing: " + err.Error()) // a build defect
		}
		sum := sha256.Sum256(b)
		return webAsset{body: b, contentType: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	page = read("index.html", "text/html; charset=utf-8")
	static = map[string]webAsset{
		"/static/style.css": read("style.css", "text/css; charset=utf-8"),
	}
	scripts, err := fs.Glob(webFiles, "web/*.js")
	if err != nil || len(scripts) == 0 {
		panic("signalserver: no embedded scripts") // a build defect
	}
	for _, p := range scripts {
		name := path.Base(p)
		static["/static/"+name] = read(name, "text/javascript; charset=utf-8")
	}
	return page, static
}

// registerWeb mounts the browser client on mux.
func registerWeb(mux *http.ServeMux) {
	page, static := webAssets()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, r, page)
	})
	mux.HandleFunc("GET /r/{room}", func(w http.ResponseWriter, r *http.Request) {
		if !validRoom(r.PathValue("room")) {
			securityHeaders(w.Header())
			http.Error(w, "not a valid room name", http.StatusNotFound)
			return
		}
		serveAsset(w, r, page)
	})
	// Everything else is a 404 that still carries the security headers.
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		securityHeaders(w.Header())
		http.Error(w, "not found", http.StatusNotFound)
	})
	for p, a := range static {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			serveAsset(w, r, a)
		})
	}
}

// serveAsset answers with the file, revalidated by ETag on every use (the
// files change with the binary, and a stale script would speak an old
// protocol).
func serveAsset(w http.ResponseWriter, r *http.Request, a webAsset) {
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// securityHeaders are the headers every browser-facing response carries.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	// Camera, microphone and screen sharing for this origin only; nothing
	// else.
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()")
}
