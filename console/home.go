package console

import (
	"net/http"
)

// home is the overview: today's and this month's conversions and money,
// the pricing pipeline and the latest band changes.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	o, err := s.reports.Overview(r.Context(), s.now())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	v := s.view(r, "Home", "home").withFlash(w, r)
	v.Data = o
	s.render(w, r, http.StatusOK, "home", v)
}
