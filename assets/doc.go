// Package assets embeds Peercall's icons, sounds and sample media. No logic.
package assets
