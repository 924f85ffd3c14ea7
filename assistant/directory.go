package assistant

import (
	"bytes"
	"fmt"
	"os"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// LoadDirectory reads the local referral directory from a YAML or JSON file
// (JSON is YAML): a list of services, each with an id, a name and a
// description the model matches against. Suggested referrals may only name
// these ids. Errors name the file, the entry and what is wrong.
func LoadDirectory(path string) ([]Service, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("referral directory: %w", err)
	}
	var services []Service
	dec := yaml.NewDecoder(bytes.NewReader(buf))
	dec.KnownFields(true)
	if err := dec.Decode(&services); err != nil {
		return nil, fmt.Errorf("referral directory %s: not a list of services with id, name and description: %w", path, err)
	}
	if err := ValidateDirectory(services); err != nil {
		return nil, fmt.Errorf("referral directory %s: %w", path, err)
	}
	return services, nil
}

var serviceID = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// ValidateDirectory checks that every service has a well-formed, unique id
// and a name and description to match on.
func ValidateDirectory(services []Service) error {
	seen := map[string]bool{}
	for i, s := range services {
		switch {
		case !serviceID.MatchString(s.ID):
			return fmt.Errorf("entry %d: the id %q must be 1 to 64 lower-case letters, digits, dots, dashes or underscores", i+1, s.ID)
		case seen[s.ID]:
			return fmt.Errorf("entry %d: the id %q is used twice", i+1, s.ID)
		case s.Name == "" || s.Description == "":
			return fmt.Errorf("entry %d (%s): give a name and a description", i+1, s.ID)
		}
		seen[s.ID] = true
	}
	return nil
}
