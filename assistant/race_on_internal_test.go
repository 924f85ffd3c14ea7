//go:build race

package assistant

// raceDetector is true in a -race build, where the tests' pure,
// single-goroutine scans run several times slower and gain nothing
// from the race detector.
const raceDetector = true
