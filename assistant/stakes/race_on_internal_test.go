//go:build race

package stakes

// raceDetector is true in a -race build, where the detector's pure,
// single-goroutine scans run several times slower and gain nothing
// from the race detector.
const raceDetector = true
