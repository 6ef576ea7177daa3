package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/preview"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

// The builders' what-if preview: the builder's form is read as a draft
// rule (checked by the store as saving it would be), a preview job starts
// in the background for the session (package preview), and the panel polls
// its progress with htmx until the result is in; without JavaScript the
// job has a page of its own that refreshes itself.

func (s *Server) previewRoutes(r chi.Router) {
	r.Post("/previews", s.startPreview)
	r.Get("/previews/{id}", s.previewJob)
	r.Post("/previews/{id}/cancel", s.cancelPreview)
}

// previewData is the preview panel's job, or the problems that kept one
// from starting.
type previewData struct {
	State    *preview.JobState
	Problems []store.Problem
	// Names are the partners of the result, by id; Headlines the result in
	// a sentence per currency.
	Names     map[int64]string
	Headlines []string
}

func (s *Server) startPreview(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	v := s.view(r, "What-if preview", "")
	req, err := s.previewDraft(r, f, v)
	var invalid *store.InvalidError
	switch {
	case errors.As(err, &invalid):
		s.previewAnswer(w, r, v, previewData{Problems: invalid.Problems}, http.StatusBadRequest)
		return
	case err != nil:
		s.errorPage(w, r, err)
		return
	}
	sess, _ := sessionOf(r)
	job := s.jobs.Start(strconv.FormatInt(sess.ID, 10), func(ctx context.Context, progress func(preview.Progress)) (preview.Result, error) {
		return s.previews.Run(ctx, req, progress)
	})
	s.logger.InfoContext(r.Context(), "console: preview started", "job", job.ID, "session_id", sess.ID)
	if r.Header.Get("HX-Request") == "" {
		http.Redirect(w, r, Path+"/previews/"+job.ID, http.StatusSeeOther)
		return
	}
	st := job.State()
	s.previewAnswer(w, r, v, previewData{State: &st}, http.StatusOK)
}

// previewDraft reads the builder's form as a preview request: the draft
// rule the form describes (an unsaved rule, or an edit of the saved rule
// rule_id), checked by the store, and the range to replay.
func (s *Server) previewDraft(r *http.Request, f *form, v *view) (preview.Request, error) {
	ctx := r.Context()
	var req preview.Request
	var p store.Problems
	from, to, err := reports.ParseRange(f.str("preview.from"), f.str("preview.to"), v.Loc)
	var invalid *store.InvalidError
	if errors.As(err, &invalid) {
		for _, pr := range invalid.Problems {
			p.Add("preview."+pr.Field, "%s", pr.Message)
		}
	}
	req.From, req.To = from, to
	if m := f.str("preview.max"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > preview.MaxConversions {
			p.Add("preview.max", "must be a whole number from 1 to %d", preview.MaxConversions)
		}
		req.MaxConversions = n
	}
	ruleID, _ := strconv.ParseInt(f.str("rule_id"), 10, 64)
	switch f.str("kind") {
	case "value":
		var rec *store.CustomerValueRuleRecord
		if ruleID > 0 {
			saved, err := s.store.CustomerValueRuleRecord(ctx, ruleID)
			if err != nil {
				return req, err
			}
			rec = &saved
		}
		b := readValueBuilder(f.values)
		if rec != nil && rec.GoalsLocked(s.now()) {
			_, b = s.readValueForm(r, rec, v.Loc)
		}
		in := b.input(f, v.Loc)
		active := true
		in.Active = &active
		rule, err := s.store.ValidateCustomerValueRule(ctx, in)
		if errors.As(err, &invalid) {
			p = append(p, invalid.Problems...)
		} else if err != nil {
			return req, err
		}
		rule.ID = ruleID
		req.Value = &rule
	case "tiered":
		b := readTieredBuilder(f.values)
		rule := b.rule(f)
		rule.ID = ruleID
		if err := s.store.ValidateTieredRule(ctx, rule); errors.As(err, &invalid) {
			p = append(p, invalid.Problems...)
		} else if err != nil {
			return req, err
		}
		req.Tiered = &rule
	default:
		p.Add("kind", "must be value or tiered")
	}
	p = append(f.problems, p...)
	return req, p.Err()
}

func (s *Server) previewJob(w http.ResponseWriter, r *http.Request) {
	job, ok := s.ownJob(r)
	if !ok {
		s.errorPage(w, r, store.NotFound("preview", chi.URLParam(r, "id")))
		return
	}
	st := job.State()
	s.previewAnswer(w, r, s.view(r, "What-if preview", ""), previewData{State: &st}, http.StatusOK)
}

func (s *Server) cancelPreview(w http.ResponseWriter, r *http.Request) {
	job, ok := s.ownJob(r)
	if !ok {
		s.errorPage(w, r, store.NotFound("preview", chi.URLParam(r, "id")))
		return
	}
	sess, _ := sessionOf(r)
	s.jobs.Cancel(strconv.FormatInt(sess.ID, 10), job.ID)
	st := job.Wait(r.Context())
	if r.Header.Get("HX-Request") == "" {
		http.Redirect(w, r, Path+"/previews/"+job.ID, http.StatusSeeOther)
		return
	}
	s.previewAnswer(w, r, s.view(r, "What-if preview", ""), previewData{State: &st}, http.StatusOK)
}

// ownJob is the session's job named in the path; another session's is not
// found.
func (s *Server) ownJob(r *http.Request) (*preview.Job, bool) {
	sess, _ := sessionOf(r)
	return s.jobs.Get(strconv.FormatInt(sess.ID, 10), chi.URLParam(r, "id"))
}

// previewAnswer renders the panel's fragment for htmx (always 200, so it
// swaps), else the preview's page.
func (s *Server) previewAnswer(w http.ResponseWriter, r *http.Request, v *view, d previewData, status int) {
	if d.State != nil && d.State.Done {
		d.Names = map[int64]string{}
		for _, p := range d.State.Result.Partners {
			d.Names[p.PartnerID] = p.PartnerName
		}
		for _, t := range d.State.Result.Totals {
			d.Headlines = append(d.Headlines, previewHeadline(d.State.Result, t, v))
		}
	} else if d.State != nil {
		v.Refresh = 1
	}
	v.Data = d
	if r.Header.Get("HX-Request") != "" {
		s.renderFragment(w, r, "preview", "preview-job", v)
		return
	}
	s.render(w, r, status, "preview", v)
}

// previewHeadline says the result in one sentence per currency: "If this
// rule had been live from 2026-03-01, over the 412 conversions since then,
// it would have paid $120.00 more ($4,000.00 instead of $3,880.00)."
func previewHeadline(res preview.Result, t preview.Total, v *view) string {
	var b strings.Builder
	fmt.Fprintf(&b, "If this rule had been live from %s, over the %d %s conversions since then, it would have paid ",
		v.Date(res.From), t.Conversions, t.Currency)
	switch {
	case t.Difference.IsPositive():
		fmt.Fprintf(&b, "%s more", reports.Money(t.Difference, t.Currency))
	case t.Difference.IsNegative():
		fmt.Fprintf(&b, "%s less", reports.Money(t.Difference.Neg(), t.Currency))
	default:
		b.WriteString("the same")
	}
	fmt.Fprintf(&b, " (%s instead of the %s in the ledger).", reports.Money(t.PreviewPayout, t.Currency), reports.Money(t.LedgerPayout, t.Currency))
	return b.String()
}
