package signalserver

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestWebRoutes checks what the browser client is served at each address,
// and that every answer carries the security headers.
func TestWebRoutes(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	tests := []struct {
		method, path string
		status       int
		ctype        string // prefix; "" = not checked
		contains     string
	}{
		{"GET", "/", http.StatusOK, "text/html", `<script type="module" src="/static/main.js"></script>`},
		{"GET", "/r/kitchen", http.StatusOK, "text/html", `id="join-form"`},
		{"GET", "/r/a.b_c-9", http.StatusOK, "text/html", ""},
		{"HEAD", "/r/kitchen", http.StatusOK, "text/html", ""},
		{"GET", "/r/" + strings.Repeat("x", 65), http.StatusNotFound, "", ""},
		{"GET", "/r/bad%20room", http.StatusNotFound, "", ""},
		{"GET", "/r/", http.StatusNotFound, "", ""},
		{"GET", "/r/kitchen/extra", http.StatusNotFound, "", ""},
		{"GET", "/static/main.js", http.StatusOK, "text/javascript", "from './peer.js'"},
		{"GET", "/static/peer.js", http.StatusOK, "text/javascript", "export class Session"},
		{"GET", "/static/signaling.js", http.StatusOK, "text/javascript", "export class Signaling"},
		{"GET", "/static/media.js", http.StatusOK, "text/javascript", "export class LocalMedia"},
		{"GET", "/static/ui.js", http.StatusOK, "text/javascript", "export class Tile"},
		{"GET", "/static/sdp.js", http.StatusOK, "text/javascript", "export function scrubCandidate"},
		{"GET", "/static/sas.js", http.StatusOK, "text/javascript", "sas-words:begin"},
		{"GET", "/static/util.js", http.StatusOK, "text/javascript", "export function log"},
		{"GET", "/static/app.js", http.StatusNotFound, "", ""},
		{"GET", "/static/style.css", http.StatusOK, "text/css", ".grid[data-count=\"2\"]"},
		{"GET", "/static/", http.StatusNotFound, "", ""},
		{"GET", "/static/web.go", http.StatusNotFound, "", ""},
		{"GET", "/index.html", http.StatusNotFound, "", ""},
		{"POST", "/", http.StatusNotFound, "", ""},
		{"GET", "/healthz", http.StatusOK, "", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.ctype != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) {
				t.Errorf("Content-Type %q, want %s", resp.Header.Get("Content-Type"), tt.ctype)
			}
			if tt.contains != "" && !strings.Contains(string(body), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			if tt.path == "/healthz" {
				return // not browser pages
			}
			want := map[string]string{
				"Content-Security-Policy": ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Referrer-Policy":         "no-referrer",
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestWebCSP pins the policy the brief asks for, directive by directive.
func TestWebCSP(t *testing.T) {
	want := map[string]string{
		"default-src":     "'self'",
		"script-src":      "'self'",
		"connect-src":     "'self' ws: wss:",
		"media-src":       "'self' blob: mediastream:",
		"img-src":         "'self' data:",
		"style-src":       "'self'",
		"frame-ancestors": "'none'",
	}
	got := map[string]string{}
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), " ")
		got[name] = val
	}
	if len(got) != len(want) {
		t.Errorf("directives %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// TestWebETag checks revalidation: the page is no-cache, a matching
// If-None-Match gets 304.
func TestWebETag(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/static/main.js", nil))
	etag := rec.Header().Get("ETag")
	if rec.Code != http.StatusOK || etag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("code %d etag %q cache %q", rec.Code, etag, rec.Header().Get("Cache-Control"))
	}
	req := httptest.NewRequest("GET", "/static/main.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("revalidation: code %d, want 304", rec.Code)
	}
}

// TestWebSelfContained: no inline script or style (the CSP forbids them),
// no third-party URL, and every local reference is served.
func TestWebSelfContained(t *testing.T) {
	page, static := webAssets()
	html := string(page.body)
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`), // inline script body
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`), // inline event handlers
	} {
		if bad.MatchString(html) {
			t.Errorf("index.html matches %s", bad)
		}
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 2 {
		t.Fatalf("found %d references, want the script and the style sheet", len(refs))
	}
	for _, r := range refs {
		if _, ok := static[r[1]]; !ok {
			t.Errorf("index.html references %q, which is not served", r[1])
		}
	}
	external := regexp.MustCompile(`(?i)\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	assets := map[string]webAsset{"index.html": page}
	for p, a := range static {
		assets[p] = a
	}
	for name, a := range assets {
		if m := external.FindString(string(a.body)); m != "" {
			t.Errorf("%s refers to an outside address %q", name, m)
		}
	}
}

// TestWebModules: the page loads one module (main.js) and every module it
// imports, directly or not, is served from /static/ as JavaScript: a
// missing file or another MIME type stops the whole page in the browser
// (module scripts are checked strictly, under script-src 'self').
func TestWebModules(t *testing.T) {
	page, static := webAssets()
	entry := regexp.MustCompile(`<script type="module" src="(/static/[a-z]+\.js)"></script>`).FindAllStringSubmatch(string(page.body), -1)
	if len(entry) != 1 {
		t.Fatalf("index.html loads %d module scripts, want exactly main.js", len(entry))
	}
	if strings.Contains(string(page.body), "<script src=") {
		t.Error("index.html loads a classic script: every script is a module")
	}
	importRE := regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^;]*?\bfrom\s+'([^']+)'|^\s*import\s+'([^']+)'|\bimport\(`)
	seen := map[string]bool{}
	queue := []string{entry[0][1]}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		a, ok := static[p]
		if !ok {
			t.Errorf("%s is imported but not served", p)
			continue
		}
		if !strings.HasPrefix(a.contentType, "text/javascript") {
			t.Errorf("%s served as %q", p, a.contentType)
		}
		for _, m := range importRE.FindAllStringSubmatch(string(a.body), -1) {
			spec := m[1] + m[2]
			if spec == "" {
				t.Errorf("%s uses a dynamic import()", p)
				continue
			}
			if !strings.HasPrefix(spec, "./") || !strings.HasSuffix(spec, ".js") {
				t.Errorf("%s imports %q: modules import their siblings as './name.js'", p, spec)
				continue
			}
			queue = append(queue, "/static/"+strings.TrimPrefix(spec, "./"))
		}
	}
	for p := range static {
		if strings.HasSuffix(p, ".js") && !seen[p] {
			t.Errorf("%s is served but no module imports it", p)
		}
	}
	if len(seen) < 5 {
		t.Errorf("the page has %d modules, want the client split by concept", len(seen))
	}
}

// jsWords extracts the SAS word list embedded in sas.js.
func jsWords(t *testing.T) []string {
	t.Helper()
	_, static := webAssets()
	js := string(static["/static/sas.js"].body)
	_, rest, ok := strings.Cut(js, "// sas-words:begin")
	block, _, ok2 := strings.Cut(rest, "// sas-words:end")
	if !ok || !ok2 {
		t.Fatal("sas.js lacks the sas-words markers")
	}
	_, arr, _ := strings.Cut(block, "[")
	var words []string
	for _, m := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(arr, -1) {
		words = append(words, m[1])
	}
	return words
}

// goWords parses call/sas_words.go (signalserver must not import call).
func goWords(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../call/sas_words.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "sasWords" || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			t.Fatal("sasWords is not a composite literal")
		}
		for _, e := range lit.Elts {
			bl, ok := e.(*ast.BasicLit)
			if !ok || bl.Kind != token.STRING {
				t.Fatalf("sasWords element %T is not a string literal", e)
			}
			w, err := strconv.Unquote(bl.Value)
			if err != nil {
				t.Fatal(err)
			}
			words = append(words, w)
		}
		return false
	})
	return words
}

// TestWebSASWordsMatchGo: the page's SAS word list must be call's, word for
// word, or browser and desktop show different words for the same call.
func TestWebSASWordsMatchGo(t *testing.T) {
	js, goList := jsWords(t), goWords(t)
	if len(goList) != 256 {
		t.Fatalf("call/sas_words.go has %d words, want 256", len(goList))
	}
	if len(js) != len(goList) {
		t.Fatalf("sas.js has %d words, Go has %d", len(js), len(goList))
	}
	for i := range js {
		if js[i] != goList[i] {
			t.Errorf("word %d: sas.js %q, Go %q", i, js[i], goList[i])
		}
	}
	// The documented list (docs/ice-policy.md) is the third copy.
	doc, err := os.ReadFile("../docs/ice-policy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "<!-- sas-words:begin -->")
	block, _, _ := strings.Cut(rest, "<!-- sas-words:end -->")
	if docWords := strings.Fields(block); !slices.Equal(docWords, js) {
		t.Errorf("docs/ice-policy.md word list (%d words) differs from sas.js", len(docWords))
	}
}

// TestWebOrigin: the page's own origin reaches /ws with or without an
// allow-list; foreign origins only when listed.
func TestWebOrigin(t *testing.T) {
	for _, list := range [][]string{nil, {"https://app.example"}} {
		t.Run(strings.Join(append([]string{"list"}, list...), ":"), func(t *testing.T) {
			var opts []Option
			if list != nil {
				opts = append(opts, WithAllowedOrigins(list...))
			}
			ts := startServer(t, opts...)
			tests := []struct {
				origin string
				ok     bool
			}{
				{"http://" + ts.addr, true},       // the page served by this server
				{"HTTP://" + ts.addr + "/", true}, // case and slash do not matter
				{"https://" + ts.addr, true},      // same host behind a TLS proxy
				{"http://evil.example", false},    // another site
				{"http://" + ts.addr + ".evil.example", false},
				{"null", false}, // sandboxed frame / file:
				{"https://app.example", list != nil},
			}
			for i, tt := range tests {
				ws := rawDial(t, ts.url, http.Header{"Origin": {tt.origin}})
				if tt.ok {
					rawJoin(t, ws, Message{Room: "origin" + strconv.Itoa(i)})
				} else {
					expectError(t, ws, CodeOriginNotAllowed, ClosePolicy)
				}
				_ = ws.Close()
			}
			// DNS rebinding: the attacker's name in Origin and Host alike.
			ws := rawDial(t, ts.url, http.Header{"Origin": {"http://evil.example:8084"}, "Host": {"evil.example:8084"}})
			expectError(t, ws, CodeOriginNotAllowed, ClosePolicy)
		})
	}
}
