package migrations

// PreviousRelease lists the migrations of the previous release (1.0.0, the
// tree at commit b60b1f6): a replica of that release may run on the
// database while the migrations after these are applied, so those must only
// expand (see the package comment). Move the list forward at each release.
var PreviousRelease = []string{
	"0001_init.sql", "0002_review.sql", "0003_sessions.sql", "0004_consent.sql", "0005_openings_corrections.sql",
	"0006_case_data_bound.sql", "0007_event_macs.sql", "0008_session_tokens.sql", "0009_detector_version.sql",
}
