package reports

import (
	"go.temporal.io/sdk/client"

	"github.com/tierwise/tierwise/store"
)

// Service builds the reports.
type Service struct {
	store    *store.Store
	temporal client.Client
}

// New returns the reports of st. temporal answers the customer workflows'
// state queries; nil reads customers' progress from their snapshots only.
func New(st *store.Store, temporal client.Client) *Service {
	return &Service{store: st, temporal: temporal}
}
