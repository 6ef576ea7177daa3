package api

import (
	"net/http"
	"strconv"

	"github.com/tierwise/tierwise/reports"
	"github.com/tierwise/tierwise/store"
)

// The partner's own data, for a partner key: its conversions, its
// earnings by month and its commission cycles (package reports, the
// partner's view). Every route reads the calling partner's data only;
// another partner's conversion is a 404.

func (s *Server) partnerConversions(w http.ResponseWriter, r *http.Request) {
	p, err := parsePage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	from, to, err := s.parseRange(r.Context(), q.Get("from"), q.Get("to"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.reports.PartnerConversions(r.Context(), partnerID(r), reports.PartnerConversionFilter{
		From: from, To: to, Status: q.Get("status"), After: p.After, Limit: p.Limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := list[reports.PartnerConversion]{Items: page.Items}
	if out.Items == nil {
		out.Items = []reports.PartnerConversion{}
	}
	if page.NextCursor != 0 {
		out.NextCursor = strconv.FormatInt(page.NextCursor, 10)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) partnerConversion(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.reports.PartnerConversion(r.Context(), partnerID(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) partnerEarnings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, to, err := s.parseRange(r.Context(), q.Get("from"), q.Get("to"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.reports.PartnerEarnings(r.Context(), partnerID(r), from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (s *Server) partnerCycles(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := defaultLimit
	var p store.Problems
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			p.Add("limit", "must be between 1 and %d", maxLimit)
		}
		limit = n
	}
	if v := q.Get("after"); v != "" {
		if _, err := reports.ParseCycleCursor(v); err != nil {
			p.Add("after", "must be a cursor from next_cursor")
		}
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.reports.PartnerCycles(r.Context(), partnerID(r), q.Get("after"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}
