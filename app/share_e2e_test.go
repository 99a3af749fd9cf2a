package app_test

import (
	"fmt"
	"testing"
)

// TestHeadlessShareStartStop: one person starts and stops a screen share
// (a moving 1280x720 test picture at 10 fps) twice during a 1:1 and a
// 3-person call. Every other person receives each share as a second
// video track and their camera pictures never freeze meanwhile.
func TestHeadlessShareStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end call")
	}
	bin := buildHeadless(t, true)
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d_peers", n), func(t *testing.T) {
			url, _ := startSignal(t)
			common := []string{"--peers", fmt.Sprint(n), "--size", "320x240", "--duration", "9500ms"}
			peers := []groupPeer{{name: "ann", args: append([]string{"--share", "synthetic", "--share-toggle", "2s"}, common...)}}
			for _, name := range []string{"bob", "cat"}[:n-1] {
				peers = append(peers, groupPeer{name: name, args: common})
			}
			res := runGroup(t, bin, url, "share", peers)
			for name, r := range res {
				if r.code != 0 {
					t.Fatalf("%s: exit %d: %s", name, r.code, r.stderr)
				}
				for _, p := range r.rep.Peers {
					t.Logf("%s ← %s: camera %.1f fps, %d freezes (longest %.0f ms); share %+v", name, p.Name,
						p.VideoIn.FPS, p.VideoIn.Freezes, p.VideoIn.LongestFreezeMS, p.ShareIn)
					if p.VideoIn.FPS < 25 || p.VideoIn.Freezes > 0 {
						t.Errorf("%s: camera from %s at %.1f fps with %d freezes while the share came and went", name, p.Name, p.VideoIn.FPS, p.VideoIn.Freezes)
					}
					if p.Name != "ann" {
						if p.ShareIn.Shares != 0 {
							t.Errorf("%s: a share from %s, who shares nothing", name, p.Name)
						}
						continue
					}
					// On at 0 s, off at 2, on at 4, off at 6, on at 8: three
					// shares in 9.5 s, the latest at 1280x720. Its rate is
					// over the 1.5 s it runs (a 1 s window gave 4 frames in
					// 0.56 s under CI load, the first 1280x720 keyframe
					// included: 7.1 fps).
					if p.ShareIn.Shares < 2 || p.ShareIn.FramesDecoded == 0 || p.ShareIn.Width != 1280 || p.ShareIn.Height != 720 || p.ShareIn.FPS < 8 {
						t.Errorf("%s: share from ann %+v, want ≥ 2 shares of 1280x720 frames at ≥ 8 fps", name, p.ShareIn)
					}
				}
			}
		})
	}
}
