//go:build !race

package assistant

// raceDetector is true in a -race build (race_on_internal_test.go).
const raceDetector = false
