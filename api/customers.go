package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/csvexport"
	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/workflows"
)

func (s *Server) customerRoutes(r chi.Router) {
	r.Get("/customers/{advertiser_id}/{user_id}/events", s.customerEvents)
	r.Get("/customers/{advertiser_id}/{user_id}/events.csv", s.customerEventsCSV)
}

// eventsReport is the Conversion Events Report of one customer: every
// conversion and event in time order with its data points, ledger lines and
// the rules applied, and the customer's progress on each rule.
type eventsReport struct {
	AdvertiserID int64                        `json:"advertiser_id"`
	UserID       string                       `json:"user_id"`
	WorkflowID   string                       `json:"workflow_id"`
	Conversions  []conversionView             `json:"conversions"`
	Progress     []customervalue.RuleProgress `json:"progress"`
	// ProgressSource says where the progress comes from: the running
	// workflow, or its last saved snapshot.
	ProgressSource string `json:"progress_source,omitempty"`
}

func (s *Server) eventsReport(r *http.Request) (eventsReport, error) {
	advertiserID, err := pathID(r, "advertiser_id")
	if err != nil {
		return eventsReport{}, err
	}
	userID, err := pathText(r, "user_id", limits.MaxUserIDLength)
	if err != nil {
		return eventsReport{}, err
	}
	rep := eventsReport{AdvertiserID: advertiserID, UserID: userID, WorkflowID: workflows.CustomerWorkflowID(advertiserID, userID),
		Conversions: []conversionView{}, Progress: []customervalue.RuleProgress{}}
	cs, err := s.store.CustomerConversions(r.Context(), advertiserID, userID)
	if err != nil {
		return rep, err
	}
	if len(cs) == 0 {
		return rep, store.NotFound("customer", fmt.Sprintf("%d/%s", advertiserID, userID))
	}
	for _, c := range cs {
		lines, err := s.store.Lines(r.Context(), c.ID)
		if err != nil {
			return rep, err
		}
		rep.Conversions = append(rep.Conversions, conversionView{Conversion: c, Lines: lines})
	}

	state, source, err := s.customerState(r, advertiserID, userID)
	if err != nil || state == nil {
		return rep, err
	}
	rules, err := s.store.ActiveCustomerValueRules(r.Context())
	if err != nil {
		return rep, err
	}
	loc, err := s.store.NetworkTimeZone(r.Context())
	if err != nil {
		return rep, err
	}
	rep.Progress = state.Value.Progress(rules, time.Now(), loc)
	rep.ProgressSource = source
	return rep, nil
}

// customerState asks the customer's workflow for its state, or reads the
// snapshot when the workflow does not answer.
func (s *Server) customerState(r *http.Request, advertiserID int64, userID string) (*workflows.CustomerState, string, error) {
	if s.temporal != nil {
		v, err := s.temporal.QueryWorkflow(r.Context(), workflows.CustomerWorkflowID(advertiserID, userID), "", workflows.QueryState)
		if err == nil {
			var st workflows.CustomerState
			if err := v.Get(&st); err == nil {
				return &st, "workflow", nil
			}
		}
	}
	raw, err := s.store.CustomerSnapshot(r.Context(), advertiserID, userID)
	if err != nil || raw == nil {
		return nil, "", err
	}
	var st workflows.CustomerState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, "", fmt.Errorf("decode customer snapshot: %w", err)
	}
	return &st, "snapshot", nil
}

func (s *Server) customerEvents(w http.ResponseWriter, r *http.Request) {
	rep, err := s.eventsReport(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// customerEventsCSV is the report's conversions as CSV, one row per
// conversion, with its data points and rules.
func (s *Server) customerEventsCSV(w http.ResponseWriter, r *http.Request) {
	rep, err := s.eventsReport(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="conversion-events.csv"`)
	cw := csvexport.NewWriter(w)
	_ = cw.Write([]string{"id", "occurred_at", "event", "offer_id", "partner_id", "status", "sale_amount", "payout", "revenue", "data_points", "rules"})
	for _, c := range rep.Conversions {
		keys := make([]string, 0, len(c.Data))
		for k := range c.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var data []string
		for _, k := range keys {
			data = append(data, fmt.Sprintf("%s=%v", k, c.Data[k]))
		}
		_ = cw.Write([]string{strconv.FormatInt(c.ID, 10), c.OccurredAt.Format(time.RFC3339), c.Event, strconv.FormatInt(c.OfferID, 10),
			strconv.FormatInt(c.PartnerID, 10), c.Status, c.SaleAmount.String(), c.Payout.String(), c.Revenue.String(),
			strings.Join(data, "; "), strings.Join(c.RuleNames(), "; ")})
	}
	_ = cw.Flush()
}
