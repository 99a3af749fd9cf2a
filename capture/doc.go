// Package capture turns cameras, microphones, synthetic generators and media
// files into sources for a call. Synthetic sources embed machine-readable
// sequence/time markers so a receiver can measure latency and frame loss.
package capture
