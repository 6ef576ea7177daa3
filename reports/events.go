package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

// ConversionLines is a conversion with its ledger lines.
type ConversionLines struct {
	store.Conversion
	Lines []store.LedgerLine `json:"lines"`
}

// CustomerEvents is the Conversion Events Report of one customer: every
// conversion and event in time order with its data points, ledger lines and
// the rules applied, and the customer's progress on each rule.
type CustomerEvents struct {
	AdvertiserID int64                        `json:"advertiser_id"`
	UserID       string                       `json:"user_id"`
	WorkflowID   string                       `json:"workflow_id"`
	Conversions  []ConversionLines            `json:"conversions"`
	Progress     []customervalue.RuleProgress `json:"progress"`
	// ProgressSource says where the progress comes from: the running
	// workflow, or its last saved snapshot.
	ProgressSource string `json:"progress_source,omitempty"`
	// Rules are the active rules the progress is of, by id, so a reader
	// can show each condition's target beside its value.
	Rules map[int64]customervalue.Rule `json:"-"`
}

// CustomerEvents builds the report of the customer (advertiserID, userID)
// at now; a customer without conversions is NotFound.
func (s *Service) CustomerEvents(ctx context.Context, advertiserID int64, userID string, now time.Time) (CustomerEvents, error) {
	rep := CustomerEvents{AdvertiserID: advertiserID, UserID: userID, WorkflowID: workflows.CustomerWorkflowID(advertiserID, userID),
		Conversions: []ConversionLines{}, Progress: []customervalue.RuleProgress{}, Rules: map[int64]customervalue.Rule{}}
	cs, err := s.store.CustomerConversions(ctx, advertiserID, userID)
	if err != nil {
		return rep, err
	}
	if len(cs) == 0 {
		return rep, store.NotFound("customer", fmt.Sprintf("%d/%s", advertiserID, userID))
	}
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	lines, err := s.store.LinesOf(ctx, ids)
	if err != nil {
		return rep, err
	}
	for _, c := range cs {
		ls := lines[c.ID]
		if ls == nil {
			ls = []store.LedgerLine{}
		}
		rep.Conversions = append(rep.Conversions, ConversionLines{Conversion: c, Lines: ls})
	}

	state, source, err := s.customerState(ctx, advertiserID, userID)
	if err != nil || state == nil {
		return rep, err
	}
	rules, err := s.store.ActiveCustomerValueRules(ctx)
	if err != nil {
		return rep, err
	}
	loc, err := s.store.NetworkTimeZone(ctx)
	if err != nil {
		return rep, err
	}
	for _, r := range rules {
		rep.Rules[r.ID] = r
	}
	rep.Progress = state.Value.Progress(rules, now, loc)
	rep.ProgressSource = source
	return rep, nil
}

// customerState asks the customer's workflow for its state, or reads the
// snapshot when the workflow does not answer.
func (s *Service) customerState(ctx context.Context, advertiserID int64, userID string) (*workflows.CustomerState, string, error) {
	if s.temporal != nil {
		v, err := s.temporal.QueryWorkflow(ctx, workflows.CustomerWorkflowID(advertiserID, userID), "", workflows.QueryState)
		if err == nil {
			var st workflows.CustomerState
			if err := v.Get(&st); err == nil {
				return &st, "workflow", nil
			}
		}
	}
	raw, err := s.store.CustomerSnapshot(ctx, advertiserID, userID)
	if err != nil || raw == nil {
		return nil, "", err
	}
	var st workflows.CustomerState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, "", fmt.Errorf("decode customer snapshot: %w", err)
	}
	return &st, "snapshot", nil
}

// CustomerAdvertisers lists the advertisers that have a customer with this
// user_id.
func (s *Service) CustomerAdvertisers(ctx context.Context, userID string) ([]store.Advertiser, error) {
	return s.store.CustomerAdvertisers(ctx, userID)
}
