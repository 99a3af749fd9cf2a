//go:build !unix

package signalserver

func raiseFileLimit() {}
