package api

import "github.com/countersign/countersign/agenda"

// agendaKinds and agendaOutcomes are the domain's lists as strings, for
// the OpenAPI conformance test's domainEnums.
func agendaKinds() []string {
	out := make([]string, len(agenda.Kinds))
	for i, k := range agenda.Kinds {
		out[i] = string(k)
	}
	return out
}

func agendaOutcomes() []string {
	out := make([]string, len(agenda.Outcomes))
	for i, o := range agenda.Outcomes {
		out[i] = string(o)
	}
	return out
}
