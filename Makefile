# Peercall build entry points. `make run` and `make test` do all set-up on a
# fresh Debian 12 machine (apt-get for the C libraries, Go modules on demand).
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
BUILD ?= build
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build and the tests need: C codecs for cgo, GL/X11
# headers for Fyne, Xvfb for the GUI smoke test, ffmpeg to check
# recordings, a private PulseAudio daemon (and sox, espeak-ng) for the
# sound tests, PipeWire and the desktop portal for Wayland screen sharing
# (and its tests: a private session bus, PipeWire and xdg-desktop-portal),
# iproute2 for the emulated bad links (app/netem).
DEB_PKGS := pkg-config gcc g++ libc6-dev libvpx-dev libopus-dev libopusfile-dev libyuv-dev libwebrtc-audio-processing-dev \
	libasound2-dev libgl1-mesa-dev libx11-dev libxrandr-dev libxcursor-dev \
	libxinerama-dev libxi-dev libxfixes-dev libxdamage-dev libxxf86vm-dev libxext-dev libwayland-dev \
	libxkbcommon-dev xvfb xauth x11-xserver-utils chromium ffmpeg imagemagick \
	pulseaudio pulseaudio-utils libasound2-plugins sox libsox-fmt-all espeak-ng \
	libpipewire-0.3-dev pipewire pipewire-bin wireplumber dbus xdg-desktop-portal iproute2

.PHONY: deps build run test test-nocgo vet bench bench-gui fuzz clean signal smoke package

deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(GO) version >/dev/null || { echo "Go is required (/usr/local/go)"; exit 1; }
	@$(GO) mod download

build: deps
	mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BUILD)/peercall-signal ./signalserver/cmd/peercall-signal
	$(GO) build -o $(BUILD)/ ./app/cmd/...
	$(GO) build -o $(BUILD)/peercall .

signal: deps
	mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BUILD)/peercall-signal ./signalserver/cmd/peercall-signal

run: build
	$(BUILD)/peercall

vet:
	$(GO) vet ./...

# Pure-Go packages must build without cgo (static binaries, tester rigs).
test-nocgo:
	CGO_ENABLED=0 $(GO) build ./call/... ./signalserver/...
	CGO_ENABLED=0 $(GO) vet ./call/... ./signalserver/...

# GUI smoke runs: the real window under Xvfb calls a headless peer on
# 127.0.0.1 (screenshot in $(BUILD)/smoke.png, CPU line printed), then
# joins a 3-person call of two headless peers ($(BUILD)/group/smoke.png).
smoke: deps
	GO=$(GO) scripts/smoke.sh $(BUILD)
	SMOKE_PEERS=3 GO=$(GO) scripts/smoke.sh $(BUILD)/group

# The app package's end-to-end calls (real processes, real-time figures)
# run after the other packages, alone: two packages' calls at once on a
# 2-core machine starve each other's audio and connection timers.
test: deps vet test-nocgo smoke
	PEERCALL_TEST_STRICT=1 $(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -vx 'github.com/peercall/peercall/app')
	PEERCALL_TEST_STRICT=1 $(GO) test -race -count=1 -timeout 45m ./app

# Linux desktop package (Peercall.tar.xz: binary, .desktop file, icon) with
# the fyne CLI, a Go tool dependency of this module.
# The fyne CLI rewrites FyneApp.toml (it bumps Build): the committed file
# is put back, so packaging leaves the tree clean.
package: deps
	mkdir -p $(BUILD)
	cp FyneApp.toml $(BUILD)/FyneApp.toml.orig
	$(GO) tool fyne package --target linux --release --src . || { mv -f $(BUILD)/FyneApp.toml.orig FyneApp.toml; exit 1; }
	mv -f $(BUILD)/FyneApp.toml.orig FyneApp.toml
	mv -f Peercall.tar.xz $(BUILD)/

# Component benchmarks plus the call-quality bench; rewrites docs/benchmarks.md.
# The busy Y4M clip (scripts/busy-clip.sh, kept in build/) feeds the encoder
# benchmark on camera-like content and the headless CPU figures
# ($(BUILD)/headless-cpu.txt: clip vs synthetic pattern, 3 calls each), and
# the CPU beside Chromium on that clip (bench --cpu-chromium: Chromium calling
# itself, two headless peers, the desktop app; its section of the doc).
bench: deps
	mkdir -p $(BUILD)
	scripts/busy-clip.sh $(BUILD)/busy-640x480-30.y4m
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./signalserver/... ./codec/... ./capture/... ./call/... >$(BUILD)/go-bench.txt; \
		status=$$?; cat $(BUILD)/go-bench.txt; exit $$status
	$(GO) build -o $(BUILD)/peercall-headless ./app/cmd/peercall-headless
	$(BUILD)/peercall-headless bench --loss-duration 20s --go-bench $(BUILD)/go-bench.txt --doc docs/benchmarks.md --json $(BUILD)/bench.json
	GO=$(GO) scripts/gui-cpu.sh 5 $(BUILD)
	NOBUILD=1 scripts/headless-cpu.sh 3 10s $(BUILD) | tee $(BUILD)/headless-cpu.txt
	$(BUILD)/peercall-headless bench --cpu-chromium $(BUILD)/busy-640x480-30.y4m --gui-binary $(BUILD)/peercall \
		--doc docs/benchmarks.md --json $(BUILD)/bench-cpu.json | tee $(BUILD)/cpu-vs-chromium.txt

# Desktop app CPU in a call under Xvfb (median of 5 smoke runs).
bench-gui: deps
	GO=$(GO) scripts/gui-cpu.sh 5 $(BUILD)

# Each fuzz target for FUZZTIME (one at a time: go test -fuzz takes one target).
FUZZTIME ?= 20s
FUZZ_TARGETS := signalserver:FuzzDecodeMessage codec:FuzzVP8Assembler codec:FuzzVP8FrameCheck codec:FuzzYCbCrToRGBA \
	codec:FuzzAudioJitterBuffer codec:FuzzOpusHasFEC call:FuzzScrubSDP \
	call:FuzzScrubCandidate call:FuzzParseFingerprint call:FuzzDecodePayload \
	call:FuzzDecodeDataMessage capture:FuzzIVF capture:FuzzOgg capture:FuzzParseWAV capture:FuzzParseY4MHeader \
	app:FuzzValidateICEServer
fuzz: deps
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$pkg/ || exit 1; \
	done

clean:
	rm -rf $(BUILD)
