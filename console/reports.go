package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
	"github.com/tierwise/tierwise/tiered"
)

func (s *Server) reportRoutes(r chi.Router) {
	r.Get("/customers", s.customers)
	r.Get("/cycles", s.cycles)
	r.Get("/payout-runs", s.payoutRuns)
	r.Post("/payout-runs", s.createPayoutRun)
	r.Get("/payout-runs/{id}", s.payoutRun)
	r.Get("/payout-runs/{id}/export.csv", s.exportPayoutRun)
}

type cyclesData struct {
	Page     reports.CyclePage
	Rules    []tiered.Rule
	Partners []store.Partner
	Offers   []store.Offer
	Names    store.Names
	Currency map[int64]string // by offer
}

// cycles is the commission-cycle report: per rule × partner × offer ×
// period, the metrics, the band held, the way to the next band and the
// retroactive re-pricing.
func (s *Server) cycles(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := s.view(r, "Commission cycles", "cycles")
	q := r.URL.Query()
	v.Form = q
	f := reports.CycleFilter{After: q.Get("after"), Limit: pageSize}
	f.RuleID, _ = strconv.ParseInt(q.Get("rule_id"), 10, 64)
	f.PartnerID, _ = strconv.ParseInt(q.Get("partner_id"), 10, 64)
	f.OfferID, _ = strconv.ParseInt(q.Get("offer_id"), 10, 64)
	page, err := s.reports.CommissionCycles(ctx, f)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := cyclesData{Page: page}
	if d.Rules, err = s.store.TieredRules(ctx, false); err == nil {
		if d.Partners, err = s.store.Partners(ctx, store.PartnerFilter{Page: store.Page{Limit: listLimit}}); err == nil {
			d.Offers, err = s.store.Offers(ctx, store.OfferFilter{Page: store.Page{Limit: listLimit}})
		}
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d.Currency = map[int64]string{}
	for _, o := range d.Offers {
		d.Currency[o.ID] = o.Currency
	}
	var partners, offers []int64
	for _, row := range page.Rows {
		partners, offers = append(partners, row.PartnerID), append(offers, row.OfferID)
	}
	if d.Names, err = s.store.NamesOf(ctx, nil, offers, partners, nil); err != nil {
		s.errorPage(w, r, err)
		return
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "cycles", v)
}

type payoutRunsData struct {
	Runs     []store.PayoutRun
	Next     int64
	Partners []store.Partner
	Names    map[int64]string
	Today    string
}

func (s *Server) payoutRuns(w http.ResponseWriter, r *http.Request) {
	s.payoutRunsPage(w, r, http.StatusOK, s.view(r, "Payout runs", "payouts").withFlash(w, r))
}

func (s *Server) payoutRunsPage(w http.ResponseWriter, r *http.Request, status int, v *view) {
	runs, err := s.store.PayoutRuns(r.Context(), store.Page{After: after(r), Limit: pageSize + 1})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	partners, err := s.store.Partners(r.Context(), store.PartnerFilter{Page: store.Page{Limit: listLimit}})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := payoutRunsData{Partners: partners, Names: map[int64]string{}, Today: s.now().In(v.Loc).AddDate(0, 0, -1).Format("2006-01-02")}
	d.Runs, d.Next = cut(runs, func(run store.PayoutRun) int64 { return run.ID })
	for _, p := range partners {
		d.Names[p.ID] = p.Name
	}
	if v.Val("cutoff") == "" {
		v.Form.Set("cutoff", d.Today)
	}
	v.Data = d
	s.render(w, r, status, "payoutruns", v)
}

var payoutRunFields = []string{"cutoff", "partner_id"}

// createPayoutRun marks paid the unpaid payout lines up to the cutoff day,
// for one partner or all.
func (s *Server) createPayoutRun(w http.ResponseWriter, r *http.Request) {
	f := readForm(r)
	partner := f.optID("partner_id")
	cutoff := f.str("cutoff")
	err := f.err()
	var run store.PayoutRun
	if err == nil {
		run, err = s.store.CreatePayoutRun(r.Context(), partner, cutoff)
	}
	if err != nil {
		v := s.view(r, "Payout runs", "payouts")
		v.Form = f.values
		var invalid *store.InvalidError
		if errors.As(err, &invalid) {
			v.problems(invalid.Problems, payoutRunFields)
			s.payoutRunsPage(w, r, http.StatusBadRequest, v)
			return
		}
		if errors.Is(err, store.ErrNotFound) {
			v.Errors["partner_id"] = []string{"No such partner."}
			s.payoutRunsPage(w, r, http.StatusBadRequest, v)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/payout-runs/%d", run.ID), fmt.Sprintf("Payout run %d created: %d %s marked paid.", run.ID, run.LineCount, plural(run.LineCount, "line", "lines")))
}

type payoutRunData struct {
	Run   reports.PayoutRun
	Lines []store.PaidLine
	Next  int64
	Names store.Names
}

func (s *Server) payoutRun(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	run, err := s.reports.PayoutRun(r.Context(), id)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	lines, err := s.store.PayoutRunLines(r.Context(), id, store.Page{After: after(r), Limit: pageSize + 1})
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	d := payoutRunData{Run: run}
	d.Lines, d.Next = cut(lines, func(l store.PaidLine) int64 { return l.ID })
	var offers, partners []int64
	for _, l := range d.Lines {
		offers, partners = append(offers, l.OfferID), append(partners, l.PartnerID)
	}
	if d.Names, err = s.store.NamesOf(r.Context(), nil, offers, partners, nil); err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := s.view(r, fmt.Sprintf("Payout run %d", id), "payouts").withFlash(w, r)
	v.Data = d
	s.render(w, r, http.StatusOK, "payoutrun", v)
}

func (s *Server) exportPayoutRun(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if _, err := s.store.PayoutRun(r.Context(), id); err != nil {
		s.errorPage(w, r, err)
		return
	}
	loc, err := s.store.NetworkTimeZone(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="payout-run-%d.csv"`, id))
	w.Header().Set("Cache-Control", "no-store")
	if err := s.reports.ExportPayoutRun(r.Context(), w, id, loc); err != nil {
		s.logger.ErrorContext(r.Context(), "console: export payout run", "payout_run_id", id, "error", err)
	}
}
