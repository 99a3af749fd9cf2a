// Package netem is a userspace link emulator for tests and the bench: two
// network namespaces joined by a pair of TUN devices, with this process in
// the middle passing each IP packet through a link model per direction
// (capacity with a drop-tail queue bounded in time, one-way delay, jitter,
// Gilbert–Elliott burst loss, outages and a capacity schedule).
//
// It works for any process, not only pion's in-process vnet: a program run
// in a namespace (Pair.Command) sees an ordinary interface, so our headless
// peer and Chromium go through the same emulated link. `tc netem` is not
// available on the machines it runs on; this needs only /dev/net/tun, root
// and `ip netns`.
//
// The model (Link) is pure: it takes the time and a random source, so its
// tests are deterministic. The forwarder (Pair, Linux only) feeds it the
// wall clock.
package netem
