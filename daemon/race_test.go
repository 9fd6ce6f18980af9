//go:build race

package main

// raceEnabled: the tests run with -race, so the daemon they start is built
// with -race too.
const raceEnabled = true
