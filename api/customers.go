package api

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tierwise/tierwise/csvexport"
	"github.com/tierwise/tierwise/limits"
	"github.com/tierwise/tierwise/reports"
)

func (s *Server) customerRoutes(r chi.Router) {
	r.Get("/customers/{advertiser_id}/{user_id}/events", s.customerEvents)
	r.Get("/customers/{advertiser_id}/{user_id}/events.csv", s.customerEventsCSV)
}

// eventsReport is the Conversion Events Report of the customer in the path.
func (s *Server) eventsReport(r *http.Request) (reports.CustomerEvents, error) {
	advertiserID, err := pathID(r, "advertiser_id")
	if err != nil {
		return reports.CustomerEvents{}, err
	}
	userID, err := pathText(r, "user_id", limits.MaxUserIDLength)
	if err != nil {
		return reports.CustomerEvents{}, err
	}
	return s.reports.CustomerEvents(r.Context(), advertiserID, userID, time.Now())
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
