package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/csvexport"
	"github.com/tierwise/tierwise/ingest"
	"github.com/tierwise/tierwise/metrics"
	"github.com/tierwise/tierwise/pricing"
	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

// ingestRoutes are the advertisers' postback endpoints, authenticated by the
// advertiser's postback token.
func (s *Server) ingestRoutes(r chi.Router) {
	r.With(metrics.Postbacks).Get("/postback", s.postback)
	r.With(metrics.Postbacks).Post("/postback", s.postback)
}

// conversionRoutes are the admin routes of conversions, their lifecycle and
// payout runs.
func (s *Server) conversionRoutes(r chi.Router) {
	r.Get("/conversions", s.listConversions)
	r.Get("/conversions/export.csv", s.exportConversions)
	r.Get("/conversions/{id}", s.getConversion)
	r.Get("/conversions/{id}/explanation", s.explainConversion)
	r.Patch("/conversions/{id}", s.patchConversion)
	r.Post("/conversions/{id}/retry", s.retryConversion)
	r.Post("/refunds", s.refund)
	r.Post("/reversals", s.reversal)
	r.Post("/payout-runs", s.createPayoutRun)
}

// postback accepts a conversion. Parameters come from the query string or a
// form body; the token from ?token= (or verification_token) or an
// Authorization bearer header.
func (s *Server) postback(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPostbackBody)
	if err := r.ParseForm(); err != nil {
		s.writeError(w, r, store.Invalid("body", "not a valid form of at most %d bytes", maxPostbackBody))
		return
	}
	res, err := s.ingester.Accept(r.Context(), r.Form, bearer(r))
	if errors.Is(err, ingest.ErrBadToken) {
		s.writeError(w, r, fmt.Errorf("token: %w", errUnauthorized))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	metrics.PostbackAnswered(r.Context(), res.Duplicate, res.Status, res.Reason)
	writeJSON(w, http.StatusOK, res)
}

// maxPostbackBody bounds a postback's form body.
const maxPostbackBody = 64 << 10

// conversionView is a conversion with its ledger lines.
type conversionView struct {
	store.Conversion
	Lines []store.LedgerLine `json:"lines"`
}

func (s *Server) getConversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.conversionView(r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) conversionView(r *http.Request, id int64) (conversionView, error) {
	c, err := s.store.Conversion(r.Context(), id)
	if err != nil {
		return conversionView{}, err
	}
	lines, err := s.store.Lines(r.Context(), id)
	if err != nil {
		return conversionView{}, err
	}
	cs := []store.Conversion{c}
	if err := s.store.WithPending(r.Context(), cs); err != nil {
		return conversionView{}, err
	}
	return conversionView{Conversion: cs[0], Lines: lines}, nil
}

// explanation answers "why did this partner get this amount?".
type explanation struct {
	ConversionID int64              `json:"conversion_id"`
	Status       string             `json:"status"`
	Payout       decimal.Decimal    `json:"payout"`
	Revenue      decimal.Decimal    `json:"revenue"`
	Priced       bool               `json:"priced"`
	Pending      []string           `json:"pending"`
	Note         string             `json:"note,omitempty"`
	Pricing      *pricing.Record    `json:"pricing,omitempty"`
	Tiered       json.RawMessage    `json:"tiered,omitempty"` // the tiered commission's explanation
	Edits        []store.Edit       `json:"edits,omitempty"`  // manual edits: who, why, from and to
	Lines        []store.LedgerLine `json:"lines"`
}

func (s *Server) explainConversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.conversionView(r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	edits, err := s.store.Edits(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e := explanation{ConversionID: id, Status: v.Status, Payout: v.Payout, Revenue: v.Revenue, Priced: v.Priced, Pending: v.Pending,
		Tiered: v.Tiered, Edits: edits, Lines: v.Lines}
	switch {
	case v.Pricing != nil:
		e.Pricing = new(pricing.Record)
		if err := json.Unmarshal(v.Pricing, e.Pricing); err != nil {
			s.writeError(w, r, fmt.Errorf("decode pricing of conversion %d: %w", id, err))
			return
		}
	case v.Status == store.StatusPending:
		e.Note = "pending conversions are not priced until approved"
	case v.Status == store.StatusRejected:
		e.Note = "rejected (" + v.RejectionReason + "): rejected conversions are never priced"
	default:
		e.Note = "accepted and waiting to be priced"
	}
	writeJSON(w, http.StatusOK, e)
}

// patchInput is a status change, or a manual edit of the payout and/or
// revenue with its reason.
type patchInput struct {
	Status  string           `json:"status"`
	Payout  *decimal.Decimal `json:"payout"`
	Revenue *decimal.Decimal `json:"revenue"`
	Reason  string           `json:"reason"`
}

// patchConversion changes a conversion's status (an approval prices it as
// a new arrival) or edits its layer 1–3 payout and revenue.
func (s *Server) patchConversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in patchInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	edit := in.Payout != nil || in.Revenue != nil || in.Reason != ""
	switch {
	case edit && in.Status != "":
		s.writeError(w, r, store.Invalid("status", "change the status or edit the amounts, in two requests"))
		return
	case edit:
		c, err := s.lifecycle.Edit(r.Context(), id, store.EditInput{Payout: in.Payout, Revenue: in.Revenue, Reason: in.Reason, By: adminName(r)})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
		return
	}
	c, err := s.lifecycle.SetStatus(r.Context(), id, in.Status)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// retryConversion retries a stuck conversion's signal at once.
func (s *Server) retryConversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.lifecycle.RetryStuck(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.conversionView(r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, v)
}

// target names one conversion: by id, or by transaction id + event.
type target struct {
	ConversionID  int64  `json:"conversion_id"`
	TransactionID string `json:"transaction_id"`
	Event         string `json:"event"`
}

func (s *Server) resolve(r *http.Request, t target) (int64, error) {
	switch {
	case t.ConversionID != 0 && t.TransactionID != "":
		return 0, store.Invalid("conversion_id", "give conversion_id or transaction_id, not both")
	case t.ConversionID != 0:
		return t.ConversionID, nil
	case t.TransactionID != "":
		c, err := s.store.ConversionByTransaction(r.Context(), t.TransactionID, t.Event)
		return c.ID, err
	default:
		return 0, store.Invalid("conversion_id", "conversion_id, or transaction_id and event, is required")
	}
}

type refundInput struct {
	target
	store.RefundInput
}

// refund records a partial refund; the conversion is re-priced under its
// original decisions and the difference written as new lines.
func (s *Server) refund(w http.ResponseWriter, r *http.Request) {
	var in refundInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := s.resolve(r, in.target)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	_, refund, err := s.lifecycle.Refund(r.Context(), id, in.RefundInput)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.conversionView(r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"refund": refund, "conversion": v})
}

type reversalInput struct {
	target
	Note string `json:"note"`
}

// reversal reverses every line of one conversion.
func (s *Server) reversal(w http.ResponseWriter, r *http.Request) {
	var in reversalInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := s.resolve(r, in.target)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.lifecycle.Reverse(r.Context(), id, in.Note); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.conversionView(r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type payoutRunInput struct {
	PartnerID *int64 `json:"partner_id"`
	Cutoff    string `json:"cutoff"`
}

// createPayoutRun marks paid the unpaid payout lines up to a day.
func (s *Server) createPayoutRun(w http.ResponseWriter, r *http.Request) {
	var in payoutRunInput
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err := s.store.CreatePayoutRun(r.Context(), in.PartnerID, in.Cutoff)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	metrics.PayoutRunCreated(run.LineCount, run.Total)
	writeJSON(w, http.StatusCreated, run)
}

// conversionFilter reads the report's filters (reports.ParseConversionFilter)
// and the page from the query string.
func (s *Server) conversionFilter(r *http.Request) (store.ConversionFilter, error) {
	pg, err := parsePage(r)
	if err != nil {
		return store.ConversionFilter{}, err
	}
	loc, err := s.store.NetworkTimeZone(r.Context())
	if err != nil {
		return store.ConversionFilter{}, err
	}
	f, err := reports.ParseConversionFilter(r.URL.Query(), loc)
	f.After, f.Limit = pg.After, pg.Limit
	return f, err
}

func (s *Server) listConversions(w http.ResponseWriter, r *http.Request) {
	f, err := s.conversionFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := f.Limit
	f.Limit++
	cs, err := s.store.ListConversions(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.WithPending(r.Context(), cs); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(cs, page{Limit: limit}, func(c store.Conversion) int64 { return c.ID }))
}

var csvHeader = []string{"id", "occurred_at", "advertiser_id", "offer_id", "partner_id", "event", "user_id",
	"transaction_id", "order_id", "status", "rejection_reason", "currency", "sale_amount", "payout", "revenue", "reversed", "rules"}

// exportConversions streams the whole filtered report as CSV, page by page.
func (s *Server) exportConversions(w http.ResponseWriter, r *http.Request) {
	f, err := s.conversionFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.Limit = 1000
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="conversions.csv"`)
	cw := csvexport.NewWriter(w)
	_ = cw.Write(csvHeader)
	for {
		cs, err := s.store.ListConversions(r.Context(), f)
		if err != nil {
			// The header is sent: all that is left is to end the body short.
			s.logger.ErrorContext(r.Context(), "export conversions", "error", err)
			return
		}
		for _, c := range cs {
			_ = cw.Write([]string{strconv.FormatInt(c.ID, 10), c.OccurredAt.Format(time.RFC3339), strconv.FormatInt(c.AdvertiserID, 10),
				strconv.FormatInt(c.OfferID, 10), strconv.FormatInt(c.PartnerID, 10), c.Event, c.UserID, c.TransactionID, c.OrderID,
				c.Status, c.RejectionReason, c.Currency, c.SaleAmount.String(), c.Payout.String(), c.Revenue.String(), strconv.FormatBool(c.ReversedAt != nil),
				strings.Join(c.RuleNames(), "; ")})
		}
		if len(cs) < f.Limit {
			break
		}
		f.After = cs[len(cs)-1].ID
	}
	_ = cw.Flush()
}
