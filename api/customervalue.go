package api

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/store"
)

// customerValueRoutes are the Customer Value rules (DESIGN §7).
func (s *Server) customerValueRoutes(r chi.Router) {
	r.Post("/customer-value-rules", s.createCustomerValueRule)
	r.Get("/customer-value-rules", s.listCustomerValueRules)
	r.Get("/customer-value-rules/{id}", s.getCustomerValueRule)
	r.Put("/customer-value-rules/{id}", s.replaceCustomerValueRule)
	r.Post("/customer-value-rules/{id}/pause", s.pauseCustomerValueRule)
	r.Post("/customer-value-rules/{id}/resume", s.resumeCustomerValueRule)
	r.Post("/customer-value-rules/preview", s.previewCustomerValueRule)
}

// customerValueRuleBody is what the rule editor saves: the rule, and the
// data points created from the editor, stored in the same transaction.
type customerValueRuleBody struct {
	Rule       customerValueRuleInput `json:"rule"`
	DataPoints []store.DataPointInput `json:"data_points"`
}

// customerValueRuleInput is a rule as clients send it. Active, when sent,
// sets the status (absent: active for a new rule, unchanged on a replace).
// The server's fields are accepted, so a rule read can be sent back, and
// ignored.
type customerValueRuleInput struct {
	customervalue.Rule
	Active    *bool `json:"active,omitempty"`
	ID        *any  `json:"id,omitempty"`
	CreatedAt *any  `json:"created_at,omitempty"`
	UpdatedAt *any  `json:"updated_at,omitempty"`
	Status    *any  `json:"status,omitempty"`
	Lifecycle *any  `json:"lifecycle,omitempty"`
	Locked    *any  `json:"goals_locked,omitempty"`
}

// customerValueRuleView is a rule as the API shows it: with its status, its
// lifecycle now, and the data points the request created.
type customerValueRuleView struct {
	store.CustomerValueRuleRecord
	Lifecycle         string            `json:"lifecycle"`
	GoalsLocked       bool              `json:"goals_locked"`
	CreatedDataPoints []store.DataPoint `json:"created_data_points,omitempty"`
}

func ruleView(r store.CustomerValueRuleRecord, now time.Time) customerValueRuleView {
	return customerValueRuleView{CustomerValueRuleRecord: r, Lifecycle: store.CustomerValueLifecycle(r.Rule, now), GoalsLocked: r.GoalsLocked(now)}
}

func decodeCustomerValueRule(r *http.Request) (store.CustomerValueRuleInput, error) {
	var body customerValueRuleBody
	if err := decodeJSON(r, &body); err != nil {
		return store.CustomerValueRuleInput{}, err
	}
	return store.CustomerValueRuleInput{Rule: body.Rule.Rule, Active: body.Rule.Active, DataPoints: body.DataPoints}, nil
}

func (s *Server) createCustomerValueRule(w http.ResponseWriter, r *http.Request) {
	in, err := decodeCustomerValueRule(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rule, created, err := s.store.CreateCustomerValueRule(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	view := ruleView(rule, time.Now())
	view.CreatedDataPoints = created
	writeJSON(w, http.StatusCreated, view)
}

func (s *Server) replaceCustomerValueRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	in, err := decodeCustomerValueRule(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := time.Now()
	rule, created, err := s.store.ReplaceCustomerValueRule(r.Context(), id, in, now)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	view := ruleView(rule, now)
	view.CreatedDataPoints = created
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) getCustomerValueRule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rule, err := s.store.CustomerValueRuleRecord(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ruleView(rule, time.Now()))
}

// listCustomerValueRules lists rules in id order, filtered by ?status=
// (active, paused) and ?lifecycle= (scheduled, running, paused, expired).
func (s *Server) listCustomerValueRules(w http.ResponseWriter, r *http.Request) {
	p, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	now := time.Now()
	q := r.URL.Query()
	rules, err := s.store.CustomerValueRules(r.Context(), store.CustomerValueRuleFilter{
		Status: q.Get("status"), Lifecycle: q.Get("lifecycle"), Now: now, Page: storePage(p),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	views := make([]customerValueRuleView, len(rules))
	for i, rule := range rules {
		views[i] = ruleView(rule, now)
	}
	writeJSON(w, http.StatusOK, newList(views, p, func(v customerValueRuleView) int64 { return v.ID }))
}

func (s *Server) pauseCustomerValueRule(w http.ResponseWriter, r *http.Request) {
	s.setCustomerValueStatus(w, r, s.store.PauseCustomerValueRule)
}

func (s *Server) resumeCustomerValueRule(w http.ResponseWriter, r *http.Request) {
	s.setCustomerValueStatus(w, r, s.store.ResumeCustomerValueRule)
}

func (s *Server) setCustomerValueStatus(w http.ResponseWriter, r *http.Request,
	set func(ctx context.Context, id int64, now time.Time) (store.CustomerValueRuleRecord, error)) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rule, err := set(r.Context(), id, time.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ruleView(rule, time.Now()))
}
