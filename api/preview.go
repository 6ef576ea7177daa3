package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tierwise/tierwise/customervalue"
	"github.com/tierwise/tierwise/preview"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

// previewTimeout bounds one preview request; a client that goes away
// cancels it sooner.
const previewTimeout = 2 * time.Minute

// previewWindow is the range and bounds of a what-if preview, common to
// both kinds of rule.
type previewWindow struct {
	From           string `json:"from"` // a day YYYY-MM-DD in the network's zone or an RFC 3339 instant
	To             string `json:"to"`   // inclusive for a day; empty: now
	MaxConversions int    `json:"max_conversions"`
	Examples       int    `json:"examples"`
}

// valuePreviewBody is a Customer Value draft: a rule as the rule editor
// saves it, or the id of a saved rule (a paused one is previewed as if
// active), or both (the saved rule edited).
type valuePreviewBody struct {
	Rule       *customerValueRuleInput `json:"rule"`
	DataPoints []store.DataPointInput  `json:"data_points"`
	RuleID     int64                   `json:"rule_id"`
	previewWindow
}

// tieredPreviewBody is a Tiered Commissions draft, as valuePreviewBody.
type tieredPreviewBody struct {
	Rule   *tieredRuleInput `json:"rule"`
	RuleID int64            `json:"rule_id"`
	previewWindow
}

func (s *Server) previewRequest(ctx context.Context, w previewWindow) (preview.Request, error) {
	from, to, err := s.parseRange(ctx, w.From, w.To)
	if err != nil {
		return preview.Request{}, err
	}
	return preview.Request{From: from, To: to, MaxConversions: w.MaxConversions, Examples: w.Examples}, nil
}

// previewCustomerValueRule replays the stored conversions with a draft
// Customer Value rule and compares with the ledger (package preview).
func (s *Server) previewCustomerValueRule(w http.ResponseWriter, r *http.Request) {
	var body valuePreviewBody
	if err := decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewTimeout)
	defer cancel()
	req, err := s.previewRequest(ctx, body.previewWindow)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var rule customervalue.Rule
	switch {
	case body.Rule == nil && body.RuleID == 0:
		err = store.Invalid("rule", "is required: a draft rule, or the rule_id of a saved one")
	case body.Rule == nil:
		rule, err = s.savedValueRule(ctx, body.RuleID)
	default:
		active := true
		rule, err = s.store.ValidateCustomerValueRule(ctx, store.CustomerValueRuleInput{Rule: body.Rule.Rule, Active: &active, DataPoints: body.DataPoints})
		rule.ID = body.RuleID
		if err == nil && body.RuleID != 0 {
			// An edit of a saved rule: it must exist, as its creation time
			// decides the draft's priority.
			_, err = s.savedValueRule(ctx, body.RuleID)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Value = &rule
	s.runPreview(ctx, w, r, req)
}

// previewTieredRule replays the stored conversions with a draft Tiered
// Commissions rule and compares with the ledger (package preview).
func (s *Server) previewTieredRule(w http.ResponseWriter, r *http.Request) {
	var body tieredPreviewBody
	if err := decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), previewTimeout)
	defer cancel()
	req, err := s.previewRequest(ctx, body.previewWindow)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var rule tiered.Rule
	switch {
	case body.Rule == nil && body.RuleID == 0:
		err = store.Invalid("rule", "is required: a draft rule, or the rule_id of a saved one")
	case body.Rule == nil:
		rule, err = s.savedTieredRule(ctx, body.RuleID)
	default:
		rule = body.Rule.Rule
		rule.ID = body.RuleID
		err = prefixProblems(s.store.ValidateTieredRule(ctx, rule), "rule.")
		if err == nil && body.RuleID != 0 {
			// An edit of a saved rule: it must exist, as its creation time
			// decides the draft's priority.
			_, err = s.savedTieredRule(ctx, body.RuleID)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Tiered = &rule
	s.runPreview(ctx, w, r, req)
}

// draftTieredConflicts lists the active rules a draft rule would conflict
// with once saved, and which one wins (tiered.DraftConflicts).
func (s *Server) draftTieredConflicts(w http.ResponseWriter, r *http.Request) {
	var body tieredPreviewBody
	if err := decodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Rule == nil {
		s.writeError(w, r, store.Invalid("rule", "is required"))
		return
	}
	rule := body.Rule.Rule
	rule.ID = body.RuleID
	if err := prefixProblems(s.store.ValidateTieredRule(r.Context(), rule), "rule."); err != nil {
		s.writeError(w, r, err)
		return
	}
	if rule.ID != 0 {
		saved, err := s.savedTieredRule(r.Context(), rule.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		rule.CreatedAt = saved.CreatedAt
	}
	rules, err := s.store.TieredRules(r.Context(), true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offers, err := s.store.OfferAdvertisers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list[tiered.Conflict]{Items: append([]tiered.Conflict{}, tiered.DraftConflicts(rule, rules, offers)...)})
}

// savedValueRule is the saved Customer Value rule a preview names, or a
// 400 naming rule_id.
func (s *Server) savedValueRule(ctx context.Context, id int64) (customervalue.Rule, error) {
	rule, err := s.store.CustomerValueRule(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		err = store.Invalid("rule_id", "no customer value rule %d", id)
	}
	return rule, err
}

// savedTieredRule is the saved tiered rule a preview or a draft names, or a
// 400 naming rule_id.
func (s *Server) savedTieredRule(ctx context.Context, id int64) (tiered.Rule, error) {
	rule, err := s.store.TieredRule(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		err = store.Invalid("rule_id", "no tiered commission %d", id)
	}
	return rule, err
}

// runPreview runs a checked preview request and answers with its result.
func (s *Server) runPreview(ctx context.Context, w http.ResponseWriter, r *http.Request, req preview.Request) {
	res, err := s.previews.Run(ctx, req, nil)
	if err != nil {
		s.writeError(w, r, previewTooLong(r, err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// previewTooLong turns a preview stopped by previewTimeout, while its
// client still waits, into a 400 naming what bounds the work.
func previewTooLong(r *http.Request, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
		return store.Invalid("max_conversions", "the preview ran past its %s limit: narrow from and to, or lower max_conversions", previewTimeout)
	}
	return err
}

// prefixProblems names an invalid input's fields under prefix.
func prefixProblems(err error, prefix string) error {
	var invalid *store.InvalidError
	if !errors.As(err, &invalid) {
		return err
	}
	var p store.Problems
	for _, pr := range invalid.Problems {
		p.Add(prefix+pr.Field, "%s", pr.Message)
	}
	return p.Err()
}
