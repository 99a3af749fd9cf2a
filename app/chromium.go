package app

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, the reference client of the benches.
const chromiumPath = "/usr/bin/chromium"

// ChromiumOptions are the flags every Chromium Peercall drives (the
// browser tests, bench --network's reference calls) starts with: headless,
// no network of its own (no background fetches, updates, sync or QUIC),
// the fake camera and microphone at 30 fps with their prompts answered,
// WebRTC's real addresses (no mDNS names), media playing without a
// gesture and no throttling of a background page.
func ChromiumOptions() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("use-fake-device-for-media-stream", "fps=30"),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns,Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.WindowSize(1000, 900),
	}
}

// ChromiumFakeCamera makes Chromium's fake camera play clip (a Y4M file,
// looped) instead of its generated pattern: the same frames our peers
// send with --video FILE.y4m.
func ChromiumFakeCamera(clip string) chromedp.ExecAllocatorOption {
	return chromedp.Flag("use-file-for-fake-video-capture", clip)
}

// ChromiumLoopbackProfile makes dir a Chromium profile whose WebRTC stays
// on loopback and returns the options that use it: the profile's
// webrtc.ip_handling_policy (default_public_and_private_interfaces) binds
// ICE sockets to the wildcard address, so a packet to 127.0.0.1 leaves
// from 127.0.0.1 and every reply goes to loopback, and loopback
// candidates are allowed. (--force-webrtc-ip-handling-policy is not
// honoured by Debian's build, hence the preference file.) The page or
// script must still signal and accept loopback candidates only.
func ChromiumLoopbackProfile(dir string) ([]chromedp.ExecAllocatorOption, error) {
	if err := os.MkdirAll(filepath.Join(dir, "Default"), 0o700); err != nil {
		return nil, fmt.Errorf("chromium profile: %w", err)
	}
	prefs := `{"webrtc":{"ip_handling_policy":"default_public_and_private_interfaces","multiple_routes_enabled":false}}`
	if err := os.WriteFile(filepath.Join(dir, "Default", "Preferences"), []byte(prefs), 0o600); err != nil {
		return nil, fmt.Errorf("chromium profile: %w", err)
	}
	return []chromedp.ExecAllocatorOption{
		chromedp.UserDataDir(dir),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
	}, nil
}
